"""Projections of the RDF graph onto networkx graphs.

Nodes are IRIs carrying ``label`` and ``kind``; edges keep the ``rule`` IRI and
its ``sources``, so any networkx algorithm (or backend) can run on them.
"""

from __future__ import annotations

__all__ = ["class_hierarchy", "supervision_graph", "referral_graph"]


def class_hierarchy(kb):
    """Subclass -> superclass edges among roles and procedures (direct and inferred).

    Returns
    -------
    networkx.DiGraph
    """
    import networkx as nx

    g = nx.DiGraph()
    for child, parents in kb._direct_parents().items():
        g.add_node(child, label=kb.label(child), kind=kb.names.kinds.get(child, "class"))
        for p in parents:
            g.add_node(p, label=kb.label(p), kind=kb.names.kinds.get(p, "class"))
            g.add_edge(child, p, relation="subClassOf")
    return g


def supervision_graph(kb, procedure: str, jurisdiction: str):
    """Who supervises whom for ``procedure`` in ``jurisdiction``.

    Every role with a rule for the procedure (or a category above it) is a node,
    with the effective rule's ``permission``, ``supervision``, ``independent``
    and ``rule``; an edge ``performer -> supervisor`` exists for each acceptable
    supervisor of the performer's effective rule.

    Returns
    -------
    networkx.DiGraph
    """
    import networkx as nx

    from .rules import effective_rules

    rules = kb._rules(jurisdiction)
    ctx = kb.resolution_context(jurisdiction)
    anc = kb._ancestors
    proc_anc = anc(procedure)
    todo = sorted({r.role for r in rules if r.procedure in proc_anc})
    g = nx.DiGraph(procedure=procedure, jurisdiction=jurisdiction)
    seen = set()
    while todo:
        role = todo.pop()
        if role in seen:
            continue
        seen.add(role)
        eff = effective_rules(rules, role, procedure, anc, ctx)
        g.add_node(role, label=kb.label(role), kind="role")
        if not eff:
            g.nodes[role].update(permission=None, supervision=None, independent=False, rule=None)
            continue
        r = eff[0]
        g.nodes[role].update(
            permission=r.permission,
            supervision=r.supervision,
            independent=any(x.independent for x in eff),
            rule=r.iri,
            rules=[x.iri for x in eff],
            basis=r.basis,
        )
        for x in eff:
            if x.permission == "not-permitted":
                continue
            for sup in x.supervisors:
                g.add_node(sup, label=kb.label(sup), kind="role")
                g.add_edge(role, sup, rule=x.iri, supervision=x.supervision,
                           sources=list(x.sources), relation="supervised by")
                todo.append(sup)
    return g


def referral_graph(kb, condition: str | None = None):
    """Who refers to whom, optionally only for ``condition``.

    Returns
    -------
    networkx.MultiDiGraph
        One edge per referral rule, keyed by the rule IRI, with ``conditions``
        and ``sources``.
    """
    import networkx as nx

    g = nx.MultiDiGraph(condition=condition)
    for r in kb._referral_rules():
        if condition and condition not in r["conditions"]:
            continue
        for n in (r["fromRole"], r["toRole"]):
            g.add_node(n, label=kb.label(n), kind="role")
        g.add_edge(r["fromRole"], r["toRole"], key=r["rule"], rule=r["rule"],
                   conditions=r["conditions"], sources=r["sources"], relation="refers to")
    return g
