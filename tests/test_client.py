"""The bounded HTTP client (medspa_graph/sparql/client.py): the time limit covers the whole exchange."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from medspa_graph.sparql.client import NoAnswer, fetch


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"hello"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hello():
    httpd = HTTPServer(("127.0.0.1", 0), _Hello)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_a_name_is_looked_up_and_answered(hello):
    r = fetch("GET", f"http://localhost:{hello}/", timeout=10)
    assert (r.status, r.body) == (200, b"hello")


def test_a_host_name_lookup_that_hangs_counts_against_the_time_limit(hello, monkeypatch):
    """The C resolver takes no timeout: a lookup hanging for 5 s held a 1 s request for 5 s.
    (A resolver that hangs cannot be had offline; the lookup function is made to hang.)"""
    real = socket.getaddrinfo

    def hanging(*args, **kwargs):
        time.sleep(5)
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    started = time.monotonic()
    with pytest.raises(NoAnswer, match=r"within 1 s \(the host-name lookup did not finish\)"):
        fetch("GET", f"http://localhost:{hello}/", timeout=1)
    assert time.monotonic() - started < 3


def test_a_name_that_does_not_resolve_is_one_line():
    with pytest.raises(NoAnswer, match="cannot reach http://no-such-host.invalid/"):
        fetch("GET", "http://no-such-host.invalid/", timeout=10)
