"""networkx projections: IRIs as nodes, rule and sources on edges."""

import networkx as nx

from medspa_graph.questions.projections import class_hierarchy, referral_graph, supervision_graph

MS = "https://w3id.org/medspa-graph/ontology#"


def test_class_hierarchy_is_a_dag_with_labels(kb):
    g = class_hierarchy(kb)
    assert nx.is_directed_acyclic_graph(g)
    assert g.has_edge(MS + "Dermatologist", MS + "Physician")
    assert not g.has_edge(MS + "Dermatologist", MS + "Practitioner")  # direct edges only
    assert g.nodes[MS + "Dermatologist"]["label"] == "dermatologist"


def test_supervision_graph_edges_keep_rule_and_sources(kb):
    g = supervision_graph(kb, MS + "NeurotoxinInjection", "https://w3id.org/medspa-graph/jurisdiction/US-FL")
    e = g.edges[MS + "RegisteredNurse", MS + "Physician"]
    assert e["rule"].startswith("https://w3id.org/medspa-graph/rule/US-FL-")
    assert e["sources"] and e["supervision"] == "onsite/direct"
    assert g.nodes[MS + "Physician"]["independent"] is True


def test_referral_graph_is_a_multidigraph_keyed_by_rule(kb):
    g = referral_graph(kb)
    assert isinstance(g, nx.MultiDiGraph)
    assert g.has_edge(MS + "Esthetician", MS + "Dermatologist")
    for _u, _v, key, d in g.edges(keys=True, data=True):
        assert key == d["rule"] and d["sources"] and d["conditions"]
