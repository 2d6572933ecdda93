"""``medspa-graph serve``: safety refusals, limits, pages, and real SPARQL clients.

Every test talks to a real server on a loopback port. SSRF tests point SERVICE,
FROM and default-graph-uri at a listening socket of our own (``trap`` in conftest)
and check that the server never connects to it.
"""

import http.client
import json
import re
import socket
import threading
import time
import urllib.parse

import pytest
from conftest import start_server

pytestmark = pytest.mark.slow  # real servers and the CLI

ALLOWED_ORIGIN = "https://allowed.example"
TOKEN = "an-update-token-for-tests"


@pytest.fixture(scope="module")
def server(_private_cache):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.serve.server import SparqlServer

    source, _ = built_ntriples()
    srv = SparqlServer("snapshot", source, workers=2, timeout=3, max_result_bytes=200_000,
                       max_body=10_000, cors_origins=[ALLOWED_ORIGIN], quiet=True).start()
    yield srv
    srv.close()


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), data


def get_query(server, query, accept="application/sparql-results+json", extra=""):
    return request(server, "GET", "/sparql?query=" + urllib.parse.quote(query) + extra, headers={"Accept": accept})


# -- SSRF ------------------------------------------------------------------------

@pytest.mark.parametrize("template", [
    "SELECT * WHERE {{ SERVICE <{url}> {{ ?s ?p ?o }} }}",
    "select * where {{ service silent <{url}> {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
    "PREFIX t: <{url}> SELECT * WHERE {{ SERVICE t:x {{ ?s ?p ?o }} }}",
    "SELECT * WHERE {{ ?s ?p ?o OPTIONAL {{ SERVICE <{url}> {{ ?s ?q ?r }} }} }}",
    "SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }}",
    "SELECT * FROM NAMED <{url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    "ASK FROM <{url}> {{ }}",
])
def test_constructs_that_would_fetch_are_refused_and_nothing_is_fetched(server, trap, template):
    url = trap.url + "/"
    status, headers, body = get_query(server, template.format(url=url))
    assert status == 400, body
    assert re.search(rb"refused", body) and body.count(b"\n") == 1
    status, _, body = request(server, "POST", "/sparql", template.format(url=url).encode(),
                              {"Content-Type": "application/sparql-query"})
    assert status == 400
    assert trap.connections() == 0


def test_protocol_dataset_naming_a_remote_graph_is_refused(server, trap):
    url = trap.url + "/"
    status, _, body = get_query(server, "ASK { ?s ?p ?o }", extra="&default-graph-uri=" + urllib.parse.quote(url))
    assert status == 400 and b"never fetches remote graphs" in body
    status, _, body = get_query(server, "ASK { ?s ?p ?o }", extra="&named-graph-uri=" + urllib.parse.quote(url))
    assert status == 400
    assert trap.connections() == 0


def test_service_inside_strings_comments_and_names_is_not_a_keyword(server):
    q = 'PREFIX service: <urn:x:> SELECT ?service WHERE { BIND("SERVICE <http://x/>" AS ?service) } # SERVICE'
    status, _, body = get_query(server, q)
    assert status == 200, body
    assert json.loads(body)["results"]["bindings"][0]["service"]["value"] == "SERVICE <http://x/>"


def test_load_is_refused_even_as_an_update(server, trap, _private_cache):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.serve.server import SparqlServer

    load = f"LOAD <{trap.url}/x>".encode()
    status, _, body = request(server, "POST", "/sparql", load, {"Content-Type": "application/sparql-update"})
    assert status == 403 and b"read-only" in body  # read-only comes first: no update reaches the engine
    # with updates allowed and the right token, the update reaches the guard, which refuses LOAD
    source, _ = built_ntriples()
    with SparqlServer("snapshot", source, workers=1, timeout=10, update_token=TOKEN, quiet=True) as updatable:
        for text in (load, b"load silent <" + trap.url.encode() + b"/y> INTO GRAPH <urn:g>"):
            status, _, body = request(updatable, "POST", "/sparql", text,
                                      {"Content-Type": "application/sparql-update", "Authorization": "Bearer " + TOKEN})
            assert status == 400 and b"LOAD refused: medspa-graph never fetches documents" in body, body
    assert trap.connections() == 0


# -- limits --------------------------------------------------------------------

HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def test_query_time_limit_answers_503_and_the_server_recovers(server):
    status, _, body = get_query(server, HEAVY)
    assert status == 503 and b"time limit" in body
    status, _, body = get_query(server, "ASK { ?s ?p ?o }")
    assert status == 200 and json.loads(body)["boolean"] is True


def test_a_slow_query_does_not_block_other_clients(server):
    done = {}

    def slow():
        done["slow"] = get_query(server, HEAVY)[0]
        done["slow_at"] = time.monotonic()

    t = threading.Thread(target=slow)
    t.start()
    time.sleep(0.3)  # the slow query holds one worker now
    answers = [get_query(server, "SELECT (COUNT(*) AS ?n) { ?s ?p ?o }")[0] for _ in range(5)]
    fast_at = time.monotonic()
    t.join()
    assert answers == [200] * 5
    assert done["slow"] == 503 and fast_at < done["slow_at"]


def test_result_size_limit_answers_413(server):
    status, _, body = get_query(server, "SELECT * WHERE { ?s ?p ?o }")
    assert status == 413 and b"LIMIT" in body
    status, _, _ = get_query(server, "SELECT * WHERE { ?s ?p ?o } LIMIT 10")
    assert status == 200


def test_request_body_limit_answers_413_without_reading_it(server):
    big = b"ASK {} #" + b"x" * 20_000
    status, headers, body = request(server, "POST", "/sparql", big, {"Content-Type": "application/sparql-query"})
    assert status == 413 and b"10000-byte limit" in body


# -- protocol edges --------------------------------------------------------------

@pytest.mark.parametrize("method,path,body,headers,expected", [
    ("PUT", "/sparql?query=ASK%7B%7D", b"", {}, 405),
    ("DELETE", "/sparql", None, {}, 405),
    ("POST", "/sparql", b"ASK {}", {"Content-Type": "text/plain"}, 415),
    ("POST", "/sparql", b"ASK {}", {}, 415),
    ("POST", "/sparql", "ASK {}".encode("utf-16"), {"Content-Type": "application/sparql-query"}, 415),
    ("POST", "/sparql", b"query=ASK%7B%7D&query=ASK%7B%7D", {"Content-Type": "application/x-www-form-urlencoded"}, 400),
    ("GET", "/sparql?query=ASK%20%7B", None, {}, 400),
    ("GET", "/sparql?query=", None, {}, 400),
    ("GET", "/sparql?query=CLEAR%20ALL", None, {}, 400),
    ("GET", "/sparql?update=CLEAR%20ALL", None, {}, 405),
    ("GET", "/sparql?query=ASK%7B%7D", None, {"Accept": "image/png"}, 406),
    ("GET", "/../../etc/passwd", None, {}, 404),
    ("GET", "/nothing-here", None, {}, 404),
    ("POST", "/health", b"", {"Content-Type": "text/plain"}, 405),
])
def test_bad_requests_get_clear_one_line_errors(server, method, path, body, headers, expected):
    status, hdrs, data = request(server, method, path, body, headers)
    assert status == expected, data
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert b"Traceback" not in data and b"/work" not in data and b".py" not in data
    assert hdrs["Content-Type"].startswith("text/plain")


def test_content_negotiation_covers_every_result_format(server):
    q = ("SELECT ?code WHERE { ?j a <https://w3id.org/medspa-graph/ontology#Jurisdiction> ; "
         "<http://www.w3.org/2004/02/skos/core#notation> ?code } ORDER BY ?code LIMIT 3")
    for accept, ctype in [("application/sparql-results+json", "application/sparql-results+json"),
                          ("application/sparql-results+xml", "application/sparql-results+xml"),
                          ("text/csv", "text/csv"), ("text/tab-separated-values", "text/tab-separated-values"),
                          ("application/json", "application/sparql-results+json")]:
        status, headers, body = get_query(server, q, accept)
        assert status == 200 and headers["Content-Type"].startswith(ctype), (accept, headers)
        assert b"US" in body
    c = "CONSTRUCT { ?j a ?t } WHERE { ?j <http://www.w3.org/2004/02/skos/core#notation> 'US-CA' ; a ?t }"
    for accept in ("text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json"):
        status, headers, body = get_query(server, c, accept)
        assert status == 200 and headers["Content-Type"].startswith(accept), (accept, body[:200])
        from rdflib import Graph

        fmt = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml",
               "application/ld+json": "json-ld"}[accept]
        assert len(Graph().parse(data=body, format=fmt)) >= 1


def test_the_server_binds_loopback_and_hides_its_software_version(server):
    assert server.host == "127.0.0.1"
    _, headers, _ = request(server, "GET", "/health")
    assert headers["Server"] == "medspa-graph"


# -- pages -----------------------------------------------------------------------

def test_health_and_service_description(server, kb):
    status, headers, body = request(server, "GET", "/health")
    doc = json.loads(body)
    assert status == 200 and doc["status"] == "ok" and doc["triples"] == kb.count() and doc["read_only"]
    from rdflib import Graph, URIRef

    status, headers, body = request(server, "GET", "/sparql", headers={"Accept": "text/turtle"})
    sd = Graph().parse(data=body, format="turtle")
    SD = "http://www.w3.org/ns/sparql-service-description#"
    assert (None, URIRef(SD + "endpoint"), URIRef(server.url + "/sparql")) in sd
    assert (None, URIRef(SD + "supportedLanguage"), URIRef(SD + "SPARQL11Update")) not in sd


def test_the_html_page_works_without_scripts_and_escapes_results(server):
    status, headers, body = request(server, "GET", "/", headers={"Accept": "text/html"})
    assert status == 200 and b"<form" in body and b"<script" not in body
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert re.search(rb'(src|href)="(https?:)?//', body) is None  # nothing remote
    hostile = 'SELECT ?x WHERE { BIND("<img src=x onerror=alert(1)>" AS ?x) }'
    status, headers, body = get_query(server, hostile, accept="text/html")
    assert status == 200 and b"<img" not in body and b"&lt;img src=x onerror=alert(1)&gt;" in body


# -- real clients ----------------------------------------------------------------

WHO_CAN = """PREFIX ms: <https://w3id.org/medspa-graph/ontology#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT DISTINCT ?role ?label WHERE { ?r ms:procedure ?p ; ms:role ?role ; ms:jurisdiction ?j .
  ?j skos:notation "US-FL" . ?role rdfs:label ?label } ORDER BY ?label"""


def _embedded_rows(kb, query):
    return sorted(tuple(sorted((k, str(v)) for k, v in row.items())) for row in kb.select(query))


def test_sparqlwrapper_select_ask_and_construct(server, kb):
    from SPARQLWrapper import JSON, TURTLE, SPARQLWrapper

    sw = SPARQLWrapper(server.url + "/sparql")
    sw.setQuery(WHO_CAN)
    sw.setReturnFormat(JSON)
    doc = sw.query().convert()
    rows = sorted(tuple(sorted((k, v["value"]) for k, v in b.items())) for b in doc["results"]["bindings"])
    assert rows == _embedded_rows(kb, WHO_CAN) and len(rows) > 5

    sw.setQuery("ASK { ?s a <https://w3id.org/medspa-graph/ontology#ScopeRule> }")
    assert sw.query().convert()["boolean"] is True

    sw.setMethod("POST")
    sw.setQuery("CONSTRUCT { ?j ?p ?o } WHERE { ?j <http://www.w3.org/2004/02/skos/core#notation> 'US-TX' ; ?p ?o }")
    sw.setReturnFormat(TURTLE)
    from rdflib import Graph

    g = Graph().parse(data=sw.query().convert(), format="turtle")
    assert len(g) >= 3


def test_sparqlwrapper_sees_the_refusal(server):
    from SPARQLWrapper import JSON, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import QueryBadFormed

    sw = SPARQLWrapper(server.url + "/sparql")
    sw.setQuery("SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }")
    sw.setReturnFormat(JSON)
    with pytest.raises(QueryBadFormed, match="SERVICE refused"):
        sw.query()


def test_rdflib_sparqlstore_reads_the_server(server, kb):
    from rdflib import Graph
    from rdflib.plugins.stores.sparqlstore import SPARQLStore

    g = Graph(store=SPARQLStore(server.url + "/sparql", returnFormat="json"))
    rows = sorted(tuple(sorted((str(k), str(v)) for k, v in r.asdict().items())) for r in g.query(WHO_CAN))
    assert rows == _embedded_rows(kb, WHO_CAN)
    assert len(g) == kb.count()  # SPARQLStore counts with its own COUNT query


# -- the command -----------------------------------------------------------------

@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_serve_command_starts_answers_and_stops(tmp_path, sig):
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "medspa_graph", "serve", "--port", "0", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/sparql", line)
        assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
        conn = http.client.HTTPConnection("127.0.0.1", int(m.group(1)), timeout=30)
        conn.request("GET", "/sparql?query=" + urllib.parse.quote("ASK { ?s ?p ?o }"),
                     headers={"Accept": "application/sparql-results+json"})
        resp = conn.getresponse()
        assert resp.status == 200 and json.loads(resp.read())["boolean"] is True
    finally:
        os.killpg(proc.pid, getattr(signal, sig))  # to the server and its workers, as a terminal's Ctrl-C does
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0  # a clean stop, by Ctrl-C or by a service manager
    assert "Traceback" not in stderr, stderr


def test_allow_update_without_a_token_exits_2(cli, monkeypatch):
    monkeypatch.delenv("MEDSPA_GRAPH_TOKEN", raising=False)
    r = cli("serve", "--allow-update", "--port", "0")
    assert r.returncode == 2 and "MEDSPA_GRAPH_TOKEN" in r.stderr and "Traceback" not in r.stderr


def test_serve_when_the_snapshot_cannot_be_written_is_one_line_and_exit_2(monkeypatch, capsys):
    """With the cache unwritable, serve writes the graph to a scratch file; a full disk or an
    unwritable temporary folder there was a traceback (as root, TMPDIR falls back to /tmp, so
    the failure is made here rather than by the environment)."""
    import errno
    import tempfile

    import medspa_graph.kb
    from medspa_graph.cli.main import main

    monkeypatch.setattr(medspa_graph.kb, "built_ntriples", lambda *a, **k: (b"<urn:a> <urn:b> <urn:c> .\n", "k"))

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tempfile, "mkstemp", full)
    assert main(["serve", "--port", "0", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "cannot write: the server's snapshot: No space left on device" in err


def test_out_of_descriptors_the_server_waits_instead_of_spinning_and_answers_again(tmp_path):
    """With every descriptor taken by idle connections, accept() fails at once and the listening
    socket stays readable: the server spun a core at 100%. It must wait, and answer again once
    the connections close. (A bound on CPU seconds, not on wall time.)"""
    import os
    import socket
    import subprocess
    import sys

    from medspa_graph.kb import built_ntriples

    source, _ = built_ntriples()
    script = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (48, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))\n"
        "from medspa_graph.serve.server import SparqlServer\n"
        "s = SparqlServer('snapshot', sys.argv[1], workers=1, quiet=True)\n"
        "print(s.port, flush=True)\n"
        "s.serve_forever()\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(source)], stdout=subprocess.PIPE, text=True)
    held = []
    try:
        port = int(proc.stdout.readline())
        for _ in range(80):  # more than the server has descriptors
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(0.5)

        def cpu() -> float:
            fields = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before = cpu()
        time.sleep(3)
        used = cpu() - before
        assert used < 1.0, f"the server used {used:.1f} CPU seconds in 3 s while out of descriptors"
        for s in held:
            s.close()
        held.clear()
        deadline = time.monotonic() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/health")
                assert conn.getresponse().status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not answer again"
                time.sleep(0.5)
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(timeout=30)


def _closed_within(sock, seconds: float) -> bool:
    """Whether the server closes ``sock`` within ``seconds`` (reads until EOF or a reset)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_an_idle_connection_is_closed_after_the_idle_timeout():
    server = start_server(idle_timeout=1.0)
    try:
        idle = socket.create_connection((server.host, server.port), timeout=10)
        started = time.monotonic()
        assert _closed_within(idle, 10), "an idle connection stayed open"
        assert time.monotonic() - started < 5
        idle.close()
    finally:
        server.close()


def test_a_request_trickled_a_byte_at_a_time_is_cut_off_at_the_idle_timeout():
    """A per-read socket timeout alone lets a byte every 0.3 s hold the connection forever."""
    import select

    server = start_server(idle_timeout=1.5)
    try:
        s = socket.create_connection((server.host, server.port), timeout=10)
        started = time.monotonic()
        cut = False
        payload = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 1000
        for byte in payload:
            if time.monotonic() - started > 8:
                break
            try:
                s.send(bytes([byte]))
                if select.select([s], [], [], 0.3)[0] and not s.recv(4096):
                    cut = True
                    break
            except OSError:
                cut = True
                break
        assert cut, "a trickled request held its connection for 8 s past a 1.5 s idle timeout"
        assert time.monotonic() - started < 5
        s.close()
    finally:
        server.close()


def test_keep_alive_requests_within_the_idle_timeout_are_served_on_one_connection():
    server = start_server(idle_timeout=1.0)
    try:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
        for _ in range(3):
            conn.request("GET", "/health")
            r = conn.getresponse()
            r.read()
            assert r.status == 200
            time.sleep(0.5)
        conn.close()
    finally:
        server.close()


def test_past_the_connection_limit_a_new_client_gets_a_503_at_once_and_is_served_after_the_idle_ones_go():
    """1,100 idle connections against 1,024 descriptors stopped the server answering: with a
    cap, the next client gets a quick 503 instead of a hang, and once the idle connections pass
    the idle timeout (the attacker still holding its end) the server answers again."""
    server = start_server(idle_timeout=1.5, max_connections=4)
    held = []
    try:
        for _ in range(4):
            held.append(socket.create_connection((server.host, server.port), timeout=10))
        time.sleep(0.3)
        conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
        conn.request("GET", "/health")
        r = conn.getresponse()
        assert r.status == 503 and b"too many open connections" in r.read()
        conn.close()
        deadline = time.monotonic() + 10
        while True:
            conn = http.client.HTTPConnection(server.host, server.port, timeout=5)
            conn.request("GET", "/health")
            r = conn.getresponse()
            r.read()
            conn.close()
            if r.status == 200:
                break
            assert time.monotonic() < deadline, "the idle connections were never closed"
            time.sleep(0.3)
    finally:
        for s in held:
            s.close()
        server.close()


def test_serve_refuses_a_bad_idle_timeout_or_connection_limit_in_one_line(capsys):
    from medspa_graph.cli.main import main

    for argv, text in ((["--idle-timeout", "nan"], "--idle-timeout must be a positive number"),
                       (["--idle-timeout", "0"], "--idle-timeout must be a positive number"),
                       (["--max-connections", "0"], "--max-connections must be positive")):
        assert main(["serve", "--port", "0", "--quiet", *argv]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and text in err, err
