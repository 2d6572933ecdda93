"""One small store interface over an embedded Oxigraph store or a remote SPARQL endpoint.

Every question, named query and export goes through :class:`Store`, so the same
code answers from memory, from an Oxigraph database on disk, or from any SPARQL
1.1 server (Oxigraph, Fuseki, GraphDB, QLever, Virtuoso).
"""

from __future__ import annotations

__all__ = ["Store", "OxigraphStore", "EndpointStore", "QueryResult", "KB_GRAPH",
           "auth_headers", "unreachable", "rows_from_json", "count_of"]

import base64
import http.client
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from medspa_graph.errors import EndpointError, QueryError
from medspa_graph.sparql.guard import check_offline
from medspa_graph.sparql.text import BASE_IRI, IRI, QUERY_PREFIXES, UPDATE_WORDS, bind, declare_prefixes, query_form
from medspa_graph.utils.formats import media_type

XSD = "http://www.w3.org/2001/XMLSchema#"

#: The named graph ``push`` writes and ``--endpoint`` reads by default.
KB_GRAPH = "https://w3id.org/medspa-graph/graph/kb"


def auth_headers() -> dict:
    """Credentials for a remote endpoint, from the environment only (never files or flags).

    ``MEDSPA_GRAPH_ENDPOINT_TOKEN`` sends a bearer token; ``MEDSPA_GRAPH_ENDPOINT_USER``
    with ``MEDSPA_GRAPH_ENDPOINT_PASSWORD`` sends HTTP Basic credentials.
    """
    token = os.environ.get("MEDSPA_GRAPH_ENDPOINT_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = os.environ.get("MEDSPA_GRAPH_ENDPOINT_USER")
    if user:
        pair = f"{user}:{os.environ.get('MEDSPA_GRAPH_ENDPOINT_PASSWORD', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
    return {}


def unreachable(url: str, error: BaseException, timeout: float) -> str:
    """One line for a request that got no whole answer: refused, cut off, or timed out.

    >>> unreachable("http://127.0.0.1:9/query", TimeoutError("timed out"), 5)
    'no answer from http://127.0.0.1:9/query within 5 s'
    >>> unreachable("http://127.0.0.1:9/query", http.client.IncompleteRead(b"x", 10), 5)
    'cannot reach http://127.0.0.1:9/query: the connection closed in the middle of the answer'
    """
    reason = getattr(error, "reason", error)
    if isinstance(reason, TimeoutError):
        return f"no answer from {url} within {timeout:g} s"
    if isinstance(reason, http.client.IncompleteRead):
        reason = "the connection closed in the middle of the answer"
    elif isinstance(reason, http.client.RemoteDisconnected):
        reason = "the server closed the connection without answering"
    return f"cannot reach {url}: {str(reason) or type(reason).__name__}"




def _convert_literal(value: str, datatype: str | None):
    if datatype == XSD + "boolean":
        return value in ("true", "1")
    if datatype in (XSD + "integer", XSD + "int", XSD + "long", XSD + "nonNegativeInteger"):
        try:
            return int(value)
        except ValueError:
            return value
    if datatype in (XSD + "decimal", XSD + "double", XSD + "float"):
        try:
            return float(value)
        except ValueError:
            return value
    return value


@dataclass
class QueryResult:
    """The answer to any query form: rows (SELECT), a boolean (ASK) or N-Triples (CONSTRUCT, DESCRIBE)."""

    form: str
    variables: list = field(default_factory=list)
    rows: list = field(default_factory=list)
    boolean: bool | None = None
    ntriples: bytes = b""


def rows_from_json(doc: dict) -> tuple[list, list]:
    """``(variables, rows)`` of a SPARQL JSON results document, values as :func:`Store.select` gives them.

    >>> rows_from_json({"head": {"vars": ["x", "n"]}, "results": {"bindings": [
    ...     {"x": {"type": "uri", "value": "urn:a"}, "n": {"type": "literal", "value": "2",
    ...      "datatype": "http://www.w3.org/2001/XMLSchema#integer"}}]}})
    (['x', 'n'], [{'x': 'urn:a', 'n': 2}])
    """
    names = list(doc["head"].get("vars", []))
    rows = []
    for b in doc["results"]["bindings"]:
        row = {}
        for n in names:
            if n in b:
                t = b[n]
                if t["type"] == "uri":
                    row[n] = IRI(t["value"])
                elif t["type"] == "bnode":
                    row[n] = "_:" + t["value"]
                else:
                    row[n] = _convert_literal(t["value"], t.get("datatype"))
        rows.append(row)
    return names, rows


class Store:
    """What medspa-graph needs of a triple store."""

    description = "store"

    def run(self, sparql: str, bindings: dict | None = None, *, untrusted: bool = False,
            timeout: float | None = None, base_iri: str | None = None) -> QueryResult:
        """Run a query of any form; see :class:`QueryResult`.

        ``base_iri`` overrides :data:`~medspa_graph.sparql.text.BASE_IRI` on the embedded store.
        """
        check_offline(sparql)
        form = query_form(sparql)
        if form in UPDATE_WORDS:
            raise QueryError(f"{form} is an update; medspa-graph query runs SELECT, ASK, CONSTRUCT and DESCRIBE")
        opts = {"untrusted": untrusted, "timeout": timeout}
        if base_iri is not None:
            opts["base_iri"] = base_iri
        if form in ("CONSTRUCT", "DESCRIBE"):
            return QueryResult(form, ntriples=self.serialize_query(sparql, media_type("nt"), bindings, **opts))
        try:
            doc = self._json_results(sparql, bindings, opts)
            if form == "ASK":
                return QueryResult(form, boolean=bool(doc["boolean"]))
            names, rows = rows_from_json(doc)
        except (ValueError, KeyError, TypeError) as e:
            raise EndpointError(f"{self.description} sent malformed SPARQL JSON results: {e}") from None
        return QueryResult(form, names, rows)

    def _json_results(self, sparql: str, bindings, opts: dict) -> dict:
        return json.loads(self.serialize_query(sparql, media_type("json"), bindings, **opts))

    def select(self, sparql: str, bindings: dict | None = None, *, untrusted: bool = False,
               timeout: float | None = None) -> list[dict]:
        """Run a SELECT query; rows are dicts of Python values (IRIs as :class:`IRI`).

        ``untrusted=True`` for text that is not one of the package's named queries: an
        embedded store then runs it behind the fence (:mod:`medspa_graph.sparql.sandbox`).
        """
        raise NotImplementedError

    def serialize_query(self, sparql: str, media_type: str, bindings: dict | None = None, *,
                        untrusted: bool = False, timeout: float | None = None, base_iri: str | None = None) -> bytes:
        """Run any query and return its results serialised in ``media_type``."""
        raise NotImplementedError

    def count(self) -> int:
        return count_of(self.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"), self.description)


def count_of(rows: list[dict], where: str) -> int:
    """The whole number ``?n`` of a ``COUNT`` query's one row; :class:`EndpointError` if the answer has none.

    >>> count_of([{"n": 12}], "x")
    12
    >>> count_of([{"n": "lots"}], "SPARQL endpoint http://127.0.0.1:9/query")
    Traceback (most recent call last):
    ...
    medspa_graph.errors.EndpointError: SPARQL endpoint http://127.0.0.1:9/query answered a COUNT with 'lots', not a whole number
    """
    n = rows[0].get("n") if rows else None
    if isinstance(n, str) and n.isascii() and n.isdigit():
        n = int(n)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        got = "no row" if not rows else repr(n)[:80]
        raise EndpointError(f"{where} answered a COUNT with {got}, not a whole number")
    return n


class OxigraphStore(Store):
    """An embedded pyoxigraph store, in memory (``path=None``) or on disk."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False):
        import pyoxigraph as ox

        self._ox = ox
        self.path = Path(path) if path else None
        if path is None:
            self.store = ox.Store()
            self.description = "embedded Oxigraph (memory)"
        else:
            try:
                self.store = ox.Store.read_only(str(path)) if read_only else ox.Store(str(path))
            except OSError as e:
                from medspa_graph.errors import UnreadableInputError

                text = str(e).splitlines()[0] if str(e) else type(e).__name__
                if "lock" in text.lower():
                    text = "it is in use by another process (an Oxigraph store on disk has one user at a time)"
                elif Path(path).exists() and not Path(path).is_dir():
                    text = "not a folder (an Oxigraph store is a folder)"
                raise UnreadableInputError(path, f"cannot open the store: {text}") from None
            self.description = f"embedded Oxigraph ({path})"

    def load_ntriples(self, path_or_bytes, *, replace: bool = True) -> None:
        ox = self._ox
        if replace:
            self.store.clear()
        if isinstance(path_or_bytes, (bytes, bytearray)):
            self.store.bulk_load(path_or_bytes, format=ox.RdfFormat.N_TRIPLES)
        else:
            self.store.bulk_load(path=str(path_or_bytes), format=ox.RdfFormat.N_TRIPLES)

    def _run(self, sparql: str, bindings, base_iri: str = BASE_IRI):
        check_offline(sparql)  # Oxigraph would follow SERVICE to any address
        try:
            return self.store.query(bind(sparql, bindings), prefixes=QUERY_PREFIXES, base_iri=base_iri)
        except SyntaxError as e:
            raise QueryError(f"SPARQL syntax error: {str(e).splitlines()[0]}") from None
        except (OSError, RuntimeError, ValueError) as e:
            raise QueryError(f"query failed: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None

    def _value(self, term):
        ox = self._ox
        if isinstance(term, ox.NamedNode):
            return IRI(term.value)
        if isinstance(term, ox.Literal):
            return _convert_literal(term.value, term.datatype.value if term.datatype else None)
        if term is None:
            return None
        return "_:" + term.value if isinstance(term, ox.BlankNode) else str(term)

    def select(self, sparql, bindings=None, *, untrusted=False, timeout=None):
        if untrusted:
            data = self.serialize_query(sparql, media_type("json"), bindings, untrusted=True, timeout=timeout)
            result = self._ox.parse_query_results(data, format=self._ox.QueryResultsFormat.JSON)
        else:
            result = self._run(sparql, bindings)
        names = [v.value for v in result.variables]
        return [{n: self._value(sol[n]) for n in names if sol[n] is not None} for sol in result]

    def serialize_query(self, sparql, media_type, bindings=None, *, untrusted=False, timeout=None, base_iri=None):
        base = base_iri or BASE_IRI
        if untrusted:
            from medspa_graph.sparql.sandbox import QUERY_TIMEOUT, run_fenced

            check_offline(sparql)
            text = bind(sparql, bindings)
            return run_fenced(lambda: self._serialize(self.store.query(text, prefixes=QUERY_PREFIXES,
                                                                       base_iri=base), media_type),
                              timeout=QUERY_TIMEOUT if timeout is None else timeout)
        return self._serialize(self._run(sparql, bindings, base), media_type)

    def _serialize(self, result, media_type) -> bytes:
        ox = self._ox
        if isinstance(result, ox.QueryTriples):
            fmt = ox.RdfFormat.from_media_type(media_type)
            if fmt is None:
                raise QueryError(f"no graph serialisation for {media_type}")
            return result.serialize(format=fmt)
        fmt = ox.QueryResultsFormat.from_media_type(media_type)
        if fmt is None:
            raise QueryError(f"no results serialisation for {media_type}")
        return result.serialize(format=fmt)

    def __len__(self) -> int:
        return len(self.store)

    def count(self) -> int:
        return len(self.store)


class EndpointStore(Store):
    """A remote SPARQL 1.1 endpoint, spoken to over the SPARQL 1.1 Protocol.

    ``graph`` is the named graph that holds the knowledge base (where ``push``
    put it); it is sent as ``default-graph-uri`` so the named queries, which read
    the default graph, run unchanged. ``graph=None`` reads the endpoint's own
    default graph.
    """

    def __init__(self, url: str, *, graph: str | None = KB_GRAPH, timeout: float = 60.0,
                 headers: dict | None = None, engine="auto"):
        from medspa_graph.sparql.client import check_url
        from medspa_graph.sparql.engines import engine_named

        self.url = check_url(url)
        self.graph = graph
        self.timeout = timeout
        self.headers = {**auth_headers(), **(headers or {})}
        self.description = f"SPARQL endpoint {url}" + (f" graph <{graph}>" if graph else "")
        self._engine = engine_named(engine)

    @property
    def engine(self):
        """The :class:`~medspa_graph.sparql.engines.Engine` adapter of the server (asked once if ``engine="auto"``)."""
        if self._engine is None:
            from medspa_graph.sparql.engines import detect

            self._engine = detect(self.url, timeout=self.timeout)
        return self._engine

    def _post(self, sparql: str, accept: str) -> bytes:
        return self._exchange(sparql, accept)[0]

    def _exchange(self, sparql: str, accept: str):
        check_offline(sparql)  # nor does medspa-graph ask another server to fetch for it
        sparql = declare_prefixes(sparql)
        req = self.engine.query_request(self.url, sparql, self.graph, accept, self.headers)
        resp = self.engine.send(req, self.timeout, name=f"SPARQL endpoint {self.url}")
        if 200 <= resp.status < 300:
            return resp.body, resp.headers
        body = resp.body[:300].decode("utf-8", "replace").strip().splitlines()
        detail = self.engine.explain(body[0]) if body else resp.reason
        if resp.status in (401, 403):
            hint = ("check MEDSPA_GRAPH_ENDPOINT_USER and MEDSPA_GRAPH_ENDPOINT_PASSWORD (or _TOKEN)"
                    if "Authorization" in self.headers or os.environ.get("MEDSPA_GRAPH_ENDPOINT_USER")
                    else "set MEDSPA_GRAPH_ENDPOINT_USER and MEDSPA_GRAPH_ENDPOINT_PASSWORD (or _TOKEN)")
            raise EndpointError(f"{self.url} refused the credentials (HTTP {resp.status}): {hint}")
        if 400 <= resp.status < 500:
            raise QueryError(f"{self.url} refused the query (HTTP {resp.status}): {detail}")
        raise EndpointError(f"{self.url} failed (HTTP {resp.status}): {detail}")

    def _results(self, sparql: str) -> dict:
        """SPARQL JSON results of ``sparql``, as the embedded store would give them."""
        data, headers = self._exchange(sparql, media_type("json"))
        try:
            doc = self.engine.normalise(json.loads(data), sparql)
            if "boolean" not in doc:
                self.engine.check(self.url, headers, len(doc["results"]["bindings"]))
            return doc
        except RecursionError:
            raise EndpointError(f"{self.url} sent malformed SPARQL JSON results: nested too deeply") from None
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise EndpointError(f"{self.url} sent malformed SPARQL JSON results: {str(e)[:200]}") from None

    def select(self, sparql, bindings=None, *, untrusted=False, timeout=None):
        # untrusted text has been through the guard in _exchange; the remote server runs it
        doc = self._results(bind(sparql, bindings))
        try:
            return rows_from_json(doc)[1]
        except (ValueError, KeyError, TypeError) as e:
            raise EndpointError(f"{self.url} sent malformed SPARQL JSON results: {e}") from None

    def _json_results(self, sparql, bindings, opts):
        return self._results(bind(sparql, bindings))

    def serialize_query(self, sparql, media_type, bindings=None, *, untrusted=False, timeout=None, base_iri=None):
        # the remote server resolves relative IRIs against its own base
        form = query_form(sparql)
        sparql = bind(sparql, bindings)
        if self.engine.rewrites_results and form in ("SELECT", "ASK"):
            # the engine's own serialisation differs; write the normalised answer as the embedded store does
            import pyoxigraph as ox

            fmt = ox.QueryResultsFormat.from_media_type(media_type)
            if fmt is None:
                raise QueryError(f"no results serialisation for {media_type}")
            doc = json.dumps(self._results(sparql)).encode("utf-8")
            return ox.parse_query_results(doc, format=ox.QueryResultsFormat.JSON).serialize(format=fmt)
        return self._post(sparql, media_type)
