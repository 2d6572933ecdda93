"""Put the built graph on an existing SPARQL server, safely for its readers.

``push`` uploads through the SPARQL 1.1 Graph Store Protocol into a fresh
staging graph, checks the server holds exactly the expected number of triples,
then replaces the target graph with one ``MOVE`` update, and checks the count
again. On Oxigraph a reader sees the old graph or the new one, never a partial
upload (Virtuoso 7.2 lets a reader see the ``MOVE`` half done: README). A push
that fails before the swap leaves the old graph in place and removes its staging
graph; one whose swap went unanswered (the server died or stopped answering)
leaves the old graph or the new one, and says so.

The staging graph's name is derived from the target's, so a staging graph left
behind by a push that could not clean up is overwritten and consumed by the next
push to the same target, never piled up.
"""

from __future__ import annotations

__all__ = ["push", "ServerUrls", "server_urls", "staging_graph"]

import hashlib
import os
import urllib.request
from dataclasses import dataclass, field

from medspa_graph.errors import EndpointError
from medspa_graph.sparql.client import NoAnswer, check_url
from medspa_graph.sparql.engines import Engine, detect, engine_named
from medspa_graph.sparql.store import KB_GRAPH, EndpointStore, auth_headers, count_of
from medspa_graph.sparql.text import IRI, term_to_sparql


@dataclass(frozen=True)
class ServerUrls:
    query: str
    update: str
    store: str  # Graph Store Protocol
    engine: Engine = field(default_factory=Engine, repr=False, compare=False)


def server_urls(query: str, update: str | None = None, store: str | None = None,
                engine: Engine | str | None = None) -> ServerUrls:
    """The query, update and graph-store URLs of a server, from its query URL.

    Oxigraph serves ``/query``, ``/update`` and ``/store``; Fuseki ``/ds/sparql``,
    ``/ds/update`` and ``/ds/data``; Virtuoso ``/sparql`` for both queries and
    updates and ``/sparql-graph-crud``. Without ``engine`` the URLs are guessed from
    the path (Oxigraph's or Fuseki's); other servers need ``update`` and ``store``.

    >>> server_urls("http://127.0.0.1:7878/query")
    ServerUrls(query='http://127.0.0.1:7878/query', update='http://127.0.0.1:7878/update', store='http://127.0.0.1:7878/store')
    """
    check_url(query)
    for url, what in ((update, "--update-endpoint"), (store, "--store-endpoint")):
        if url is not None:
            check_url(url, what)
    engine = engine_named(engine) or Engine()
    return ServerUrls(*engine.urls(query, update, store), engine=engine)


def _request(method: str, url: str, *, data=None, headers=None, timeout: float = 300.0,
             engine: Engine | None = None) -> bytes:
    """Send one request through the engine (:func:`medspa_graph.sparql.client.fetch`: ``timeout`` bounds it whole)."""
    engine = engine or Engine()
    req = urllib.request.Request(url, data=data, method=method, headers={**auth_headers(), **(headers or {})})
    resp = engine.send(req, timeout, name=url)  # _NoAnswer when nothing whole came back
    if 200 <= resp.status < 300:
        return resp.body
    detail = resp.body[:300].decode("utf-8", "replace").strip().splitlines()
    raise EndpointError(f"{method} {url} failed (HTTP {resp.status}): "
                        f"{engine.explain(detail[0]) if detail else resp.reason}")


#: A request the server never answered: refused, cut off, timed out or too large. Its effect is unknown.
_NoAnswer = NoAnswer


def _update(urls: ServerUrls, sparql: str, timeout: float) -> None:
    _request("POST", urls.update, data=sparql.encode("utf-8"),
             headers={"Content-Type": "application/sparql-update"}, timeout=timeout, engine=urls.engine)


def _count(urls: ServerUrls, graph: str, timeout: float = 60.0) -> int:
    store = EndpointStore(urls.query, graph=None, timeout=timeout, engine=urls.engine)
    rows = store.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {term_to_sparql(IRI(graph))} {{ ?s ?p ?o }} }}")
    return count_of(rows, f"SPARQL endpoint {urls.query}")


#: How much N-Triples one upload request carries. Servers load each request as one transaction,
#: so pieces keep their memory bounded: one 1-million-triple PUT took oxigraph serve 268 s and
#: 3 GiB, 4 MiB pieces 35 s (bench/README.md); medspa-graph holds one piece at a time.
CHUNK_BYTES = 4 << 20


def _pieces(source, size: int = CHUNK_BYTES):
    """N-Triples ``source`` (a path or bytes) in pieces of about ``size`` bytes, read as they are sent.

    Every triple with a blank node travels in the first piece, since a blank node's label
    names the same node only within one document.

    >>> [p.count(b"\\n") for p in _pieces(b"<a> <b> _:x .\\n<a> <b> <c> .\\n<a> <b> <d> .\\n_:x <b> <c> .\\n", 20)]
    [3, 1]
    """
    def lines():
        if isinstance(source, (bytes, bytearray)):
            yield from bytes(source).splitlines(keepends=True)
        else:
            with open(source, "rb") as f:
                yield from f

    piece = [line for line in lines() if b"_:" in line]
    held, sent = sum(map(len, piece)), False
    for line in lines():
        if b"_:" not in line:
            piece.append(line)
            held += len(line)
            if held >= size:
                yield b"".join(piece)
                piece, held, sent = [], 0, True
    if piece or not sent:  # an empty source is one empty PUT: the graph is replaced by nothing
        yield b"".join(piece)


def _upload(urls: ServerUrls, graph: str, source, timeout: float) -> None:
    """Replace ``graph`` with N-Triples ``source``: a Graph Store Protocol PUT, then POSTs that add to it."""
    gsp = urls.engine.gsp_url(urls.store, graph)
    for n, piece in enumerate(_pieces(source, CHUNK_BYTES)):
        _request("PUT" if n == 0 else "POST", gsp, data=piece, headers={"Content-Type": "application/n-triples"},
                 timeout=timeout, engine=urls.engine)


def staging_graph(graph: str) -> str:
    """The staging graph ``push`` uploads into before it replaces ``graph``: one per target.

    >>> staging_graph("https://w3id.org/medspa-graph/graph/kb")
    'urn:medspa-graph:staging:d1abaddbcc0b64839f2516ca'
    """
    return "urn:medspa-graph:staging:" + hashlib.sha256(graph.encode("utf-8")).hexdigest()[:24]


def push(source: str | os.PathLike | bytes, expected: int, endpoint: str, *, graph: str = KB_GRAPH,
         update_endpoint: str | None = None, store_endpoint: str | None = None, engine: str = "auto",
         in_place: bool = False, timeout: float = 300.0) -> dict:
    """Upload N-Triples ``source`` (``expected`` triples) into ``graph`` on a server.

    ``timeout`` is how long any one request may take, whole: connecting, sending and the
    whole answer (seconds); a server that trickles its answer is cut off when it is up.
    Returns a summary dict (graph, triples, previous, urls). Raises
    :class:`EndpointError` if the server is unreachable, refuses a step, stops
    answering or ends up holding a different number of triples. The message says
    what became of ``graph``: unchanged if the failure came before the swap; the
    old graph or the new one if the swap was sent but not confirmed. Either way,
    pushing again completes the job.

    ``engine`` names the server's adapter (:mod:`medspa_graph.sparql.engines`); ``"auto"`` asks the server.
    ``source`` is sent in pieces of :data:`CHUNK_BYTES`, a file read as it is sent.
    ``in_place`` uploads straight into ``graph``, with no staging graph and no swap: for
    graphs too large for the server's ``MOVE`` (``oxigraph serve`` holds a moved graph in
    memory: 3.9 GiB and 99 s for a million triples). Readers then see the graph being
    replaced, and a failed push leaves it partly replaced.
    """
    check_url(endpoint)
    try:
        found = engine_named(engine) or detect(endpoint, timeout=timeout)
    except EndpointError as e:
        raise EndpointError(f"{e}; <{graph}> left unchanged") from None
    urls = server_urls(endpoint, update_endpoint, store_endpoint, found)
    target = term_to_sparql(IRI(graph))  # a malformed graph IRI fails here, before anything is sent
    staging = staging_graph(graph)
    try:
        previous = _count(urls, graph, timeout)
    except EndpointError as e:
        raise EndpointError(f"{e}; <{graph}> left unchanged") from None
    if in_place:
        _upload(urls, graph, source, timeout)
        now = _count(urls, graph, timeout)
        if now != expected:
            raise EndpointError(f"<{graph}> holds {now} triples after the upload, expected {expected}; push again")
        return {"graph": graph, "triples": now, "previous": previous, "urls": urls}
    swapping = False
    try:
        _upload(urls, staging, source, timeout)
        staged = _count(urls, staging, timeout)
        if staged != expected:
            raise EndpointError(f"the server holds {staged} triples in the staging graph, "
                                f"expected {expected}")
        swapping = True
        _update(urls, f"MOVE {term_to_sparql(IRI(staging))} TO {target}", timeout)
    except BaseException as e:
        # A swap sent but never answered may still be running on the server: dropping its
        # source now could race it, so the staging graph stays (the next push overwrites it).
        answered = isinstance(e, EndpointError) and not isinstance(e, _NoAnswer)
        unknown = swapping and not answered
        if not unknown:
            try:
                _update(urls, f"DROP SILENT GRAPH {term_to_sparql(IRI(staging))}", timeout)
            except EndpointError:
                pass
        if not isinstance(e, EndpointError):
            raise
        if unknown:
            raise EndpointError(f"{e}; the swap was sent but not confirmed, so <{graph}> holds the old graph "
                                "or the new one; push again to be sure") from None
        raise EndpointError(f"{e}; <{graph}> left unchanged") from None
    try:
        now = _count(urls, graph, timeout)
    except EndpointError as e:
        raise EndpointError(f"{e}; <{graph}> was replaced but could not be counted again; "
                            "push again to be sure") from None
    if now != expected:
        raise EndpointError(f"after the swap <{graph}> holds {now} triples, expected {expected}")
    return {"graph": graph, "triples": now, "previous": previous, "urls": urls}
