"""The questions analysts ask, answered as plain records (the CLI prints them; the
KnowledgeBase turns them into DataFrames): who can, what can, compare, supervision
chains, referral paths."""

from __future__ import annotations

__all__ = ["who_can", "scope", "compare", "supervision_chains", "referral_paths", "rule_record"]

from .rules import PERMISSION_ORDER, effective_rules


def _ref(kb, iri) -> dict:
    return {"id": str(iri), "label": kb.label(iri)}


def rule_record(kb, r, *, conflict: bool = False) -> dict:
    """A rule as the JSON record every answer uses."""
    return {
        "role": _ref(kb, r.role),
        "procedure": _ref(kb, r.procedure),
        "jurisdiction": kb.names.code(r.jurisdiction),
        "permission": r.permission,
        "supervision": r.supervision,
        "supervisors": [_ref(kb, s) for s in r.supervisors],
        "prior_exam_by": [_ref(kb, s) for s in r.examiners],
        "requires_order": r.requires_order,
        "conditions": r.conditions,
        "effective_date": r.effective_date,
        "basis": r.basis,
        "conflict": conflict,
        "rule": r.iri,
        "sources": [kb.source(s) for s in r.sources],
    }


def _records(kb, rules) -> list[dict]:
    """Records for rules, flagging conflicts (same role and procedure, different answers)."""
    groups: dict = {}
    for r in rules:
        groups.setdefault((r.role, r.procedure), []).append(r)
    out = []
    for r in rules:
        peers = groups[(r.role, r.procedure)]
        conflict = len({(p.permission, p.supervision) for p in peers}) > 1
        out.append(rule_record(kb, r, conflict=conflict))
    out.sort(key=lambda x: (PERMISSION_ORDER.get(x["permission"], 9), x["role"]["label"], x["procedure"]["label"], x["rule"]))
    return out


def _governing(kb, rules, *, role=None, procedure=None) -> list:
    """The rules that govern a fixed procedure for each role that has one (``procedure``
    given), or a fixed role for each procedure it has a rule for (``role`` given).

    A rule of a broader category or role shadows the narrower baseline rule it outranks,
    so each answer row is the rule that actually applies to its own role or procedure.
    """
    anc = kb._ancestors
    if procedure is not None:
        pairs = {(r.role, procedure) for r in rules if r.procedure in anc(procedure)}
        own = lambda r, pair: r.role == pair[0]  # noqa: E731
    else:
        pairs = {(role, r.procedure) for r in rules if r.role in anc(role)}
        own = lambda r, pair: r.procedure == pair[1]  # noqa: E731
    chosen = {}
    for pair in pairs:
        for r in effective_rules(rules, pair[0], pair[1], anc):
            if own(r, pair):
                chosen[r.iri] = r
    return list(chosen.values())


def who_can(kb, procedure: str, jurisdiction: str) -> dict:
    """Every role with a rule for ``procedure`` in ``jurisdiction`` and the rule that applies."""
    proc = kb.resolve(procedure, "procedure")
    jur = kb.jurisdiction(jurisdiction)
    return {
        "procedure": _ref(kb, proc),
        "jurisdiction": kb.names.code(jur),
        "practitioners": _records(kb, _governing(kb, kb._rules(jur), procedure=proc)),
    }


def scope(kb, role: str, jurisdiction: str) -> dict:
    """What ``role`` may and may not do in ``jurisdiction``: one record per governing rule."""
    role_iri = kb.resolve(role, "role")
    jur = kb.jurisdiction(jurisdiction)
    return {
        "role": _ref(kb, role_iri),
        "jurisdiction": kb.names.code(jur),
        "procedures": _records(kb, _governing(kb, kb._rules(jur), role=role_iri)),
    }


def compare(kb, term: str, jurisdictions) -> dict:
    """The same procedure (or role) across jurisdictions, side by side."""
    from .errors import UnknownTermError

    kind, iri = None, None
    errors = []
    for k in ("procedure", "role"):
        try:
            iri, kind = kb.resolve(term, k), k
            break
        except UnknownTermError as e:
            errors.append(e)
    if iri is None:
        matches = [m for e in errors for m in e.matches]
        raise UnknownTermError(term, "procedure or role", matches[:5])
    codes = [kb.names.code(kb.jurisdiction(j)) for j in jurisdictions]
    rows: dict = {}
    for code in codes:
        ans = who_can(kb, iri, code) if kind == "procedure" else scope(kb, iri, code)
        items = ans["practitioners"] if kind == "procedure" else ans["procedures"]
        axis = "role" if kind == "procedure" else "procedure"
        for rec in items:
            row = rows.setdefault(rec[axis]["id"], {axis: rec[axis], "cells": {c: [] for c in codes}})
            row["cells"][code].append(rec)
    out_rows = sorted(rows.values(), key=lambda r: r["role" if kind == "procedure" else "procedure"]["label"])
    for r in out_rows:
        answers = {c: tuple(sorted((x["permission"], x["supervision"]) for x in cell)) for c, cell in r["cells"].items()}
        r["differs"] = len(set(answers.values())) > 1
    return {"term": _ref(kb, iri), "kind": kind, "jurisdictions": codes, "rows": out_rows}


def supervision_chains(kb, role: str, procedure: str, jurisdiction: str, *, limit: int = 20) -> dict:
    """Chains from the performer up to someone who may act independently, shortest first.

    ``status`` is ``"ok"`` with at least one chain, or says why there is none:
    ``"not-permitted"``, ``"no-rule"``, ``"cycle"`` or ``"no-route"``.
    """
    import networkx as nx

    from .projections import supervision_graph

    role_iri = kb.resolve(role, "role")
    proc = kb.resolve(procedure, "procedure")
    jur = kb.jurisdiction(jurisdiction)
    g = supervision_graph(kb, proc, jur)
    if role_iri not in g:  # a role with no rule of its own: inherit through its ancestors
        eff = effective_rules(kb._rules(jur), role_iri, proc, kb._ancestors)
        g.add_node(role_iri, label=kb.label(role_iri), kind="role", independent=any(r.independent for r in eff),
                   permission=eff[0].permission if eff else None, rule=eff[0].iri if eff else None)
        for r in eff:
            if r.permission != "not-permitted":
                for s in r.supervisors:
                    g.add_edge(role_iri, s, rule=r.iri, supervision=r.supervision, sources=list(r.sources))
    node = g.nodes[role_iri]
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
    targets = [n for n, d in g.nodes(data=True) if d.get("independent")]
    chains = []
    if node.get("independent"):
        chains.append([role_iri])
    for t in targets:
        if t != role_iri and nx.has_path(g, role_iri, t):
            chains.extend(nx.all_simple_paths(g, role_iri, t))
    chains = sorted({tuple(c) for c in chains}, key=lambda c: (len(c), [kb.label(x) for x in c]))[:limit]
    if not chains:
        reach = g.subgraph(nx.descendants(g, role_iri) | {role_iri})
        try:
            cycle = nx.find_cycle(reach, role_iri)
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
    """Referral paths from ``from_role`` (to ``to_role``, for ``condition``), shortest first."""
    import itertools

    import networkx as nx

    from .projections import referral_graph

    src = kb.resolve(from_role, "role")
    dst = kb.resolve(to_role, "role") if to_role else None
    cond = kb.resolve(condition, "condition") if condition else None
    mg = referral_graph(kb, cond)
    g = nx.DiGraph(mg)  # collapse parallel rules; keep one rule per hop below
    start = src
    if start not in g or g.out_degree(start) == 0:  # inherit a broader role's referrals
        for a in sorted(kb._ancestors(src), key=lambda x: -len(kb._ancestors(x))):
            if a in g and g.out_degree(a) > 0:
                start = a
                break
    paths = []
    if start in g:
        if dst is None:
            targets = [n for n in nx.descendants(g, start)]
        else:
            targets = [n for n in g if dst in kb._ancestors(n) and n != start]
        for t in targets:
            if nx.has_path(g, start, t):
                paths.extend(itertools.islice(nx.shortest_simple_paths(g, start, t), limit))
    if dst is not None:  # stop at the first practitioner who is what was asked for
        paths = [p for p in paths if not any(dst in kb._ancestors(x) for x in p[1:-1])]
    if start != src:
        paths = [[src, *p[1:]] for p in paths]
    paths = sorted({tuple(p) for p in paths}, key=lambda p: (len(p), [kb.label(x) for x in p]))[:limit]

    def hop(u, v):
        u0 = start if u == src else u
        rules = mg.get_edge_data(u0, v) or {}
        return [{"rule": k, "conditions": [_ref(kb, c) for c in d["conditions"]],
                 "sources": [kb.source(s) for s in d["sources"]]} for k, d in sorted(rules.items())]

    return {
        "from": _ref(kb, src),
        "to": _ref(kb, dst) if dst else None,
        "condition": _ref(kb, cond) if cond else None,
        "paths": [[_ref(kb, x) for x in p] for p in paths],
        "hops": [[{"from": _ref(kb, u), "to": _ref(kb, v), "rules": hop(u, v)} for u, v in zip(p, p[1:])]
                 for p in paths],
    }
