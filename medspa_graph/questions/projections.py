"""Projections of the RDF graph onto networkx graphs.

Nodes are IRIs carrying ``label`` and ``kind``; edges keep the ``rule`` IRI and
its ``sources``, so any networkx algorithm (or backend) can run on them.
"""

from __future__ import annotations

__all__ = ["class_hierarchy", "supervision_graph", "referral_graph"]

from medspa_graph.questions.chains import referral_graph, supervision_graph  # noqa: E402  (their home is chains.py)


def class_hierarchy(kb):
    """Subclass -> superclass edges among roles and procedures (direct and inferred).

    Returns
    -------
    networkx.DiGraph
    """
    import networkx as nx

    g = nx.DiGraph()
    for child, parents in kb.catalog.direct_parents().items():
        g.add_node(child, label=kb.label(child), kind=kb.names.kinds.get(child, "class"))
        for p in parents:
            g.add_node(p, label=kb.label(p), kind=kb.names.kinds.get(p, "class"))
            g.add_edge(child, p, relation="subClassOf")
    return g
