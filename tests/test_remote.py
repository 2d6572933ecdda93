"""A real ``oxigraph serve`` as the external triplestore: push, then the same answers.

The server is the ``oxigraph`` binary from PyPI, started on a free loopback port
in a temporary folder (``oxigraph_server`` in ``conftest.py``).
"""

import json
import re
import threading
from pathlib import Path

import pytest

from medspa_graph.errors import EndpointError
from medspa_graph.queries import named_queries, prepare
from medspa_graph.store import KB_GRAPH

# One value per parameter kind, so every named query runs with its parameters bound.
PARAMS = {"jurisdiction": "US-CA", "procedure": "botox", "role": "registered nurse",
          "condition": "melanoma", "product": "botulinum toxin"}


@pytest.fixture(scope="module")
def oxigraph(oxigraph_server, _private_cache):
    server = oxigraph_server()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def pushed(oxigraph, kb):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.remote import push

    source, _ = built_ntriples()
    result = push(source, kb.count(), oxigraph + "/query")
    assert result["triples"] == kb.count()
    return oxigraph + "/query"


@pytest.fixture(scope="module")
def remote_kb(pushed):
    import medspa_graph

    return medspa_graph.load(endpoint=pushed)


_CONCAT = re.compile(r'GROUP_CONCAT\((?:DISTINCT\s+)?[^;]*;\s*separator\s*=\s*"([^"]*)"\s*\)\s+AS\s+\?(\w+)', re.I)


def _rows(rows, sparql=""):
    """Rows as a sorted list; GROUP_CONCAT values as sorted lists, since SPARQL leaves their order open."""
    concat = {var: sep for sep, var in _CONCAT.findall(sparql)}
    out = []
    for r in rows:
        r = {k: sorted(str(v).split(concat[k])) if k in concat else v for k, v in r.items()}
        out.append(json.dumps(r, sort_keys=True, default=str))
    return sorted(out)


@pytest.mark.parametrize("name", sorted(named_queries()))
def test_every_named_query_answers_the_same_on_oxigraph_server(name, kb, remote_kb):
    q = named_queries()[name]
    params = {p: PARAMS[kind] for p, (kind, _) in q.params.items()}
    sparql, bindings = prepare(kb, q, params)
    local = kb.store.select(sparql, bindings or None)
    remote = remote_kb.store.select(sparql, bindings or None)
    assert _rows(remote, sparql) == _rows(local, sparql)
    assert local or name in ("conflicting-rules",), f"{name} returned nothing; the comparison would be empty"


@pytest.mark.parametrize("question,args", [
    ("who_can", ("botox", "US-FL")),
    ("scope", ("esthetician", "US-TX")),
    ("compare", ("chemical peel", ["US-CA", "US-TX", "US-NY"])),
    ("supervision_chains", ("medical assistant", "laser hair removal", "US-TX")),
    ("referral_paths", ("esthetician", "dermatologist", None)),
])
def test_every_question_answers_the_same_on_oxigraph_server(question, args, kb, remote_kb):
    from medspa_graph import questions

    ask = getattr(questions, question)
    assert json.dumps(ask(remote_kb, *args), sort_keys=True, default=str) == \
        json.dumps(ask(kb, *args), sort_keys=True, default=str)


def test_cli_with_endpoint_gives_the_embedded_answer(cli, pushed):
    local = cli("who-can", "botox", "-j", "US-NY", "--format", "json")
    remote = cli("who-can", "botox", "-j", "US-NY", "--format", "json", "--endpoint", pushed)
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    local = cli("query", "sources-by-confidence", "--format", "csv")
    remote = cli("query", "sources-by-confidence", "--format", "csv", "--endpoint", pushed)
    assert sorted(remote.stdout.splitlines()) == sorted(local.stdout.splitlines())


def _graphs(url):
    from medspa_graph.store import EndpointStore

    rows = EndpointStore(url, graph=None).select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    return {str(r["g"]) for r in rows}


def _count(url, graph=KB_GRAPH):
    from medspa_graph.remote import _count as count, server_urls

    return count(server_urls(url), graph)


def test_push_command_replaces_the_graph_and_leaves_no_staging(cli, pushed, kb):
    r = cli("push", "--endpoint", pushed)
    assert r.returncode == 0, r.stderr
    assert f"pushed {kb.count()} triples" in r.stdout and f"replacing {kb.count()}" in r.stdout
    assert _graphs(pushed) == {KB_GRAPH}


def test_a_push_whose_count_does_not_match_leaves_the_old_graph(pushed, kb):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.remote import push

    source, _ = built_ntriples()
    with pytest.raises(EndpointError, match="left unchanged"):
        push(source, kb.count() + 1, pushed)
    assert _count(pushed) == kb.count()
    assert _graphs(pushed) == {KB_GRAPH}


def test_readers_see_the_old_graph_or_the_new_one_never_a_mix(oxigraph, kb):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.remote import push

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


def test_push_to_an_unknown_server_layout_asks_for_urls(cli):
    r = cli("push", "--endpoint", "http://127.0.0.1:9/graphdb/repositories/x")
    assert r.returncode == 3 and "--update-endpoint" in r.stderr
