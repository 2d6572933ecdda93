"""The barrier that does not read SPARQL: the fence around every process that runs a query.

Each layer of :mod:`medspa_graph.sparql.fence` is tried alone in a forked child, then the whole
path is tried with the guard switched off (monkeypatched to accept everything), as if a
query had got past it: the Python API, the CLI's in-process path and a real server must
still make no connection. The sandbox's limits (time, memory, a crash, Ctrl-C) are
tried on real queries and real signals.
"""

import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import start_server

pytestmark = [pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fence is Linux-only"),
              pytest.mark.slow]  # forked children, real signals, a real server

DATA = Path(__file__).parent / "data"


def in_child(fn) -> dict:
    """Run ``fn()`` in a forked child; return the dict it returns (sent back as JSON)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = fn()
        except BaseException as e:  # noqa: BLE001
            out = {"error": f"{type(e).__name__}: {e}"}
        os.write(w, json.dumps(out).encode())
        os._exit(0)
    os.close(w)
    data = b""
    while chunk := os.read(r, 65536):
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data)


def _try_connect(url: str) -> str:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return "connected"
    except OSError as e:
        return f"refused: {e.errno}"


@pytest.mark.parametrize("layer", ["seccomp", "namespace"])
def test_each_layer_alone_keeps_a_process_off_the_network(layer, trap):
    from medspa_graph.sparql import fence

    def child():
        libc = fence._libc()
        ok = fence._seccomp(libc) if layer == "seccomp" else fence._unshare_network(libc)
        if not ok:
            return {"skip": f"{layer} not available here"}
        unix = socket.socket(socket.AF_UNIX)  # pipes and local sockets stay usable
        unix.close()
        return {"tcp": _try_connect(trap.url)}

    out = in_child(child)
    if "skip" in out:
        pytest.skip(out["skip"])
    assert out.get("tcp", "").startswith("refused"), out
    assert trap.connections() == 0


def test_install_reports_both_layers_on_this_machine():
    from medspa_graph.sparql import fence

    out = in_child(lambda: {"status": fence.install().describe()})
    assert out["status"] == "network namespace + seccomp socket filter", out


def test_the_fence_holds_when_a_query_gets_past_the_guard_in_the_python_api(kb, trap, monkeypatch):
    import medspa_graph.sparql.store as store
    from medspa_graph.errors import QueryError

    monkeypatch.setattr(store, "check_offline", lambda text: None)  # as if the guard had been fooled
    with pytest.raises(QueryError, match="tried to reach the network, and medspa-graph never fetches"):
        kb.query(f"SELECT * WHERE {{ SERVICE <{trap.url}/sparql> {{ ?s ?p ?o }} }}")
    assert trap.connections() == 0


def test_without_the_fence_the_same_query_would_connect(trap):
    """The control for the test above: the engine really does follow SERVICE when nothing stops it."""
    import pyoxigraph as ox

    out = in_child(lambda: {"error": str(list(ox.Store().query(
        f"SELECT * WHERE {{ SERVICE <{trap.url}/sparql> {{ ?s ?p ?o }} }}")))})
    assert out and trap.connections() >= 1


def test_the_fence_holds_when_a_query_gets_past_the_guard_in_the_server(trap, monkeypatch):
    import medspa_graph.serve.server as server
    from medspa_graph.sparql.guard import Inspection

    monkeypatch.setattr(server, "inspect", lambda text, update=False: Inspection("SELECT", False, []))
    srv = start_server()
    try:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        conn.request("POST", "/sparql", f"SELECT * WHERE {{ SERVICE <{trap.url}/x> {{ ?s ?p ?o }} }}",
                     {"Content-Type": "application/sparql-query"})
        resp = conn.getresponse()
        body = resp.read()
        health = json.loads(_get(srv, "/health"))
    finally:
        srv.close()
    assert resp.status == 403 and body == b"query refused: it tried to reach the network, and medspa-graph never fetches\n"
    assert health["fence"] == "network namespace + seccomp socket filter"
    assert trap.connections() == 0


def _get(srv, path) -> bytes:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    conn.request("GET", path)
    return conn.getresponse().read()


def test_a_query_error_is_a_400_not_a_500():
    srv = start_server()
    try:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        conn.request("POST", "/sparql", "SELECT * WHERE { ?s ?p ?o BIND(<urn:nope>(?o) AS ?x) } LIMIT 1",
                     {"Content-Type": "application/sparql-query"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        srv.close()
    assert resp.status == 400 and body == b"query failed: The custom function <urn:nope> is not supported\n"


def test_a_worker_past_its_memory_limit_is_a_503_and_the_server_goes_on():
    srv = start_server(worker_memory=256 << 20, timeout=60)
    try:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=90)
        conn.request("POST", "/sparql", (DATA / "rq-concat-doubling.rq").read_text(),
                     {"Content-Type": "application/sparql-query"})
        resp = conn.getresponse()
        body = resp.read()
        after = _get(srv, "/health")
    finally:
        srv.close()
    assert resp.status == 503 and b"256 MiB memory limit of a worker" in body, body
    assert json.loads(after)["status"] == "ok"


# -- the sandbox: the in-process path of kb.query and `medspa-graph query FILE` ---------------

def test_a_crash_in_the_engine_ends_the_child_not_the_caller():
    from medspa_graph.errors import QueryError
    from medspa_graph.sparql.sandbox import run_fenced

    with pytest.raises(QueryError, match=r"the query engine crashed on this query \(signal 11\)"):
        run_fenced(lambda: ctypes.string_at(0))  # a segmentation fault, as the engine's was
    assert run_fenced(lambda: b"still here") == b"still here"


def test_memory_past_the_limit_is_an_error_not_a_dead_process():
    import pyoxigraph as ox

    from medspa_graph.errors import QueryError
    from medspa_graph.sparql.sandbox import run_fenced

    q = (DATA / "rq-concat-doubling.rq").read_text()
    with pytest.raises(QueryError, match="query passed the memory limit of 256 MiB"):
        run_fenced(lambda: ox.Store().query(q).serialize(format=ox.QueryResultsFormat.JSON),
                   memory=256 << 20, timeout=120)


def test_a_query_past_the_time_limit_is_stopped(kb):
    from medspa_graph.errors import QueryError

    start = time.monotonic()
    with pytest.raises(QueryError, match="query passed the 1 s time limit"):
        kb.query("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", timeout=1)
    assert time.monotonic() - start < 30


def test_ctrl_c_stops_a_running_query_at_once(tmp_path):
    slow = tmp_path / "slow.rq"
    slow.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }\n")
    proc = subprocess.Popen([sys.executable, "-m", "medspa_graph", "query", str(slow), "--timeout", "600"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6)  # loaded and running
    assert proc.poll() is None, proc.communicate()
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 10
    assert "Traceback" not in err


def test_an_answer_through_the_fence_equals_the_answer_in_process(kb):
    text = ("PREFIX ms: <https://w3id.org/medspa-graph/ontology#> "
            "SELECT ?r ?j WHERE { ?r a ms:ScopeRule ; ms:jurisdiction ?j } ORDER BY ?r LIMIT 50")
    fenced = kb.query(text)
    inside = kb.store.select(text)
    assert fenced.to_dict("records") == inside and len(inside) == 50
