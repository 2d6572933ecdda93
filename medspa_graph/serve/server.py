"""``medspa-graph serve``: the knowledge graph over the SPARQL 1.1 Protocol, safely.

Routes
------
``/sparql``   SPARQL 1.1 Protocol: GET, POST form and POST direct bodies, content
              negotiation (SPARQL JSON, XML, CSV, TSV; Turtle, N-Triples, RDF/XML,
              JSON-LD; HTML for browsers). With no query, the service description.
``/health``   JSON: status, triples, workers.
``/store``    Graph Store Protocol reads: ``?default`` or ``?graph=IRI`` as Turtle, N-Triples, JSON-LD, RDF/XML.
``/``         a plain HTML query page; works offline, no scripts.
``/query``    YASGUI (vendored in ``static/``) on ``/sparql``, the named queries as examples; offline.

Safe by default: read-only; SERVICE, LOAD and dataset IRIs the store does not
hold are refused (400) before any engine sees them (see :mod:`.guard`); every
query runs in a worker process under a time limit (503 when passed) and a result
size limit (413); request bodies are capped (413); error bodies are one line of
text with no internal detail; no CORS header unless an origin is allowed; binds
127.0.0.1 unless told otherwise. Updates need ``allow_update`` and a bearer
token, compared in constant time.

Status codes: 200 answer, 204 update done, 400 bad or refused query, 401 missing
or wrong token, 403 updates disabled, 404 unknown path, 405 wrong method,
406 no acceptable result format, 411 POST without Content-Length, 413 body or
result too large, 414 URL too long, 415 unsupported media type, charset or
content coding, 431 header lines too long or too many, 500 internal error,
501 unknown method, 503 time limit passed, no worker free in time or too many open
connections, 505 an HTTP version other than 1.x. A connection that takes longer than
the idle timeout to send a whole request is closed.
"""

from __future__ import annotations

__all__ = ["SparqlServer", "serve"]

import errno
import hmac
import html
import http.client
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from medspa_graph.errors import HttpError, QueryError
from medspa_graph.serve.pool import QueryMemoryLimit, QueryTimeout, WorkerFailed, WorkerPool
from medspa_graph.sparql.guard import inspect
from medspa_graph.sparql.store import KB_GRAPH
from medspa_graph.utils.formats import by_media_type, media_types

#: What /sparql offers, in order of preference (the format registry's written formats).
RESULTS = media_types("results")
GRAPHS = media_types("graph")
HTML = "text/html"

#: Seconds a connection may take to deliver a whole request (line, headers and body), counted
#: from its opening or from the end of its previous answer: an idle keep-alive connection and a
#: client that trickles its request are both closed when it passes.
IDLE_TIMEOUT = 20.0


def _accept(header: str | None) -> list[tuple[str, float, int]]:
    """Parse an Accept header into (media type, q, position), best first."""
    out = []
    for pos, part in enumerate((header or "*/*").split(",")):
        fields = [f.strip() for f in part.split(";")]
        mt = fields[0].lower()
        if not mt:
            continue
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        known = by_media_type(mt)
        out.append((known.media_type if known else mt, q, pos))
    out.sort(key=lambda t: (-t[1], t[2]))
    return out


def negotiate(header: str | None, offered: list[str]) -> str | None:
    """The best of ``offered`` for an Accept header, or None (406).

    >>> negotiate("text/csv;q=0.5, application/sparql-results+xml", ["application/sparql-results+json", "application/sparql-results+xml", "text/csv"])
    'application/sparql-results+xml'
    >>> negotiate("text/*", ["text/turtle", "application/n-triples"])
    'text/turtle'
    >>> negotiate("image/png", ["text/turtle"]) is None
    True
    """
    for mt, q, _ in _accept(header):
        if q <= 0:
            continue
        if mt == "*/*":
            return offered[0]
        if mt.endswith("/*"):
            for o in offered:
                if o.startswith(mt[:-1]):
                    return o
        elif mt in offered:
            return mt
    return None


class SparqlServer:
    """A SPARQL 1.1 Protocol server over a :class:`~medspa_graph.serve.pool.WorkerPool`.

    ``kind``/``path`` name the dataset: ``("snapshot", FILE.nq)`` or ``("store", DIR)``.
    """

    def __init__(self, kind: str, path, *, host: str = "127.0.0.1", port: int = 0,
                 workers: int = 2, timeout: float = 10.0, max_result_bytes: int = 16 << 20,
                 max_body: int = 1 << 20, cors_origins=(), update_token: str | None = None,
                 title: str = "medspa-graph", pages=None, quiet: bool = False,
                 worker_memory: int | None = None, idle_timeout: float = IDLE_TIMEOUT,
                 max_connections: int | None = None):
        if update_token is not None and len(update_token) < 16:
            raise ValueError("the update token must be at least 16 characters")
        if not (idle_timeout > 0 and idle_timeout != float("inf")):
            raise ValueError("the idle timeout must be a positive finite number of seconds")
        self.idle_timeout = idle_timeout
        self.connections = _Connections(max_connections or default_max_connections(), idle_timeout)
        self.pool = WorkerPool(kind, path, size=workers, timeout=timeout, memory=worker_memory)
        self.worker_memory = worker_memory
        self.timeout = timeout
        self.max_result_bytes = max_result_bytes
        self.max_body = max_body
        self.cors_origins = set(cors_origins)
        self.update_token = update_token
        self.title = title
        self.pages = pages or {}
        self.quiet = quiet
        handler = type("Handler", (_Handler,), {"app": self, "timeout": idle_timeout})
        try:
            self.httpd = _HTTPServer((host, port), handler)
        except BaseException:  # the address cannot be bound: the workers must not outlive the error
            self.pool.close()
            raise
        self.httpd.connections = self.connections
        self.connections.start()
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> SparqlServer:
        """Serve in a background thread (for tests and notebooks)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def close(self) -> None:
        self.httpd.shutdown() if self._thread else None
        self.httpd.server_close()
        self.connections.stop()
        self.pool.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- the protocol -------------------------------------------------------

    def check_graphs(self, iris) -> None:
        for clause, iri in iris:
            if iri != "" and iri not in self.pool.graphs:
                raise HttpError(400, f"{clause} <{iri}> refused: the store holds no such graph, "
                                     "and this server never fetches remote graphs")

    def query(self, text: str, params: dict, accept: str | None) -> tuple[int, str, bytes]:
        try:
            info = inspect(text)
        except QueryError as e:
            raise HttpError(400, str(e)) from None
        default = params.get("default-graph-uri")
        named = params.get("named-graph-uri")
        alias = KB_GRAPH not in self.pool.graphs  # the graph `push` writes is this server's default graph
        if alias and default is not None:
            default = ["" if g == KB_GRAPH else g for g in default]
        if alias and info.graphs and all(g == ("FROM", KB_GRAPH) for g in info.graphs):
            if default is None:  # FROM <kb graph>: the default graph, as the protocol parameter would be
                default, named = [""], named or []
        else:
            self.check_graphs(info.graphs)
        self.check_graphs([("default-graph-uri", g) for g in default or []]
                          + [("named-graph-uri", g) for g in named or []])
        graph_form = info.form in ("CONSTRUCT", "DESCRIBE")
        offered = list(GRAPHS if graph_form else RESULTS)
        if info.form == "ASK":
            offered = offered[:2]
        chosen = negotiate(accept, offered + [HTML])
        if chosen is None:
            raise HttpError(406, "no acceptable format; offered: " + ", ".join(offered))
        wire = ("text/turtle" if graph_form else "application/sparql-results+json") if chosen == HTML else chosen
        request = {"op": "query", "query": text, "accept": wire, "max_bytes": self.max_result_bytes,
                   "base": self.url + "/sparql"}
        if default is not None or named is not None:
            request["default_graph"] = default or []
            request["named_graphs"] = named or []
        header, body = self._run(request)
        if chosen == HTML:
            return 200, "text/html; charset=utf-8", _html_results(self.title, text, info.form, body)
        charset = "; charset=utf-8" if chosen.startswith("text/") or chosen.endswith("json") else ""
        return 200, chosen + charset, body

    def graph_store(self, query_string: str, accept: str | None) -> tuple[int, str, bytes]:
        """A Graph Store Protocol read: ``GET /store?default`` or ``GET /store?graph=IRI``, as RDF.

        Read-only (other methods are 405), content-negotiated among the graph formats,
        under the same time, memory and size limits as ``/sparql``; an unknown graph is 404.
        The graph ``push`` writes (:data:`~medspa_graph.sparql.store.KB_GRAPH`) is this server's
        default graph.
        """
        params = _params(query_string)
        graphs = params.get("graph", [])
        if ("default" in params) == bool(graphs) or len(graphs) > 1:
            raise HttpError(400, "GET /store takes ?default or one ?graph=IRI")
        iri = graphs[0] if graphs else ""
        if iri == KB_GRAPH and KB_GRAPH not in self.pool.graphs:
            iri = ""
        elif iri and iri not in self.pool.graphs:
            raise HttpError(404, f"no graph <{iri[:200]}> in this store")
        chosen = negotiate(accept, list(GRAPHS))
        if chosen is None:
            raise HttpError(406, "no acceptable format; offered: " + ", ".join(GRAPHS))
        header, body = self._run({"op": "query", "query": "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }",
                                  "accept": chosen, "max_bytes": self.max_result_bytes,
                                  "default_graph": [iri], "named_graphs": []})
        charset = "; charset=utf-8" if chosen.startswith("text/") or chosen.endswith("json") else ""
        return 200, chosen + charset, body

    def update(self, text: str, params: dict, auth: str | None) -> tuple[int, str, bytes]:
        if self.update_token is None:
            raise HttpError(403, "updates are disabled: this server is read-only")
        token = auth[7:].strip() if auth and auth[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(token.encode(), self.update_token.encode()):
            raise HttpError(401, "updates need a valid bearer token",
                            {"WWW-Authenticate": 'Bearer realm="medspa-graph"'})
        if params.get("using-graph-uri") or params.get("using-named-graph-uri"):
            raise HttpError(400, "using-graph-uri and using-named-graph-uri are not supported; "
                                 "put USING clauses in the update")
        try:
            info = inspect(text, update=True)
        except QueryError as e:
            raise HttpError(400, str(e)) from None
        self.check_graphs([g for g in info.graphs if g[0] != "WITH"])
        self._pool("update", lambda: (self.pool.update(text, self.url + "/sparql"), b""),
                   "; nothing was changed")
        return 204, "", b""

    def _run(self, request: dict) -> tuple[dict, bytes]:
        return self._pool("query", lambda: self.pool.run(request), " (or no worker was free)")

    def _pool(self, what: str, call, note: str) -> tuple[dict, bytes]:
        """Run a pool call; time limit -> 503, worker failure -> 500 (logged, not shown), refusal -> its status."""
        self.connections.busy()  # the request arrived whole: the worker's time limit governs from here
        try:
            header, body = call()
        except QueryTimeout:
            raise HttpError(503, f"{what} passed the {self.timeout:g} s time limit{note}") from None
        except QueryMemoryLimit:
            from medspa_graph.sparql.sandbox import MEMORY_LIMIT

            limit = (self.worker_memory or MEMORY_LIMIT) >> 20
            raise HttpError(503, f"{what} passed the {limit} MiB memory limit of a worker; add LIMIT or narrow it"
                            + (note if what == "update" else "")) from None
        except WorkerFailed as e:
            print(f"medspa-graph serve: {what} failed: {e}", file=sys.stderr)
            raise HttpError(500, "internal error" + (note if what == "update" else "")) from None
        if not header.get("ok"):
            raise HttpError(header.get("status", 400), header.get("error", f"{what} failed"))
        return header, body

    def service_description(self, accept: str | None) -> tuple[int, str, bytes]:
        chosen = negotiate(accept, ["text/turtle", HTML, "application/n-triples"])
        if chosen is None:
            raise HttpError(406, "the service description is offered as text/turtle")
        endpoint = self.url + "/sparql"
        results = " , ".join(f"<http://www.w3.org/ns/formats/{f}>" for f in
                             ("SPARQL_Results_JSON", "SPARQL_Results_XML", "SPARQL_Results_CSV",
                              "SPARQL_Results_TSV", "Turtle", "N-Triples", "RDF_XML", "JSON-LD"))
        lang = "sd:SPARQL11Query" + (" , sd:SPARQL11Update" if self.update_token else "")
        ttl = f"""@prefix sd: <http://www.w3.org/ns/sparql-service-description#> .
@prefix void: <http://rdfs.org/ns/void#> .
@prefix dct: <http://purl.org/dc/terms/> .

[] a sd:Service ;
    dct:title "{self.title} SPARQL endpoint" ;
    sd:endpoint <{endpoint}> ;
    sd:supportedLanguage {lang} ;
    sd:resultFormat {results} ;
    sd:defaultDataset [ a sd:Dataset ;
        sd:defaultGraph [ a sd:Graph ; void:triples {self.pool.triples} ] ] .
"""
        if chosen == HTML:
            return 200, "text/html; charset=utf-8", _page(self.title, "Service description",
                                                          f"<pre>{html.escape(ttl)}</pre>")
        if chosen == "application/n-triples":
            import pyoxigraph as ox

            triples = ox.parse(ttl.encode(), format=ox.RdfFormat.TURTLE)
            return 200, chosen, ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES)
        return 200, "text/turtle; charset=utf-8", ttl.encode()

    def health(self) -> tuple[int, str, bytes]:
        doc = {"status": "ok", "triples": self.pool.triples, "graphs": len(self.pool.graphs),
               "workers": self.pool.size, "timeout_s": self.timeout, "fence": self.pool.fence,
               "read_only": self.update_token is None}
        return 200, "application/json", json.dumps(doc).encode()

    def home(self) -> tuple[int, str, bytes]:
        links = ""
        if "/viz" in self.pages:
            from medspa_graph.viz.network import EXAMPLES

            links = "".join(f'<li><a href="{html.escape(url)}">Picture: {html.escape(label)}</a></li>'
                            for label, url in EXAMPLES)
        body = f"""
<form method="get" action="sparql">
<p><label for="q">SPARQL query</label></p>
<textarea id="q" name="query" rows="14" cols="90">PREFIX ms: &lt;https://w3id.org/medspa-graph/ontology#&gt;
PREFIX rdfs: &lt;http://www.w3.org/2000/01/rdf-schema#&gt;
SELECT ?role ?label WHERE {{ ?role rdfs:subClassOf+ ms:Practitioner ; rdfs:label ?label }} ORDER BY ?label</textarea>
<p><button type="submit">Run</button> (results as a table; other tools get SPARQL JSON, XML, CSV or TSV
by their Accept header)</p>
</form>
<ul>
<li><a href="query">Query editor (YASGUI, works offline)</a></li>
<li><a href="sparql">Service description</a></li>
<li><a href="health">Health</a></li>
{links}
</ul>
<p>{self.pool.triples} triples. Read-only{'' if self.update_token is None else ' except for token-holding clients'}.
Not legal advice.</p>"""
        return 200, "text/html; charset=utf-8", _page(self.title, self.title, body)


    def query_page(self) -> tuple[int, str, bytes, dict]:
        """YASGUI on this server's /sparql, with the named queries as examples; nothing leaves the machine."""
        from medspa_graph.sparql.queries import named_queries

        examples = [{"name": q.name, "question": q.question, "sparql": q.sparql}
                    for q in sorted(named_queries().values(), key=lambda q: q.name)]
        data = json.dumps(examples).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}: SPARQL query</title>
<link rel="stylesheet" href="static/yasgui.min.css">
<style>body{{font-family:system-ui,sans-serif;margin:1em}} #example{{max-width:40em}}</style></head>
<body><h1>{html.escape(self.title)}: SPARQL query</h1>
<p><label for="example">Start from a named query:</label> <select id="example"><option value="">(choose)</option>
</select> &middot; <a href="./">plain page</a> &middot; not legal advice</p>
<div id="yasgui"></div>
<script type="application/json" id="examples">{data}</script>
<script src="static/yasgui.min.js"></script>
<script src="static/query-page.js"></script>
</body></html>
"""
        return 200, "text/html; charset=utf-8", page.encode(), {"Content-Security-Policy": QUERY_PAGE_CSP}

    def static(self, path: str) -> tuple[int, str, bytes, dict]:
        """One of the vendored files in :data:`STATIC` (an exact name, never a path from the request)."""
        from importlib.resources import files

        name, ctype = STATIC[path]
        data = files("medspa_graph").joinpath("static", *name.split("/")).read_bytes()
        return 200, ctype, data, {"Cache-Control": "max-age=86400"}


#: The files ``serve`` hands out under ``/static/``, by exact path: YASGUI (vendored, MIT) and its start-up.
STATIC = {
    "/static/yasgui.min.js": ("yasgui-4.6.2/yasgui.min.js", "text/javascript; charset=utf-8"),
    "/static/yasgui.min.css": ("yasgui-4.6.2/yasgui.min.css", "text/css; charset=utf-8"),
    "/static/yasgui-LICENSE.txt": ("yasgui-4.6.2/LICENSE.txt", "text/plain; charset=utf-8"),
    "/static/query-page.js": ("query-page.js", "text/javascript; charset=utf-8"),
}
#: The query page may run its own scripts and talk to this server, and nothing else.
QUERY_PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
                  "img-src 'self' data:; font-src 'self' data:; form-action 'self'; base-uri 'none'")


def default_max_connections() -> int:
    """Open connections served at once: half the process's descriptor limit, at most 512, so
    that descriptors stay free for the workers, the snapshot and a 503 to the next client."""
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return max(8, min(512, (soft if soft != resource.RLIM_INFINITY else 1024) // 2))


class _Connections:
    """The open connections, each with the time its current request began to arrive.

    A reaper thread shuts down (``SHUT_RDWR``) every connection whose request has not arrived
    whole within ``idle`` seconds: the handler's blocking read then ends at once, however slowly
    the client trickles bytes (a per-read socket timeout alone lets one byte every few seconds
    hold a thread for hours). A request that has reached a worker is ``busy``: the query's own
    time limit governs it. Past ``limit`` open connections, a new one is answered 503 and closed
    before it gets a thread.
    """

    def __init__(self, limit: int, idle: float):
        self.limit, self.idle = limit, idle
        self.lock = threading.Lock()
        self.open: dict = {}  # thread id -> [socket, since (monotonic) or None when busy]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._reap, name="medspa-graph-reaper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def full(self) -> bool:
        with self.lock:
            return len(self.open) >= self.limit

    def waiting(self, sock) -> None:
        """The current thread's connection waits for (the rest of) a request, from now."""
        with self.lock:
            self.open[threading.get_ident()] = [sock, time.monotonic()]

    def busy(self) -> None:
        with self.lock:
            entry = self.open.get(threading.get_ident())
            if entry:
                entry[1] = None

    def done(self) -> None:
        with self.lock:
            self.open.pop(threading.get_ident(), None)

    def _reap(self) -> None:
        step = min(1.0, self.idle / 4)
        while not self._stop.wait(step):
            now = time.monotonic()
            with self.lock:
                late = [sock for sock, since in self.open.values() if since is not None and now - since > self.idle]
            for sock in late:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 resets connections when 32 clients connect at once
    connections: _Connections | None = None

    def process_request(self, request, client_address):
        if self.connections is not None and self.connections.full():
            try:  # no thread for it: a one-line 503, sent without waiting, then closed
                request.setblocking(False)
                body = b"too many open connections; try again later\n"
                request.send(b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
                             b"Content-Type: text/plain; charset=utf-8\r\nContent-Length: "
                             + str(len(body)).encode() + b"\r\n\r\n" + body)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def get_request(self):
        try:
            return super().get_request()
        except OSError as e:
            # No descriptor free (EMFILE, ENFILE): the listening socket stays readable, and
            # retrying at once spins a core at 100% without accepting anything. Wait for
            # connections to close instead.
            if e.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(0.1)
            raise


#: All request header lines together (the request line apart): 64 KiB, like one long line.
MAX_HEADER_BYTES = 64 << 10
_LENGTH = re.compile(r"[0-9]{1,18}")
_NO_BODY = ("GET", "HEAD", "OPTIONS", "DELETE", "TRACE")


class _HeaderBudget:
    """The request's input while its headers are read: refuses the block once it passes
    :data:`MAX_HEADER_BYTES`, so 99 lines of 64 KiB never sit in memory (per connection)."""

    def __init__(self, fp):
        self.fp = fp
        self.left = MAX_HEADER_BYTES

    def readline(self, limit=-1):
        line = self.fp.readline(limit)
        self.left -= len(line)
        if self.left < 0 and len(line) <= 65536:  # a longer line is the standard 431 "Line too long"
            raise http.client.HTTPException(f"request headers over the {MAX_HEADER_BYTES}-byte limit")
        return line


def _page(title: str, heading: str, body: str) -> bytes:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:70em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.2em .5em;text-align:left}}
textarea{{font-family:monospace;width:100%}}</style></head>
<body><h1>{html.escape(heading)}</h1>{body}</body></html>
""".encode()


def _html_results(title: str, query: str, form: str, body: bytes) -> bytes:
    if form in ("CONSTRUCT", "DESCRIBE"):
        table = f"<pre>{html.escape(body.decode('utf-8', 'replace'))}</pre>"
    else:
        doc = json.loads(body)
        if "boolean" in doc:
            table = f"<p>{'true' if doc['boolean'] else 'false'}</p>"
        else:
            names = doc["head"]["vars"]
            rows = doc["results"]["bindings"]
            head = "".join(f"<th>{html.escape(n)}</th>" for n in names)
            cells = "".join(
                "<tr>" + "".join(f"<td>{html.escape(r.get(n, {}).get('value', ''))}</td>" for n in names) + "</tr>"
                for r in rows)
            table = f"<p>{len(rows)} row(s)</p><table><tr>{head}</tr>{cells}</table>"
    return _page(title, "Results", f'<pre>{html.escape(query)}</pre>{table}<p><a href="./">Back</a></p>')


def _params(query: str, what: str = "the URL query string") -> dict:
    """Decode ``a=1&b=2``; percent-escapes that do not decode as UTF-8 are a 400, not replaced."""
    try:
        return parse_qs(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise HttpError(400, f"{what} is not UTF-8") from None


def _media(header: str | None) -> tuple[str, str | None]:
    if not header:
        return "", None
    fields = [f.strip() for f in header.split(";")]
    charset = None
    for f in fields[1:]:
        k, _, v = f.partition("=")
        if k.strip().lower() == "charset":
            charset = v.strip().strip('"').lower()
    return fields[0].lower(), charset


class _Handler(BaseHTTPRequestHandler):
    app: SparqlServer
    protocol_version = "HTTP/1.1"
    server_version = "medspa-graph"
    sys_version = ""

    def version_string(self) -> str:
        return "medspa-graph"

    def setup(self) -> None:
        self.app.connections.waiting(self.request)
        super().setup()
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def handle_one_request(self) -> None:
        self.app.connections.waiting(self.request)  # the next request's time starts now
        super().handle_one_request()

    def finish(self) -> None:
        self.app.connections.done()
        super().finish()

    def log_message(self, format, *args):  # one line per request on stderr, no bodies
        if self.app.quiet:
            return
        # the request line is the client's text: escape control characters so it cannot
        # forge log lines or send escape sequences to the terminal reading the log
        from medspa_graph.utils.escaping import printable

        sys.stderr.write(f"{self.address_string()} {printable(format % args)}\n")

    # -- plumbing -------------------------------------------------------------

    def _send(self, status: int, ctype: str, body: bytes, headers: dict | None = None, head=False) -> None:
        self.send_response(status)
        if ctype:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if ctype.startswith("text/html") and "Content-Security-Policy" not in (headers or {}):
            self.send_header("Content-Security-Policy",
                             "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'")
        origin = self.headers.get("Origin")
        if origin and origin in self.app.cors_origins:
            self.send_header("Access-Control-Allow-Origin", origin)
            self.send_header("Vary", "Origin")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _error(self, e: HttpError, head=False) -> None:
        msg = e.message.replace("\r", " ").replace("\n", " ")[:1000]
        self._send(e.status, "text/plain; charset=utf-8", (msg + "\n").encode(), e.headers, head)

    def parse_request(self) -> bool:
        """The standard parse, with the header block under a byte budget, then strict framing
        (RFC 9112 section 6): a request whose body a proxy could delimit differently is refused
        (400) and its connection closed, so no byte of it is read as another request."""
        budget = _HeaderBudget(self.rfile)
        real, self.rfile = self.rfile, budget
        try:
            ok = super().parse_request()
        finally:
            self.rfile = real
        if not ok:
            return False
        lengths = [v.strip() for v in self.headers.get_all("Content-Length") or []]
        problem = None
        if self.headers.get_all("Transfer-Encoding") is not None and lengths:
            problem = "Transfer-Encoding and Content-Length together are refused"
        elif len(set(lengths)) > 1:
            problem = "conflicting Content-Length headers"
        elif lengths and not _LENGTH.fullmatch(lengths[0]):
            problem = f"bad Content-Length {lengths[0][:40]!r}"
        elif self.command in _NO_BODY and (self.headers.get_all("Transfer-Encoding") is not None
                                           or (lengths and int(lengths[0]) > 0)):
            problem = f"a {self.command} request must not carry a body"
        if problem:
            self.close_connection = True
            self._error(HttpError(400, problem), head=self.command == "HEAD")
            return False
        return True

    def send_error(self, code, message=None, explain=None):
        """The refusals http.server makes before a request reaches a route (a malformed request
        line, an unknown method, a line or header block too long, a bad HTTP version): one line
        of plain text like every other error, not the standard library's HTML page."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9":  # a line too garbled to say its version: answer with a status line
            self.request_version = "HTTP/1.0"
        short = self.responses.get(code, ("error",))[0]
        if code == 431 and explain and "byte limit" in explain:  # the header budget, said plainly
            message = explain
        text = (message or short).replace("\r", " ").replace("\n", " ")[:200]
        body = (text + "\n").encode("utf-8", "replace")
        self.send_response(code, short)
        self.send_header("Connection", "close")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 205, 304):
            self.wfile.write(body)

    def _dispatch(self, method: str) -> None:
        try:
            status, ctype, body, extra = self._route(method)
        except HttpError as e:
            self._error(e, head=method == "HEAD")
            return
        except Exception as e:  # never a traceback to the client
            print(f"medspa-graph serve: internal error: {type(e).__name__}: {e}", file=sys.stderr)
            self.close_connection = True
            self._error(HttpError(500, "internal error"), head=method == "HEAD")
            return
        self._send(status, ctype, body, extra, head=method == "HEAD")

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_OPTIONS(self):
        origin = self.headers.get("Origin")
        extra = {"Allow": "GET, HEAD, POST, OPTIONS"}
        if origin and origin in self.app.cors_origins:
            extra.update({"Access-Control-Allow-Methods": "GET, POST",
                          "Access-Control-Allow-Headers": "Content-Type, Accept, Authorization",
                          "Access-Control-Max-Age": "600"})
        self._send(204, "", b"", extra)

    def _not_allowed(self):
        self.close_connection = True
        self._error(HttpError(405, f"method {self.command} not allowed; use GET or POST",
                              {"Allow": "GET, HEAD, POST, OPTIONS"}))

    do_PUT = do_DELETE = do_PATCH = do_TRACE = do_CONNECT = _not_allowed

    def _body(self) -> bytes:
        coding = self.headers.get("Content-Encoding", "identity").strip().lower()
        if coding != "identity":
            self.close_connection = True
            raise HttpError(415, f"Content-Encoding {coding[:40]} not supported; send the body unencoded")
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise HttpError(411, "chunked bodies are not accepted; send Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise HttpError(411, "POST needs a Content-Length header")
        try:
            if not _LENGTH.fullmatch(length.strip()):  # int() takes "+6", "0_6", " 6 "
                raise ValueError
            n = int(length)
        except ValueError:
            self.close_connection = True
            raise HttpError(400, f"bad Content-Length {length!r}") from None
        if n > self.app.max_body:
            self.close_connection = True
            raise HttpError(413, f"request body of {n} bytes is over the {self.app.max_body}-byte limit")
        return self.rfile.read(n)

    # -- routes -------------------------------------------------------------

    def _route(self, method: str):
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        if path == "/sparql":
            return (*self._sparql(method, url.query), None)
        if method == "POST":
            raise HttpError(405, f"POST is not allowed on {path}", {"Allow": "GET, HEAD"})
        if path == "/":
            return (*self.app.home(), None)
        if path == "/health":
            return (*self.app.health(), None)
        if path == "/store":
            return (*self.app.graph_store(url.query, self.headers.get("Accept")), None)
        if path == "/query":
            return self.app.query_page()
        if path in STATIC:
            return self.app.static(path)
        if path in self.app.pages:
            _, make = self.app.pages[path]
            return make({k: v[-1] for k, v in _params(url.query).items()})
        raise HttpError(404, f"no such page: {path}")

    def _sparql(self, method: str, query_string: str):
        params = _params(query_string)
        text = None
        is_update = False
        if method == "POST":
            ctype, charset = _media(self.headers.get("Content-Type"))
            raw = self._body()
            if charset not in (None, "utf-8", "utf8"):
                raise HttpError(415, f"charset {charset} not supported; send UTF-8")
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise HttpError(415, "the request body is not UTF-8") from None
            if ctype == "application/x-www-form-urlencoded":
                form = _params(decoded, "the form body")
                for k, v in form.items():
                    params.setdefault(k, []).extend(v)
            elif ctype == "application/sparql-query":
                if "query" in params or "update" in params:
                    raise HttpError(400, "a direct POST must not also carry query= or update=")
                text = decoded
            elif ctype == "application/sparql-update":
                if "query" in params or "update" in params:
                    raise HttpError(400, "a direct POST must not also carry query= or update=")
                text, is_update = decoded, True
            elif not ctype:
                raise HttpError(415, "POST needs a Content-Type: application/sparql-query, "
                                     "application/sparql-update or application/x-www-form-urlencoded")
            else:
                raise HttpError(415, f"unsupported Content-Type {ctype}; use application/sparql-query, "
                                     "application/sparql-update or application/x-www-form-urlencoded")
        if text is None:
            queries, updates = params.get("query", []), params.get("update", [])
            if queries and updates:
                raise HttpError(400, "send either query= or update=, not both")
            if len(queries) > 1 or len(updates) > 1:
                raise HttpError(400, "exactly one query= (or update=) parameter is allowed")
            if updates:
                if method != "POST":
                    raise HttpError(405, "updates must be sent with POST", {"Allow": "POST"})
                text, is_update = updates[0], True
            elif queries:
                text = queries[0]
            else:
                if method == "POST":
                    raise HttpError(400, "no query= or update= in the request")
                return self.app.service_description(self.headers.get("Accept"))
        if not text.strip():
            raise HttpError(400, "the query is empty")
        if is_update:
            return self.app.update(text, params, self.headers.get("Authorization"))
        return self.app.query(text, params, self.headers.get("Accept"))


def serve(server: SparqlServer, *, announce=print) -> None:
    """Run ``server`` until interrupted, announcing its address first."""
    announce(f"medspa-graph: SPARQL endpoint at {server.url}/sparql (Ctrl-C to stop); "
             f"query workers fenced off the network by: {server.pool.fence}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.pool.close()
        server.httpd.server_close()
