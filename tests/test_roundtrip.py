"""Nothing lost: every export of the graph reads back into a graph isomorphic to the original.

The original is the graph ``build`` serialises (parsed, validated, reasoned), in memory.
The exports are the three files ``medspa-graph build`` writes, the graph ``load()``
answers from (the cached N-Triples in an embedded Oxigraph store), the graph ``push``
puts on a real ``oxigraph serve`` (fetched back with the Graph Store Protocol and with
a CONSTRUCT query), and the graph ``medspa-graph serve`` sends for a CONSTRUCT in each
of its four RDF formats. Each is compared with ``rdflib.compare.isomorphic``, and by
triple count. The built graph has no blank nodes, so isomorphism is plain equality of
the triple sets here, but the comparison would stay right if it grew some.
"""

import urllib.parse
import urllib.request

import pytest
import rdflib
from rdflib.compare import isomorphic

from medspa_graph.sparql.store import KB_GRAPH

pytestmark = pytest.mark.slow  # a fresh build, the CLI and real servers

ALL = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"


@pytest.fixture(scope="module")
def original(_private_cache):
    from medspa_graph.knowledge.loading import build_graph

    return build_graph().graph


def same(graph, original) -> bool:
    return len(graph) == len(original) and isomorphic(graph, original)


def test_the_built_graph_has_no_blank_nodes(original):
    assert not any(isinstance(t, rdflib.BNode) for triple in original for t in triple)


def test_build_exports_read_back_isomorphic(original, cli, tmp_path):
    r = cli("build", "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    for name, fmt in (("medspa-graph.ttl", "turtle"), ("medspa-graph.nt", "nt"),
                      ("medspa-graph.jsonld", "json-ld")):
        back = rdflib.Graph().parse(tmp_path / name, format=fmt)
        assert same(back, original), name


def test_the_loaded_knowledge_base_is_the_built_graph(original, kb):
    back = rdflib.Graph().parse(data=kb.store.serialize_query(ALL, "application/n-triples"), format="nt")
    assert same(back, original)


def test_push_to_oxigraph_reads_back_isomorphic(original, kb, oxigraph_server, cli):
    from medspa_graph.sparql.store import EndpointStore

    server = oxigraph_server()
    try:
        r = cli("push", "--endpoint", server.url + "/query")
        assert r.returncode == 0, r.stderr
        store = f"{server.url}/store?graph={urllib.parse.quote(KB_GRAPH, safe='')}"
        for accept, fmt in (("application/n-triples", "nt"), ("text/turtle", "turtle")):
            req = urllib.request.Request(store, headers={"Accept": accept})
            with urllib.request.urlopen(req, timeout=60) as resp:
                assert same(rdflib.Graph().parse(data=resp.read(), format=fmt), original), accept
        remote = EndpointStore(server.url + "/query", graph=KB_GRAPH)
        back = rdflib.Graph().parse(data=remote.serialize_query(ALL, "application/n-triples"), format="nt")
        assert same(back, original)
    finally:
        server.stop()


def test_serve_construct_reads_back_isomorphic_in_every_format(original, _private_cache):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.serve.server import SparqlServer

    source, _ = built_ntriples()
    with SparqlServer("snapshot", source, workers=1, timeout=60, max_result_bytes=1 << 30, quiet=True) as srv:
        for accept, fmt in (("text/turtle", "turtle"), ("application/n-triples", "nt"),
                            ("application/rdf+xml", "xml"), ("application/ld+json", "json-ld")):
            req = urllib.request.Request(srv.url + "/sparql?query=" + urllib.parse.quote(ALL),
                                         headers={"Accept": accept})
            with urllib.request.urlopen(req, timeout=60) as resp:
                assert same(rdflib.Graph().parse(data=resp.read(), format=fmt), original), accept
