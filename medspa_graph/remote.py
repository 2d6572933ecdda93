"""Put the built graph on an existing SPARQL server, safely for its readers.

``push`` uploads through the SPARQL 1.1 Graph Store Protocol into a fresh
staging graph, checks the server holds exactly the expected number of triples,
then replaces the target graph with one ``MOVE`` update (a single transaction
on Oxigraph, Fuseki and Virtuoso), and checks the count again. A reader sees the
old graph or the new one, never a partial upload. A push that fails before the
swap leaves the old graph in place and removes its staging graph; one whose swap
went unanswered (the server died or stopped answering) leaves the old graph or
the new one, and says so.

The staging graph's name is derived from the target's, so a staging graph left
behind by a push that could not clean up is overwritten and consumed by the next
push to the same target, never piled up.
"""

from __future__ import annotations

__all__ = ["push", "ServerUrls", "server_urls", "staging_graph"]

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from .errors import EndpointError
from .sparql import IRI, term_to_sparql
from .store import KB_GRAPH, EndpointStore, auth_headers, unreachable


@dataclass(frozen=True)
class ServerUrls:
    query: str
    update: str
    store: str  # Graph Store Protocol


def server_urls(query: str, update: str | None = None, store: str | None = None) -> ServerUrls:
    """The query, update and graph-store URLs of a server, from its query URL.

    Oxigraph serves ``/query``, ``/update`` and ``/store``; Fuseki ``/ds/sparql``,
    ``/ds/update`` and ``/ds/data``. Other servers need ``update`` and ``store``.

    >>> server_urls("http://127.0.0.1:7878/query")
    ServerUrls(query='http://127.0.0.1:7878/query', update='http://127.0.0.1:7878/update', store='http://127.0.0.1:7878/store')
    """
    parts = urlsplit(query)
    if parts.scheme not in ("http", "https"):
        raise EndpointError(f"endpoint URL must start with http:// or https://: {query!r}")
    head, _, last = parts.path.rpartition("/")
    guesses = {"query": ("update", "store"), "sparql": ("update", "data")}.get(last)
    if (update is None or store is None) and guesses is None:
        raise EndpointError(f"cannot tell the update and graph-store URLs of {query}; "
                            "pass --update-endpoint and --store-endpoint")

    def sibling(name):
        return urlunsplit((parts.scheme, parts.netloc, f"{head}/{name}", "", ""))

    return ServerUrls(query, update or sibling(guesses[0]), store or sibling(guesses[1]))


def _request(method: str, url: str, *, data=None, headers=None, timeout: float = 300.0) -> bytes:
    req = urllib.request.Request(url, data=data, method=method, headers={**auth_headers(), **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()
    except urllib.error.HTTPError as e:
        try:
            detail = e.read()[:300].decode("utf-8", "replace").strip().splitlines()
        except (OSError, http.client.HTTPException):
            detail = []
        raise EndpointError(f"{method} {url} failed (HTTP {e.code}): {detail[0] if detail else e.reason}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as e:
        raise _NoAnswer(unreachable(url, e, timeout)) from None


class _NoAnswer(EndpointError):
    """A request the server never answered: refused, cut off or timed out. Its effect is unknown."""


def _update(urls: ServerUrls, sparql: str, timeout: float) -> None:
    _request("POST", urls.update, data=sparql.encode("utf-8"),
             headers={"Content-Type": "application/sparql-update"}, timeout=timeout)


def _count(urls: ServerUrls, graph: str, timeout: float = 60.0) -> int:
    store = EndpointStore(urls.query, graph=None, timeout=timeout)
    rows = store.select(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {term_to_sparql(IRI(graph))} {{ ?s ?p ?o }} }}")
    return int(rows[0]["n"])


def staging_graph(graph: str) -> str:
    """The staging graph ``push`` uploads into before it replaces ``graph``: one per target.

    >>> staging_graph("https://w3id.org/medspa-graph/graph/kb")
    'urn:medspa-graph:staging:d1abaddbcc0b64839f2516ca'
    """
    return "urn:medspa-graph:staging:" + hashlib.sha256(graph.encode("utf-8")).hexdigest()[:24]


def push(source: str | os.PathLike | bytes, expected: int, endpoint: str, *, graph: str = KB_GRAPH,
         update_endpoint: str | None = None, store_endpoint: str | None = None,
         timeout: float = 300.0) -> dict:
    """Upload N-Triples ``source`` (``expected`` triples) into ``graph`` on a server.

    ``timeout`` is how long any one request may wait for the server (seconds).
    Returns a summary dict (graph, triples, previous, urls). Raises
    :class:`EndpointError` if the server is unreachable, refuses a step, stops
    answering or ends up holding a different number of triples. The message says
    what became of ``graph``: unchanged if the failure came before the swap; the
    old graph or the new one if the swap was sent but not confirmed. Either way,
    pushing again completes the job.
    """
    urls = server_urls(endpoint, update_endpoint, store_endpoint)
    target = term_to_sparql(IRI(graph))  # a malformed graph IRI fails here, before anything is sent
    staging = staging_graph(graph)
    try:
        previous = _count(urls, graph, timeout)
    except EndpointError as e:
        raise EndpointError(f"{e}; <{graph}> left unchanged") from None
    body = Path(source).read_bytes() if not isinstance(source, (bytes, bytearray)) else bytes(source)
    gsp = f"{urls.store}{'&' if '?' in urls.store else '?'}graph={quote(staging, safe='')}"
    swapping = False
    try:
        _request("PUT", gsp, data=body, headers={"Content-Type": "application/n-triples"}, timeout=timeout)
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
