"""Supervision chains and referral paths: the graph walks over the resolved rules.

:func:`supervision_graph` and :func:`referral_graph` project the rules onto networkx graphs
(each role's edges come from the rules that govern it under :mod:`medspa_graph.questions.rules`);
:func:`supervision_chains` and :func:`referral_paths` walk them. Nodes are IRIs; edges keep
the rule IRI and its sources, so any networkx algorithm (or backend) can run on them.
"""

from __future__ import annotations

__all__ = ["supervision_graph", "referral_graph", "supervision_chains", "referral_paths"]


def _ref(kb, iri) -> dict:
    return {"id": str(iri), "label": kb.label(iri)}


def supervision_graph(kb, procedure: str, jurisdiction: str, performer: str | None = None):
    """Who supervises whom for ``procedure`` in ``jurisdiction``.

    Every role with a rule for the procedure (or a category above it), and ``performer``
    if given, is a node with its governing answer's ``permission``, ``supervision``,
    ``independent``, ``rule``, ``rules`` and ``basis``; an edge ``performer -> supervisor``
    exists for each acceptable supervisor of a governing answer that allows the procedure.
    The answers come from :mod:`medspa_graph.questions.rules`, practice authority included.

    Returns
    -------
    networkx.DiGraph
    """
    import networkx as nx

    rules = kb.catalog.rules(jurisdiction)
    proc_anc = kb.catalog.ancestors(procedure)
    todo = sorted({r.role for r in rules if r.procedure in proc_anc} | ({str(performer)} if performer else set()))
    g = nx.DiGraph(procedure=procedure, jurisdiction=jurisdiction)
    seen = set()
    while todo:
        role = todo.pop()
        if role in seen:
            continue
        seen.add(role)
        eff = kb.resolution(role, procedure, jurisdiction).governing
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
            for sup in x.supervisors:  # the supervisor's own node attributes come when it is visited
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
    for r in kb.catalog.referral_rules():
        if condition and condition not in r["conditions"]:
            continue
        for n in (r["fromRole"], r["toRole"]):
            g.add_node(n, label=kb.label(n), kind="role")
        g.add_edge(r["fromRole"], r["toRole"], key=r["rule"], rule=r["rule"],
                   conditions=r["conditions"], sources=r["sources"], relation="refers to")
    return g


def supervision_chains(kb, role: str, procedure: str, jurisdiction: str, *, limit: int = 20) -> dict:
    """Chains from the performer up to someone who may act independently, shortest first.

    ``status`` is ``"ok"`` with at least one chain, or says why there is none:
    ``"not-permitted"``, ``"no-rule"``, ``"cycle"`` or ``"no-route"``.
    """
    import networkx as nx

    role_iri = kb.resolve(role, "role")
    proc = kb.resolve(procedure, "procedure")
    jur = kb.jurisdiction(jurisdiction)
    g = supervision_graph(kb, proc, jur, performer=role_iri)
    node = g.nodes[str(role_iri)]
    result = {
        "role": _ref(kb, role_iri),
        "procedure": _ref(kb, proc),
        "jurisdiction": kb.names.code(jur),
        "status": "ok",
        "problem": None,
        "chains": [],
        "steps": [],
    }
    if node.get("rule") is None:
        result.update(status="no-rule", problem=f"no rule covers {kb.label(role_iri)} performing {kb.label(proc)} here")
        return result
    if node.get("permission") == "not-permitted":
        result.update(status="not-permitted", problem=f"{kb.label(role_iri)} may not perform {kb.label(proc)} here (rule {node['rule']})")
        return result
    chains = [[role_iri]] if node.get("independent") else []
    targets = {n for n, d in g.nodes(data=True) if d.get("independent")}
    chains.extend(nx.all_simple_paths(g, role_iri, targets))
    chains = sorted({tuple(c) for c in chains}, key=lambda c: (len(c), [kb.label(x) for x in c]))[:limit]
    if not chains:
        try:  # a cycle the performer can reach; one elsewhere is not its problem
            cycle = nx.find_cycle(g, role_iri)
            path = " -> ".join(kb.label(u) for u, _v in cycle) + " -> " + kb.label(cycle[0][0])
            result.update(status="cycle", problem=f"supervision cycle {path}; no chain reaches an independent practitioner")
        except nx.NetworkXNoCycle:
            result.update(status="no-route", problem=f"no chain from {kb.label(role_iri)} reaches a practitioner who may perform {kb.label(proc)} independently")
        return result
    result["chains"] = [[_ref(kb, x) for x in c] for c in chains]
    result["steps"] = [
        [{"from": _ref(kb, u), "to": _ref(kb, v), "rule": g.edges[u, v]["rule"],
          "supervision": g.edges[u, v]["supervision"]} for u, v in zip(c, c[1:])]
        for c in chains
    ]
    return result


def referral_paths(kb, from_role: str, to_role: str | None = None, condition: str | None = None,
                   *, limit: int = 20) -> dict:
    """Referral paths from ``from_role`` (to ``to_role``, for ``condition``), shortest first.

    Every hop of a path serves one same condition: a path is walked within the referral
    rules of one condition at a time, so a client sent on for an injury is never passed
    on for wrinkles. ``conditions[i]`` lists the conditions path ``i`` serves end to end.
    Each hop says whether it is ``inferred`` (every source of its rules is graded
    inferred) and whether it is ``inherited`` (the rule is written for a broader role
    than the one asked about).
    """
    import itertools

    import networkx as nx

    from medspa_graph.namespaces import MS

    src = kb.resolve(from_role, "role")
    dst = kb.resolve(to_role, "role") if to_role else None
    cond = kb.resolve(condition, "condition") if condition else None
    mg = referral_graph(kb, cond)
    # the role's own referrals, else the nearest broader role's that has some
    nearest_first = sorted(kb.catalog.ancestors(src), key=lambda x: (-len(kb.catalog.ancestors(x)), x))
    start = next((a for a in nearest_first if a in mg and mg.out_degree(a)), src)
    conditions = [str(cond)] if cond else sorted({c for _u, _v, d in mg.edges(data=True) for c in d["conditions"]})
    found: dict = {}  # path -> conditions it serves end to end
    for c in conditions:
        g = nx.DiGraph()
        g.add_edges_from((u, v) for u, v, d in mg.edges(data=True) if c in d["conditions"])
        if start not in g:
            continue
        reach = nx.descendants(g, start)
        targets = sorted(n for n in reach if dst is None or dst in kb.catalog.ancestors(n))
        for t in targets:
            for p in itertools.islice(nx.shortest_simple_paths(g, start, t), limit):
                if dst is not None and any(dst in kb.catalog.ancestors(x) for x in p[1:-1]):
                    continue  # stop at the first practitioner who is what was asked for
                found.setdefault(tuple(p), set()).add(c)
    ordered = sorted(found, key=lambda p: (len(p), [kb.label(x) for x in p]))[:limit]
    inferred_grade = kb.catalog.code(str(MS.Inferred))

    def hop(u, v, served):
        rules = {k: d for k, d in (mg.get_edge_data(u, v) or {}).items() if set(d["conditions"]) & served}
        out = [{"rule": k, "conditions": [_ref(kb, c) for c in d["conditions"] if c in served],
                "sources": [kb.source(s) for s in d["sources"]]} for k, d in sorted(rules.items())]
        inferred = all(s["confidence"] == inferred_grade for r in out for s in r["sources"])
        return {"from": _ref(kb, src if u == start else u), "to": _ref(kb, v), "rules": out,
                "inferred": bool(out) and inferred, "inherited": u == start and start != src}

    shown = [[src, *p[1:]] for p in ordered]
    return {
        "from": _ref(kb, src),
        "to": _ref(kb, dst) if dst else None,
        "condition": _ref(kb, cond) if cond else None,
        "paths": [[_ref(kb, x) for x in p] for p in shown],
        "conditions": [[_ref(kb, c) for c in sorted(found[p], key=kb.label)] for p in ordered],
        "hops": [[hop(u, v, found[p]) for u, v in zip(p, p[1:])] for p in ordered],
    }
