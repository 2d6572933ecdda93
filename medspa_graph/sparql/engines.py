"""What differs between SPARQL servers, in one place: one adapter per engine.

medspa-graph speaks the standard protocols (SPARQL 1.1 Protocol, Graph Store
Protocol, SPARQL 1.1 Update) to every server. Where a server needs something
else (other URLs, another parameter name, another way to send a query or to
authenticate, results typed differently), the difference lives in its
:class:`Engine` here and nowhere else. ``--engine auto`` (the default) asks the
server once which engine it is, from its ``Server`` header.
"""

from __future__ import annotations

__all__ = ["Engine", "Oxigraph", "Virtuoso", "Fuseki", "ENGINES", "engine_named", "detect", "credentials"]

import hashlib
import os
import urllib.error
import urllib.request
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from medspa_graph.errors import EndpointError
from medspa_graph.sparql.client import Response, fetch

XSD = "http://www.w3.org/2001/XMLSchema#"


def credentials() -> tuple[str, str] | None:
    """``(user, password)`` from ``MEDSPA_GRAPH_ENDPOINT_USER``/``_PASSWORD``; never from files or flags."""
    user = os.environ.get("MEDSPA_GRAPH_ENDPOINT_USER")
    return (user, os.environ.get("MEDSPA_GRAPH_ENDPOINT_PASSWORD", "")) if user else None


def _sibling(url: str, name: str) -> str:
    parts = urlsplit(url)
    head = parts.path.rpartition("/")[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{head}/{name}", "", ""))


class Engine:
    """A SPARQL 1.1 server that needs nothing beyond the standards (the base of every adapter).

    Subclasses override what their engine does differently; every method here is
    what the standards say.
    """

    name = "sparql"
    title = "SPARQL server"
    #: URL layout: the query URL's last path segment -> (update, graph store) siblings.
    layout: dict = {"query": ("update", "store"), "sparql": ("update", "data")}
    #: the Graph Store Protocol parameter that names a graph
    graph_param = "graph"

    def __repr__(self) -> str:
        return f"<engine {self.name}>"

    # -- URLs --------------------------------------------------------------------

    def urls(self, query: str, update: str | None = None, store: str | None = None) -> tuple[str, str, str]:
        """The (query, update, graph store) URLs of the server whose query URL is ``query``."""
        last = urlsplit(query).path.rpartition("/")[2]
        guess = self.layout.get(last)
        if (update is None or store is None) and guess is None:
            raise EndpointError(f"cannot tell the update and graph-store URLs of {query} ({self.title}); "
                                "pass --update-endpoint and --store-endpoint")
        return query, update or _sibling(query, guess[0]), store or _sibling(query, guess[1])

    def gsp_url(self, store: str, graph: str) -> str:
        """The Graph Store Protocol URL of ``graph`` on the graph store ``store``."""
        return f"{store}{'&' if '?' in store else '?'}{self.graph_param}={quote(graph, safe='')}"

    # -- requests ----------------------------------------------------------------

    def query_request(self, url: str, sparql: str, graph: str | None, accept: str,
                      headers: dict) -> urllib.request.Request:
        """A SPARQL Protocol query request: POST ``application/sparql-query``, the graph as ``default-graph-uri``."""
        if graph:
            url += ("&" if "?" in url else "?") + "default-graph-uri=" + quote(graph, safe="")
        return urllib.request.Request(url, data=sparql.encode("utf-8"), method="POST", headers={
            "Content-Type": "application/sparql-query", "Accept": accept, **headers})

    def send(self, req: urllib.request.Request, timeout: float, name: str | None = None) -> Response:
        """Send ``req`` (authenticating as this engine expects) through :func:`medspa_graph.sparql.client.fetch`:
        the whole answer, whatever its status, within ``timeout`` seconds."""
        return fetch(req.get_method(), req.full_url, body=req.data, headers=dict(req.header_items()),
                     timeout=timeout, name=name)

    # -- answers -----------------------------------------------------------------

    def explain(self, message: str) -> str:
        """The engine's one-line error ``message``, with a hint when it names a known server setting."""
        return message

    def check(self, url: str, headers, rows: int) -> None:
        """Raise :class:`EndpointError` if the response says the answer is incomplete."""

    def normalise(self, doc: dict, sparql: str) -> dict:
        """SPARQL JSON results as the embedded store would give them (here: as they are)."""
        return doc

    rewrites_results = False  # serialize_query re-serialises SELECT/ASK results after normalise()


class Oxigraph(Engine):
    """``oxigraph serve``: ``/query``, ``/update``, ``/store``; the reference for answers."""

    name = "oxigraph"
    title = "Oxigraph server"
    layout = {"query": ("update", "store")}


class Fuseki(Engine):
    """Apache Jena Fuseki: ``/DATASET/sparql`` (or ``/query``), ``/DATASET/update``, ``/DATASET/data``."""

    name = "fuseki"
    title = "Apache Jena Fuseki"
    layout = {"sparql": ("update", "data"), "query": ("update", "data")}


class _DigestHandler(urllib.request.AbstractDigestAuthHandler):
    """urllib's Digest, hashing UTF-8 (RFC 7616's charset; urllib hashes ASCII only, so a
    password with an accent would fail) and knowing SHA-256 as well as MD5 and SHA."""

    def get_algorithm_impls(self, algorithm):
        hashes = {"MD5": hashlib.md5, "SHA": hashlib.sha1, "SHA-256": hashlib.sha256}
        if algorithm not in hashes:
            raise ValueError(f"unsupported digest algorithm {algorithm!r}")
        def h(text: str) -> str:
            return hashes[algorithm](text.encode()).hexdigest()

        return h, lambda secret, data: h(f"{secret}:{data}")


class _Digest:
    """HTTP Digest credentials for one server, reused across requests: the standard library's
    (:meth:`urllib.request.AbstractDigestAuthHandler.get_authorization`: RFC 7616, ``qop=auth``,
    the nonce count), answering the server's latest challenge.

    Only the header comes from urllib: the request goes through :func:`medspa_graph.sparql.client.fetch`
    (bounded in size and time, redirects within one origin), and the password manager holds the
    credentials for ``server`` (scheme://host:port) alone, so a request to another host gets none.

    >>> d = _Digest("http://host.example", 'Digest realm="testrealm@host.com", qop="auth,auth-int", '
    ...             'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    >>> d.handler.get_cnonce = lambda nonce: "0a4f113b"  # RFC 2617's example, section 3.5
    >>> req = urllib.request.Request("http://host.example/dir/index.html")
    >>> print(d.header(req, "Mufasa", "Circle Of Life"))  # doctest: +NORMALIZE_WHITESPACE
    Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
    uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1",
    opaque="5ccc069c403ebaf9f0171e9517f40e41", algorithm="MD5", qop=auth, nc=00000001, cnonce="0a4f113b"
    >>> d.header(urllib.request.Request("http://elsewhere.example/dir/index.html"), "Mufasa", "x") is None
    True
    """

    def __init__(self, server: str, challenge: str):
        from urllib.request import parse_http_list, parse_keqv_list

        self.server = server
        self.challenge = parse_keqv_list(filter(None, parse_http_list(challenge.partition(" ")[2])))
        self.handler = _DigestHandler(urllib.request.HTTPPasswordMgrWithDefaultRealm())

    def header(self, req: urllib.request.Request, user: str, password: str) -> str | None:
        """The ``Authorization`` value for ``req``; ``None`` if the challenge cannot be answered
        (no realm or nonce, an algorithm or qop urllib does not implement) or ``req`` is for another server."""
        self.handler.add_password(None, self.server, user, password)  # the environment's, as of now
        try:
            answer = self.handler.get_authorization(req, self.challenge)
        except (ValueError, urllib.error.URLError):
            return None
        return "Digest " + answer if answer else None


_digests: dict[str, _Digest] = {}  # server (scheme://host:port) -> its latest challenge


class Virtuoso(Engine):
    """OpenLink Virtuoso 7: one ``/sparql`` endpoint for queries and updates, GSP at ``/sparql-graph-crud``.

    Differences from the standards' defaults, each handled here:

    - queries are POSTed as an HTML form: Virtuoso 7.2 never answers a POST of
      ``application/sparql-query`` (the request hangs until the client gives up);
    - the Graph Store Protocol endpoint names its graph ``graph-uri``;
    - authenticated access goes through ``/sparql-auth`` and ``/sparql-graph-crud-auth``
      with HTTP Digest, not Basic;
    - results: boolean-valued expressions come back as ``xsd:integer`` 0/1 and stored
      booleans as ``"1"``/``"0"``; ``GROUP_CONCAT`` over nothing is ``""`` where the
      embedded store leaves the variable unbound; answers longer than the server's
      ``ResultSetMaxRows`` are cut, flagged only by an ``X-SPARQL-MaxRows`` header.
    """

    name = "virtuoso"
    title = "OpenLink Virtuoso"
    graph_param = "graph-uri"
    rewrites_results = True

    def urls(self, query, update=None, store=None):
        auth = urlsplit(query).path.endswith("-auth")
        return query, update or query, store or _sibling(query, "sparql-graph-crud-auth" if auth else "sparql-graph-crud")

    def query_request(self, url, sparql, graph, accept, headers):
        form = [("query", sparql)] + ([("default-graph-uri", graph)] if graph else [])
        return urllib.request.Request(url, data=urlencode(form).encode("ascii"), method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": accept, **headers})

    def send(self, req, timeout, name=None):
        who = credentials()
        if who is None:
            return super().send(req, timeout, name)
        req.remove_header("Authorization")  # never Basic: it would send the password in the clear
        parts = urlsplit(req.full_url)
        server = f"{parts.scheme}://{parts.netloc}"
        known = _digests.get(server)
        answer = known.header(req, *who) if known else None
        if answer:
            req.add_unredirected_header("Authorization", answer)
        resp = super().send(req, timeout, name)
        challenge = resp.headers.get("WWW-Authenticate", "") if resp.status == 401 else ""
        if not challenge.lower().startswith("digest"):
            return resp
        stale = answer is not None and "stale=\"true\"" in challenge.lower().replace(" ", "")
        if answer is not None and not stale:
            return resp  # our answer to a fresh challenge was refused: wrong credentials
        _digests[server] = digest = _Digest(server, challenge)
        answer = digest.header(req, *who)
        if answer is None:
            return resp  # a challenge urllib cannot answer: the 401 stands
        req.add_unredirected_header("Authorization", answer)
        return super().send(req, timeout, name)

    def explain(self, message):
        """Virtuoso's message, pointing at the ``virtuoso.ini`` setting behind it.

        >>> Virtuoso().explain("Virtuoso 42000 Error The estimated execution time 3249 (sec) exceeds the limit of 400 (sec).")
        'Virtuoso 42000 Error The estimated execution time 3249 (sec) exceeds the limit of 400 (sec). (set [SPARQL] MaxQueryCostEstimationTime = 0 in virtuoso.ini)'
        """
        if "estimated execution time" in message:
            return f"{message} (set [SPARQL] MaxQueryCostEstimationTime = 0 in virtuoso.ini)"
        if "log after image size" in message:
            return f"{message} ([Parameters] TransactionAfterImageLimit in virtuoso.ini, or push --in-place)"
        if "Transaction timed out" in message:
            return f"{message} ([SPARQL] MaxQueryExecutionTime in virtuoso.ini)"
        return message

    def check(self, url, headers, rows):
        limit = headers.get("X-SPARQL-MaxRows")
        if limit and limit.isdigit() and rows >= int(limit):
            raise EndpointError(f"{url} cut the answer at {limit} rows (Virtuoso's ResultSetMaxRows); "
                                "raise [SPARQL] ResultSetMaxRows in virtuoso.ini")

    def normalise(self, doc, sparql):
        if "results" not in doc:
            return {"head": {}, "boolean": doc.get("boolean")}
        kinds = _alias_kinds(sparql)
        rows = []
        for b in doc["results"]["bindings"]:
            row = {}
            for var, term in b.items():
                term = dict(term)
                if term.get("type") == "typed-literal":
                    term["type"] = "literal"
                dt, kind = term.get("datatype"), kinds.get(var)
                if dt == XSD + "boolean" or (kind in ("EXISTS", "NOT") and dt == XSD + "integer"):
                    term.update(datatype=XSD + "boolean",
                                value="true" if term["value"] in ("1", "true") else "false")
                if kind == "GROUP_CONCAT" and term["value"] == "" and "datatype" not in term:
                    continue
                row[var] = term
            rows.append(row)
        return {"head": {"vars": doc["head"].get("vars", [])}, "results": {"bindings": rows}}


def _alias_kinds(sparql: str) -> dict[str, str]:
    """Each ``(EXPR AS ?v)`` and ``BIND (EXPR AS ?v)``: ``v`` -> EXPR's first keyword, upper-case.

    >>> _alias_kinds('SELECT (GROUP_CONCAT(?x; separator=" ") AS ?xs) WHERE { BIND (EXISTS { ?a ?b ?c } AS ?e) }')
    {'xs': 'GROUP_CONCAT', 'e': 'EXISTS'}
    """
    from medspa_graph.sparql.text import tokens as lex

    tokens = list(lex(sparql))
    opens, kinds = [], {}
    for i, (kind, text) in enumerate(tokens):
        if text == "(":
            opens.append(i)
        elif text == ")" and opens:
            opens.pop()
        elif (kind == "word" and text.upper() == "AS" and opens and i + 1 < len(tokens)
              and tokens[i + 1][0] == "var"):
            first = tokens[opens[-1] + 1]
            kinds[tokens[i + 1][1][1:]] = first[1].upper() if first[0] == "word" else first[1]
    return kinds


ENGINES: dict[str, type[Engine]] = {"oxigraph": Oxigraph, "virtuoso": Virtuoso, "fuseki": Fuseki,
                                    "sparql": Engine}

_SERVER_HEADERS = (("virtuoso", "virtuoso"), ("oxigraph", "oxigraph"), ("fuseki", "fuseki"))
_detected: dict[str, Engine] = {}


def engine_named(name: str | Engine | None) -> Engine | None:
    """The adapter called ``name`` (``oxigraph``, ``virtuoso``, ``fuseki``, ``sparql``); ``None`` for auto.

    >>> engine_named("virtuoso").graph_param
    'graph-uri'
    """
    if name is None or isinstance(name, Engine):
        return name
    if name == "auto":
        return None
    if name not in ENGINES:
        raise EndpointError(f"unknown engine {name!r}; known: auto, {', '.join(ENGINES)}")
    return ENGINES[name]()


def detect(url: str, *, timeout: float = 30.0) -> Engine:
    """The engine behind the SPARQL endpoint ``url``, from its ``Server`` header (asked once per process).

    An unknown or hidden ``Server`` header gives the plain standards adapter, which
    guesses URLs from the path. Raises :class:`EndpointError` if nothing answers.
    """
    if url in _detected:
        return _detected[url]
    resp = fetch("GET", url + ("&" if "?" in url else "?") + "query=ASK%7B%7D",
                 headers={"Accept": "application/sparql-results+json"}, timeout=timeout,
                 name=f"SPARQL endpoint {url}")  # a 401 or 400 still says who is answering
    server = resp.headers.get("Server", "")
    name = next((n for key, n in _SERVER_HEADERS if key in server.lower()), "sparql")
    _detected[url] = engine = ENGINES[name]()
    return engine
