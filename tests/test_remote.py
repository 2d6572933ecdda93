"""A real ``oxigraph serve`` as the external triplestore: what ``push`` guarantees.

The server is the ``oxigraph`` binary from PyPI, started on a free loopback port
in a temporary folder (``oxigraph_server`` in ``conftest.py``). The same answers on
it and on Virtuoso: ``test_engines.py``.
"""

import threading
from pathlib import Path

import pytest

from medspa_graph.errors import EndpointError
from medspa_graph.sparql.store import KB_GRAPH

pytestmark = pytest.mark.slow  # real SPARQL servers


@pytest.fixture(scope="module")
def oxigraph(oxigraph_server, _private_cache):
    server = oxigraph_server()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def pushed(oxigraph, kb):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.sparql.remote import push

    source, _ = built_ntriples()
    result = push(source, kb.count(), oxigraph + "/query")
    assert result["triples"] == kb.count()
    return oxigraph + "/query"


def _graphs(url):
    from medspa_graph.sparql.store import EndpointStore

    rows = EndpointStore(url, graph=None).select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    return {str(r["g"]) for r in rows}


def _count(url, graph=KB_GRAPH):
    from medspa_graph.sparql.remote import _count as count
    from medspa_graph.sparql.remote import server_urls

    return count(server_urls(url), graph)


def test_push_command_replaces_the_graph_and_leaves_no_staging(cli, pushed, kb):
    r = cli("push", "--endpoint", pushed)
    assert r.returncode == 0, r.stderr
    assert f"pushed {kb.count()} triples" in r.stdout and f"replacing {kb.count()}" in r.stdout
    assert _graphs(pushed) == {KB_GRAPH}


def test_a_push_whose_count_does_not_match_leaves_the_old_graph(pushed, kb):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.sparql.remote import push

    source, _ = built_ntriples()
    with pytest.raises(EndpointError, match="left unchanged"):
        push(source, kb.count() + 1, pushed)
    assert _count(pushed) == kb.count()
    assert _graphs(pushed) == {KB_GRAPH}


def test_readers_see_the_old_graph_or_the_new_one_never_a_mix(oxigraph, kb):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.sparql.remote import push

    graph = "https://example.org/atomicity-check"
    source, _ = built_ntriples()
    lines = Path(source).read_bytes().splitlines(keepends=True)
    small = b"".join(lines[:1000])
    url = oxigraph + "/query"
    push(small, 1000, url, graph=graph)
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(_count(url, graph))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for t in readers:
        t.start()
    try:
        for _ in range(3):
            push(source, kb.count(), url, graph=graph)
            push(small, 1000, url, graph=graph)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert seen <= {1000, kb.count()} and len(seen) >= 1


def test_unreachable_endpoint_exits_3_with_one_line(cli, free_port):
    r = cli("push", "--endpoint", f"http://127.0.0.1:{free_port}/query")
    assert r.returncode == 3
    assert r.stderr.count("\n") == 1 and "cannot reach" in r.stderr
    r = cli("who-can", "botox", "--endpoint", f"http://127.0.0.1:{free_port}/query")
    assert r.returncode == 3 and "Traceback" not in r.stderr


def test_push_to_an_unknown_server_layout_asks_for_urls(cli, oxigraph):
    r = cli("push", "--endpoint", oxigraph + "/graphdb/repositories/x")
    assert r.returncode == 3 and "--update-endpoint" in r.stderr
