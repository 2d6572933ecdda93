"""``medspa-graph push`` when the external server fails: killed, restarted, unreachable, slow.

A real ``oxigraph serve`` (``oxigraph_server`` in ``conftest.py``) sits behind a
loopback proxy of our own (:class:`FaultProxy`) that passes each request on, or
cuts it after a chosen byte, kills or restarts the server at a chosen request,
holds a request or its answer, or slows both. Push sends one request per
connection, in this order: count the target, PUT the staging graph, count it,
MOVE it onto the target, count the target again.

Whatever happens, the target graph afterwards is the old graph or the new one,
checked by fetching it back (Graph Store Protocol) and comparing with
``rdflib.compare.isomorphic`` and by its triple count; the command exits 3 with one
line saying what became of the target; and running it again completes the job.
"""

import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import rdflib
from rdflib.compare import isomorphic

from medspa_graph.sparql.remote import push, staging_graph
from medspa_graph.sparql.store import KB_GRAPH, EndpointStore

pytestmark = pytest.mark.slow  # real servers failing mid-push

OLD_LINES = 1000  # the "old" graph on the server: the first 1,000 triples of the built graph


# -- the proxy -------------------------------------------------------------------

@dataclass
class Request:
    """One HTTP request as the client sent it."""

    method: str
    path: str
    raw: bytes
    done: threading.Event = field(default_factory=threading.Event)  # set when the proxy is through with it

    def has(self, text: str) -> bool:
        return text.encode() in self.raw


@dataclass
class Fault:
    """What the proxy does with one request (all fields optional; none of them: pass it on)."""

    before: Callable | None = None  # run first (restart the server, say), then pass the request on
    cut_after: int | None = None  # pass on only this many bytes of the request, run `then`, hang up
    lose_answer: bool = False  # pass the request on, wait for the answer to begin, run `then`, hang up
    then: Callable | None = None
    hold: bool = False  # never pass it on; keep the client waiting until the proxy stops
    delay: float = 0.0  # wait this long before passing the request on, and before each chunk of the answer


class FaultProxy:
    """A loopback TCP proxy for one-request-per-connection HTTP (what urllib sends).

    Each request is read whole from the client; ``plan(request)`` returns a :class:`Fault`
    or None. ``upstream`` is the server's port, and can change while the proxy runs.
    """

    def __init__(self, upstream: int):
        self.upstream = upstream
        self.plan: Callable[[Request], Fault | None] = lambda request: None
        self.seen: list[Request] = []
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        for c in self._conns:
            try:
                c.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self._conns.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    @staticmethod
    def _read_request(client: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = client.recv(65536)
            if not chunk:
                return b""
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
        need = int(m.group(1)) if m else 0
        while len(body) < need:
            chunk = client.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    def _serve(self, client: socket.socket) -> None:
        up = request = None
        try:
            raw = self._read_request(client)
            if not raw:
                return
            method, path = raw.split(b" ", 2)[:2]
            request = Request(method.decode(), path.decode(), raw)
            self.seen.append(request)
            fault = self.plan(request) or Fault()
            if fault.hold:
                self._stop.wait()
                return
            if fault.before:
                fault.before()
            time.sleep(fault.delay)
            up = socket.create_connection(("127.0.0.1", self.upstream))
            self._conns.append(up)
            if fault.cut_after is not None:
                up.sendall(raw[:fault.cut_after])
                time.sleep(0.2)  # let the server take in what it was sent
                fault.then()
                return
            up.sendall(raw)
            if fault.lose_answer:
                up.recv(1)  # the server has done the work and begun to answer
                fault.then()
                return
            while chunk := up.recv(65536):
                time.sleep(fault.delay)
                client.sendall(chunk)
        except OSError:
            pass
        finally:
            if request is not None:
                request.done.set()
            for s in (client, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass


# -- fixtures and checks ---------------------------------------------------------

@pytest.fixture(scope="module")
def graphs(kb):
    """The old and the new graph: N-Triples bytes, triple counts and rdflib graphs."""
    from medspa_graph.kb import built_ntriples

    source, _ = built_ntriples()
    new = source.read_bytes() if hasattr(source, "read_bytes") else source
    old = b"".join(new.splitlines(keepends=True)[:OLD_LINES])
    out = {}
    for name, data in (("old", old), ("new", new)):
        g = rdflib.Graph().parse(data=data, format="nt")
        out[name] = {"nt": data, "count": len(g), "graph": g}
    assert out["new"]["count"] == kb.count() and out["old"]["count"] == OLD_LINES
    return out


@pytest.fixture
def rig(oxigraph_server, graphs):
    """A fresh oxigraph server holding the old graph, and a proxy in front of it."""
    server = oxigraph_server()
    push(graphs["old"]["nt"], graphs["old"]["count"], server.url + "/query")
    proxy = FaultProxy(server.port)
    yield server, proxy
    proxy.close()
    server.stop()


def target_is(url: str, graphs) -> str:
    """'old' or 'new': what the server holds in the target graph (anything else fails the test)."""
    with urllib.request.urlopen(f"{url}/store?graph={urllib.parse.quote(KB_GRAPH, safe='')}",
                                timeout=60) as resp:
        held = rdflib.Graph().parse(data=resp.read(), format="nt")
    count = int(EndpointStore(url + "/query", graph=None).select(
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{KB_GRAPH}> {{ ?s ?p ?o }} }}")[0]["n"])
    assert count == len(held)
    for name in ("old", "new"):
        if count == graphs[name]["count"] and isomorphic(held, graphs[name]["graph"]):
            return name
    pytest.fail(f"the target graph is neither the old nor the new one: {count} triples")


def named_graphs(url: str) -> set[str]:
    store = EndpointStore(url + "/query", graph=None)
    rows = store.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    return {str(r["g"]) for r in rows}


def assert_one_clear_line(r, *fragments):
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("medspa-graph: error: ")
    for f in fragments:
        assert f in r.stderr, r.stderr


def is_count(request: Request, graph: str) -> bool:
    return request.path.startswith("/query") and request.has("COUNT") and request.has(f"<{graph}>")


# -- the server dies in the middle of a push ---------------------------------------

STAGING = staging_graph(KB_GRAPH)


# stage: (which request, its occurrence, what the proxy does with it (given the request and a
#         function that kills the server), the target after a restart, what the message says)
KILLS = {
    "in the middle of the upload": (
        lambda r: r.method == "PUT", 1, lambda r, kill: Fault(cut_after=len(r.raw) // 2, then=kill),
        "old", "left unchanged"),
    "when the staging graph is counted": (
        lambda r: is_count(r, STAGING), 1, lambda r, kill: Fault(cut_after=0, then=kill),
        "old", "left unchanged"),
    "before the swap reaches it": (
        lambda r: r.has("MOVE"), 1, lambda r, kill: Fault(cut_after=0, then=kill),
        "old", "the old graph or the new one"),
    "after the swap, before it answers": (
        lambda r: r.has("MOVE"), 1, lambda r, kill: Fault(lose_answer=True, then=kill),
        "new", "the old graph or the new one"),
    "when the new graph is counted": (
        lambda r: is_count(r, KB_GRAPH), 2, lambda r, kill: Fault(cut_after=0, then=kill),
        "new", "was replaced but could not be counted again"),
}


@pytest.mark.parametrize("stage", list(KILLS))
def test_server_killed_during_push_leaves_old_or_new_and_a_rerun_completes(stage, rig, graphs, cli):
    server, proxy = rig
    which, nth, fault, expected, message = KILLS[stage]
    matched = []

    def plan(request):
        if which(request):
            matched.append(request)
            if len(matched) == nth:
                return fault(request, server.kill)
        return None

    proxy.plan = plan
    r = cli("push", "--endpoint", proxy.url + "/query")
    assert_one_clear_line(r, proxy.url, message)
    assert server.proc.poll() is not None, "the fault was never triggered"

    r = cli("push", "--endpoint", server.url + "/query")  # nothing listens there now
    assert_one_clear_line(r, f"cannot reach SPARQL endpoint {server.url}/query", "Connection refused")

    server.start()  # the same data folder, a new port
    assert target_is(server.url, graphs) == expected
    if stage == "when the staging graph is counted":
        assert STAGING in named_graphs(server.url)  # uploaded, and nobody left to drop it
    proxy.upstream, proxy.plan = server.port, lambda request: None
    r = cli("push", "--endpoint", proxy.url + "/query")
    assert r.returncode == 0, r.stderr
    assert f"pushed {graphs['new']['count']} triples" in r.stdout
    assert f"replacing {graphs[expected]['count']}" in r.stdout
    assert target_is(server.url, graphs) == "new"
    assert named_graphs(server.url) == {KB_GRAPH}  # no staging graph left, even one a dead server kept


# -- restarted between two steps ---------------------------------------------------------

@pytest.mark.parametrize("step", ["count staging", "swap"])
def test_server_restarted_between_steps_push_completes(step, rig, graphs, cli):
    server, proxy = rig
    which = (lambda r: is_count(r, STAGING)) if step == "count staging" else (lambda r: r.has("MOVE"))

    def restart():
        server.restart()
        proxy.upstream = server.port

    proxy.plan = lambda request: Fault(before=restart) if which(request) else None
    old_pid = server.proc.pid
    r = cli("push", "--endpoint", proxy.url + "/query")
    assert r.returncode == 0, r.stderr
    assert server.proc.pid != old_pid, "the server was never restarted"
    assert target_is(server.url, graphs) == "new"
    assert named_graphs(server.url) == {KB_GRAPH}


# -- unreachable ---------------------------------------------------------------------------

def test_nothing_listening_exits_3_naming_the_endpoint(cli, free_port):
    url = f"http://127.0.0.1:{free_port}/query"
    r = cli("push", "--endpoint", url)
    assert_one_clear_line(r, f"cannot reach SPARQL endpoint {url}", "Connection refused")


# -- slow ---------------------------------------------------------------------------------

def test_a_slow_server_push_completes(rig, graphs, cli):
    server, proxy = rig
    proxy.plan = lambda request: Fault(delay=0.3)  # every request and every chunk of every answer
    r = cli("push", "--endpoint", proxy.url + "/query", "--timeout", "60")
    assert r.returncode == 0, r.stderr
    # engine probe, count, the upload (a PUT, then a POST for each further piece of a large graph),
    # count, MOVE, count: all through the slow proxy
    steps = [(q.method, q.path.split("?")[0]) for q in proxy.seen]
    uploads = [s for s in steps if s[1] == "/store"]
    assert uploads and uploads[0][0] == "PUT" and all(m == "POST" for m, _ in uploads[1:])
    assert len(steps) == 5 + len(uploads) and steps[0] == ("GET", "/query") and steps[-2] == ("POST", "/update")
    assert target_is(server.url, graphs) == "new"


WAIT = 8  # push's --timeout here: a real upload takes about a second, on a busy machine a few

# step: (which request, held or answered late, target afterwards, message)
STALLS = {
    "upload held": (lambda r: r.method == "PUT", Fault(hold=True), "old", "left unchanged"),
    "swap held": (lambda r: r.has("MOVE"), Fault(hold=True), "old", "the old graph or the new one"),
    "swap answered late": (lambda r: r.has("MOVE"), Fault(delay=WAIT + 1), "new",
                           "the old graph or the new one"),
}


@pytest.mark.parametrize("step", list(STALLS))
def test_a_server_that_stops_answering_times_out_clearly_and_a_rerun_completes(step, rig, graphs, cli):
    server, proxy = rig
    which, fault, expected, message = STALLS[step]
    proxy.plan = lambda request: fault if which(request) else None
    r = cli("push", "--endpoint", proxy.url + "/query", "--timeout", str(WAIT))
    assert_one_clear_line(r, "no answer from", f"within {WAIT} s", message)
    if fault.delay:  # the late request reaches the server after push gave up on it
        assert all(request.done.wait(60) for request in proxy.seen if which(request))
    assert target_is(server.url, graphs) == expected
    proxy.plan = lambda request: None
    r = cli("push", "--endpoint", proxy.url + "/query", "--timeout", "60")
    assert r.returncode == 0, r.stderr
    assert target_is(server.url, graphs) == "new"
    assert named_graphs(server.url) == {KB_GRAPH}
