"""What SECURITY.md promises, one test each: no request forgery, no path traversal, no
script injection, no update without the token, a constant-time token check, and CORS only
for the origins allowed.

Servers are real, on loopback. Requests that would fetch point at ``trap`` (conftest), a
listening socket that records any connection. SERVICE, FROM and protocol dataset IRIs over
HTTP are in tests/test_server.py; JSON-LD contexts, SERVICE and LOAD in files, names and
query texts are in the bad-input corpus (tests/test_bad_input.py).
"""

import hmac
import http.client
import json
import re
import urllib.parse
from pathlib import Path

import pytest
from conftest import run_cli, start_server

pytestmark = pytest.mark.slow  # real servers and the CLI

DATA = Path(__file__).parent / "data"
HOSTILE = (DATA / "hostile-label.ttl", DATA / "hostile-source.ttl")
TOKEN = "security-token-0123456789"
ALLOWED = "https://allowed.example"
# the payloads of hostile-label.ttl, hostile-source.ttl and the query echo, as markup
MARKUP = ["<img src=x", "<script>alert", "<svg onload", "<iframe srcdoc", "</table><script", "</pre><script",
          "</pre><img"]


def request(server, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def query(server, text, accept="application/sparql-results+json", headers=None):
    return request(server, "GET", "/sparql?query=" + urllib.parse.quote(text), headers={"Accept": accept, **(headers or {})})


@pytest.fixture(scope="module")
def hostile_kb(_private_cache):
    import medspa_graph

    return medspa_graph.load(*HOSTILE)


@pytest.fixture(scope="module")
def hostile_server(hostile_kb):
    """A server over the curated data plus hostile labels, sources and rules, with pictures,
    updates (with a token) and one allowed origin."""
    from medspa_graph.viz.network import http_pages

    srv = start_server(HOSTILE, update_token=TOKEN, cors_origins=[ALLOWED], pages=http_pages(lambda: hostile_kb))
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def default_server(_private_cache):
    """A server as ``medspa-graph serve`` starts by default: read-only, no CORS."""
    srv = start_server()
    yield srv
    srv.close()


def test_serve_defaults_are_loopback_read_only_and_no_cors():
    from medspa_graph.cli.main import build_parser

    args = build_parser().parse_args(["serve"])
    assert (args.host, args.allow_update, args.cors) == ("127.0.0.1", False, [])
    r = run_cli("serve", "--help")
    assert "MEDSPA_GRAPH_TOKEN" in r.stdout  # the token comes from the environment ...
    assert "--token" not in r.stdout  # ... never from the command line, where `ps` shows it


# -- server-side request forgery -----------------------------------------------------------

def test_owl_imports_are_never_followed_by_a_full_build(tmp_path, trap):
    data = tmp_path / "imports.ttl"
    data.write_text("@prefix owl: <http://www.w3.org/2002/07/owl#> .\n"
                    f"<https://w3id.org/medspa-graph/test/imports> a owl:Ontology ; owl:imports <{trap.url}/o.ttl> .\n")
    r = run_cli("build", "--out", tmp_path / "out", data, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "owl#imports" in (tmp_path / "out" / "medspa-graph.nt").read_text()  # kept as data, not followed
    assert trap.connections() == 0


def test_a_query_through_the_python_api_never_fetches(kb, trap):
    from medspa_graph.errors import QueryError

    for text in (f"SELECT * WHERE {{ SERVICE <{trap.url}/> {{ ?s ?p ?o }} }}",
                 f"PREFIX t: <{trap.url}/> SELECT * WHERE {{ ?s ?p ?o OPTIONAL {{ SeRvIcE t:x {{ ?s ?q ?r }} }} }}"):
        with pytest.raises(QueryError, match="SERVICE refused"):
            kb.query(text)
        with pytest.raises(QueryError, match="SERVICE refused"):
            kb.select(text)
    assert trap.connections() == 0


def test_an_update_with_the_token_still_cannot_load(hostile_server, trap):
    status, _, body = request(hostile_server, "POST", "/sparql", f"LOAD <{trap.url}/x.ttl> INTO GRAPH <urn:g>".encode(),
                              {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"})
    assert status == 400 and body == b"LOAD refused: medspa-graph never fetches documents\n"
    assert trap.connections() == 0


# -- path traversal --------------------------------------------------------------------------

TRAVERSALS = ["/../../../../etc/passwd", "/viz/../../../../etc/passwd", "/viz/..%2f..%2f..%2fetc%2fpasswd",
              "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/sparql/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/health/..;/..;/etc/passwd",
              "/..%5c..%5c..%5cetc%5cpasswd", "/..\\..\\..\\etc\\passwd", "/viz%00.html", "/viz/%00/../etc/passwd",
              "//etc/passwd", "/etc/passwd", "/lib/vis-9.1.2/vis-network.min.js", "/medspa_graph/serve/server.py",
              "/.git/config", "/%252e%252e/%252e%252e/etc/passwd", "/./health/../../etc/passwd"]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_route_serves_a_file_by_its_path(hostile_server, path):
    status, headers, body = request(hostile_server, "GET", path)
    assert status == 404, (status, body[:200])
    assert body.startswith(b"no such page: ") and body.count(b"\n") == 1
    assert b"root:" not in body and b"import " not in body and b"[core]" not in body


@pytest.mark.parametrize("params", ["focus=/etc/passwd", "focus=..%2F..%2Fetc%2Fpasswd", "jurisdiction=../US-CA.ttl",
                                    "chain=file:///etc/passwd&procedure=botox", "refer=%2Fetc%2Fshadow"])
def test_picture_parameters_are_names_not_paths(hostile_server, params):
    status, headers, body = request(hostile_server, "GET", "/viz?" + params)
    assert status == 400 and headers["Content-Type"].startswith("text/plain"), body[:200]
    assert b"root:" not in body and body.startswith(b"unknown ")


# -- script injection --------------------------------------------------------------------------

def _pages():
    term = urllib.parse.quote("<img src=x onerror=alert(1)>")
    labels = ("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX dct: <http://purl.org/dc/terms/> "
              "PREFIX ms: <https://w3id.org/medspa-graph/ontology#> PREFIX schema: <https://schema.org/> "
              "SELECT ?x ?text WHERE { { ?x rdfs:label ?text } UNION { ?x dct:title ?text } UNION "
              "{ ?x ms:conditions ?text } UNION { ?x schema:url ?text } FILTER(REGEX(STR(?text), \"[<']\")) }")
    describe = "DESCRIBE <https://w3id.org/medspa-graph/ontology#HostileProcedure> <https://w3id.org/medspa-graph/source/hostile-source>"
    echo = "# </pre><script>alert(8)</script>\nASK { ?s ?p '</pre><img src=x onerror=alert(9)>' }"
    return {
        "home": "/",
        "service description": "/sparql",
        "hostile labels as a table": "/sparql?query=" + urllib.parse.quote(labels),
        "hostile data as Turtle": "/sparql?query=" + urllib.parse.quote(describe),
        "query echo": "/sparql?query=" + urllib.parse.quote(echo),
        "picture around the hostile term": f"/viz?focus={term}&jurisdiction=US-FL",
        "picture of Florida": "/viz?jurisdiction=US-FL",
    }


PAGES = _pages()


def _start_tags(page: str):
    """How many of each element a browser's parser would open (script contents are not markup)."""
    from collections import Counter
    from html.parser import HTMLParser

    found = Counter()

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found[tag] += 1

    Parser().feed(page)
    return found


@pytest.mark.parametrize("name", PAGES)
def test_every_html_page_escapes_labels_sources_and_the_query(hostile_server, name):
    status, headers, body = request(hostile_server, "GET", PAGES[name], headers={"Accept": "text/html"})
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8", body[:300]
    assert headers["X-Content-Type-Options"] == "nosniff" and "default-src 'none'" in headers["Content-Security-Policy"]
    page = body.decode()
    assert [m for m in MARKUP if m in page] == []
    tags = _start_tags(page)
    assert tags["img"] == tags["svg"] == tags["iframe"] == tags["object"] == tags["embed"] == 0
    if name.startswith("picture"):
        assert tags["script"] == 3  # the graph data, vis-network, and ours: nothing else
        assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page and "\\u003c/script\\u003e" in page
    else:
        assert tags["script"] == 0
    if name in ("hostile labels as a table", "hostile data as Turtle"):
        assert "&lt;img src=x onerror=alert(1)&gt;" in page and "&lt;script&gt;alert(3)&lt;/script&gt;" in page
        assert "&#x27;onmouseover=&#x27;" in page and "'onmouseover='" not in page
    if name == "query echo":
        assert "# &lt;/pre&gt;&lt;script&gt;alert(8)&lt;/script&gt;" in page


def test_error_bodies_echoing_input_are_plain_text(hostile_server):
    for path in ("/viz?focus=%3Cscript%3Ealert(1)%3C/script%3E", "/%3Cscript%3E",
                 "/sparql?query=" + urllib.parse.quote("SELECT <script>alert(1)</script>")):
        status, headers, body = request(hostile_server, "GET", path, headers={"Accept": "text/html"})
        assert status in (400, 404)
        assert headers["Content-Type"] == "text/plain; charset=utf-8" and headers["X-Content-Type-Options"] == "nosniff"
        assert "Content-Security-Policy" not in headers or "default-src 'none'" in headers["Content-Security-Policy"]


# -- updates and the token -------------------------------------------------------------------

PROBE = "ASK { <urn:medspa-graph:test:a> <urn:medspa-graph:test:b> <urn:medspa-graph:test:c> }"
INSERT = "INSERT DATA { <urn:medspa-graph:test:a> <urn:medspa-graph:test:b> <urn:medspa-graph:test:c> }"


def _state(server):
    _, _, body = query(server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    n = int(json.loads(body)["results"]["bindings"][0]["n"]["value"])
    _, _, body = query(server, PROBE)
    return n, json.loads(body)["boolean"]


def test_a_read_only_server_refuses_every_update_and_keeps_its_graph(default_server):
    before = _state(default_server)
    for body, headers in [(INSERT.encode(), {"Content-Type": "application/sparql-update"}),
                          (INSERT.encode(), {"Content-Type": "application/sparql-update", "Authorization": f"Bearer {TOKEN}"}),
                          (b"update=" + urllib.parse.quote(INSERT).encode(), {"Content-Type": "application/x-www-form-urlencoded"}),
                          (b"CLEAR ALL", {"Content-Type": "application/sparql-update"})]:
        status, _, data = request(default_server, "POST", "/sparql", body, headers)
        assert status == 403 and data == b"updates are disabled: this server is read-only\n"
    assert _state(default_server) == before and before[1] is False


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x",
                                           f"Bearer {TOKEN.upper()}", f"Basic {TOKEN}", TOKEN, f"Bearer  {TOKEN[1:]}",
                                           f"Bearer {TOKEN}\u00e9".encode().decode("latin-1")])
def test_an_update_without_the_right_token_is_401_and_changes_nothing(hostile_server, authorization):
    before = _state(hostile_server)
    headers = {"Content-Type": "application/sparql-update"}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, hdrs, body = request(hostile_server, "POST", "/sparql", INSERT.encode(), headers)
    assert status == 401 and body == b"updates need a valid bearer token\n"
    assert hdrs["WWW-Authenticate"] == 'Bearer realm="medspa-graph"'
    status, _, _ = request(hostile_server, "POST", f"/sparql?access_token={TOKEN}",
                           b"update=" + urllib.parse.quote(INSERT).encode(),
                           {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 401  # a token in the URL is not a token
    assert _state(hostile_server) == before and before[1] is False


def test_the_token_is_compared_in_constant_time_and_then_works(monkeypatch):
    """The server compares the token with hmac.compare_digest (a spy records the call) and
    with nothing else; with the right token the update is applied."""
    import medspa_graph.serve.server as server_module

    calls, real = [], hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(server_module.hmac, "compare_digest", spy)
    srv = start_server(update_token=TOKEN)
    try:
        status, _, _ = request(srv, "POST", "/sparql", INSERT.encode(),
                               {"Content-Type": "application/sparql-update", "Authorization": "Bearer wrong-token"})
        assert status == 401 and calls == [(b"wrong-token", TOKEN.encode())]
        status, _, _ = request(srv, "POST", "/sparql", INSERT.encode(),
                               {"Content-Type": "application/sparql-update", "Authorization": f"bearer {TOKEN}"})
        assert status == 204 and calls[-1] == (TOKEN.encode(), TOKEN.encode()) and len(calls) == 2
        assert _state(srv)[1] is True
    finally:
        srv.close()
    source = Path(server_module.__file__).read_text()
    assert re.findall(r"update_token\s*(?:==|!=)|(?:==|!=)\s*self\.update_token", source) == []


def test_a_short_token_is_refused_at_start():
    from medspa_graph.kb import built_ntriples
    from medspa_graph.serve.server import SparqlServer

    with pytest.raises(ValueError, match="at least 16 characters"):
        SparqlServer("snapshot", built_ntriples()[0], update_token="short")


# -- cross-origin requests ------------------------------------------------------------------

CORS_HEADERS = ("Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
                "Access-Control-Allow-Credentials", "Access-Control-Max-Age")


def _cors(headers):
    return {k: v for k, v in headers.items() if k in CORS_HEADERS}


def test_without_cors_no_origin_gets_a_cors_header(default_server):
    for origin in (ALLOWED, "null", "http://127.0.0.1", "https://evil.example"):
        _, headers, _ = query(default_server, "ASK {}", headers={"Origin": origin})
        assert _cors(headers) == {}
        status, headers, _ = request(default_server, "OPTIONS", "/sparql",
                                     headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                              "Access-Control-Request-Headers": "authorization, content-type"})
        assert status == 204 and _cors(headers) == {}


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "https://allowed.example.evil.example",
                                    "https://evil.example/https://allowed.example", "HTTPS://ALLOWED.EXAMPLE",
                                    "http://allowed.example", "https://allowed.example:8443", "*"])
def test_with_cors_only_the_allowed_origin_gets_headers(hostile_server, origin):
    for method, path, body, headers in [("GET", "/sparql?query=ASK%7B%7D", None, {}),
                                        ("GET", "/nothing-here", None, {}),
                                        ("POST", "/sparql", INSERT.encode(), {"Content-Type": "application/sparql-update"}),
                                        ("OPTIONS", "/sparql", None, {"Access-Control-Request-Method": "POST"})]:
        _, hdrs, _ = request(hostile_server, method, path, body, {"Origin": origin, **headers})
        assert _cors(hdrs) == {}, (origin, method, path)


def test_with_cors_the_allowed_origin_is_echoed_never_a_wildcard(hostile_server):
    _, headers, _ = query(hostile_server, "ASK {}", headers={"Origin": ALLOWED})
    assert _cors(headers) == {"Access-Control-Allow-Origin": ALLOWED} and headers["Vary"] == "Origin"
    status, headers, _ = request(hostile_server, "OPTIONS", "/sparql",
                                 headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST",
                                          "Access-Control-Request-Headers": "authorization, content-type"})
    assert status == 204
    assert _cors(headers) == {"Access-Control-Allow-Origin": ALLOWED, "Access-Control-Allow-Methods": "GET, POST",
                              "Access-Control-Allow-Headers": "Content-Type, Accept, Authorization",
                              "Access-Control-Max-Age": "600"}  # and no Allow-Credentials: no cookies are used


# -- the request log -------------------------------------------------------------------------

def test_the_request_log_escapes_control_characters(capsys):
    """C0 controls, DEL and the C1 controls (one byte, \\x9b, is a terminal's CSI) are logged as escapes."""
    import socket

    srv = start_server(quiet=False)
    try:
        sock = socket.create_connection((srv.host, srv.port), timeout=30)
        sock.sendall(b"GET /\x1b[2J\x1b[31mforged\r\x9b2J\x85 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
        sock.close()
    finally:
        srv.close()
    err = capsys.readouterr().err
    line = next(ln for ln in err.splitlines() if "forged" in ln)
    assert "\x1b" not in err and "\r" not in line and "\\x1b[2J\\x1b[31mforged\\r\\x9b2J\\x85" in line
    assert "\x9b" not in err and "\x85" not in err
