"""The questions analysts ask, answered as plain records (the CLI prints them; the
KnowledgeBase turns them into DataFrames): who can, what can, compare, supervision
chains, referral paths."""

from __future__ import annotations

__all__ = ["who_can", "scope", "compare", "supervision_chains", "referral_paths", "rule_record", "contest",
           "parts"]

from .rules import PERMISSION_ORDER, REASONS


def _ref(kb, iri) -> dict:
    return {"id": str(iri), "label": kb.label(iri)}


def _limits(kb, r) -> list[str]:
    """The scope limits a rule carries (policy A4, A5), as words."""
    out = []
    if r.max_depth:
        out.append(f"skin depth: down to {kb.label(r.max_depth)}")
    out.extend(f"device: {kb.label(d)}" for d in r.devices)
    return out


def rule_record(kb, r, *, conflict: bool = False, role=None, procedure=None) -> dict:
    """A governing answer as the JSON record every answer uses.

    ``role`` and ``procedure`` are what the row answers (default: the rule's own);
    ``rule_role`` and ``rule_procedure`` are what the rule is written on.
    """
    sources = [kb.source(s) for s in r.sources]
    return {
        "role": _ref(kb, role or r.role),
        "procedure": _ref(kb, procedure or r.procedure),
        "jurisdiction": kb.names.code(r.jurisdiction),
        "permission": r.permission,
        "supervision": r.supervision,
        "supervisors": [_ref(kb, s) for s in r.supervisors],
        "prior_exam_by": [_ref(kb, s) for s in r.examiners],
        "requires_order": r.requires_order,
        "conditions": r.conditions,
        "requirements": list(r.requirements),
        "limits": _limits(kb, r),
        "effective_date": r.effective_date,
        "basis": r.basis,
        "practice_authority": r.authority,
        "conflict": conflict,
        "confidence": ", ".join(sorted({s["confidence"] or "?" for s in sources})),
        "rule": r.iri,
        "rule_role": _ref(kb, r.role),
        "rule_procedure": _ref(kb, r.procedure),
        "sources": sources,
    }


def _sort(records) -> list[dict]:
    return sorted(records, key=lambda x: (PERMISSION_ORDER.get(x["permission"], 9), x["role"]["label"],
                                          x["procedure"]["label"], x["rule"]))


def parts(kb, iri, kind: str, jurisdiction=None) -> list[str]:
    """What a category or a general term is answered for.

    A procedure with narrower kinds is answered for its most specific kinds (one performs
    a medium-depth peel, not "a chemical peel"); a role that no rule of ``jurisdiction``
    (or the baseline) names is answered for itself and every narrower role ("nurse":
    registered nurse, nurse practitioner, ...). Anything else is answered for itself.
    """
    iri = str(iri)
    terms = [str(t) for t in kb.names.terms(kind)]
    below = [t for t in terms if t != iri and iri in kb._ancestors(t)]
    if not below:
        return [iri]
    if kind == "procedure":
        return sorted((t for t in below if not any(t in kb._ancestors(u) for u in below if u != t)),
                      key=kb.label)
    named = {r.role for r in kb._rules(jurisdiction)} if jurisdiction is not None else set()
    if iri in named:
        return [iri]
    return [iri, *sorted(below, key=kb.label)]


def _rows(kb, jur, pairs) -> list[dict]:
    """One record per governing answer of each (role, procedure) question in ``pairs``."""
    out = []
    for role, proc, own in pairs:
        res = kb.resolution(role, proc, jur)
        for a in res.governing:
            if own(a):
                out.append(rule_record(kb, a, conflict=res.conflict, role=role, procedure=proc))
    return _sort(out)


def _note(kb, iri, answered) -> str | None:
    if answered == [str(iri)]:
        return None
    return f"{kb.label(iri)}: answered for " + ", ".join(kb.label(x) for x in answered)


def who_can(kb, procedure: str, jurisdiction: str) -> dict:
    """Every role with a rule for ``procedure`` (or each of its parts) in ``jurisdiction``, and its answer."""
    proc = kb.resolve(procedure, "procedure")
    jur = kb.jurisdiction(jurisdiction)
    answered = parts(kb, proc, "procedure", jur)
    rules = kb._rules(jur)
    pairs = []
    for p in answered:
        anc = kb._ancestors(p)
        for role in sorted({r.role for r in rules if r.procedure in anc}):
            pairs.append((role, p, lambda a, role=role: a.role == role))
    return {
        "procedure": _ref(kb, proc),
        "jurisdiction": kb.names.code(jur),
        "answered_for": [_ref(kb, x) for x in answered],
        "note": _note(kb, proc, answered),
        "practitioners": _rows(kb, jur, pairs),
    }


def scope(kb, role: str, jurisdiction: str) -> dict:
    """What ``role`` (or each of its parts) may and may not do in ``jurisdiction``."""
    role_iri = kb.resolve(role, "role")
    jur = kb.jurisdiction(jurisdiction)
    answered = parts(kb, role_iri, "role", jur)
    rules = kb._rules(jur)
    pairs = []
    for who in answered:
        anc = kb._ancestors(who)
        for proc in sorted({r.procedure for r in rules if r.role in anc}):
            pairs.append((who, proc, lambda a, proc=proc: a.procedure == proc))
    return {
        "role": _ref(kb, role_iri),
        "jurisdiction": kb.names.code(jur),
        "answered_for": [_ref(kb, x) for x in answered],
        "note": _note(kb, role_iri, answered),
        "procedures": _rows(kb, jur, pairs),
    }


def _why(kb, v) -> str:
    """A verdict in words, naming the rule that beat it and what practice authority changed."""
    text = REASONS[v.reason]
    r = v.rule
    if v.reason == "outside-depth":
        text += f" ({kb.label(r.max_depth)})"
    elif v.reason == "outside-device":
        text += " (" + ", ".join(kb.label(d) for d in r.devices) + ")"
    elif v.reason == "not-in-force":
        text += f" (in force from {r.effective_date})"
    if v.by:
        text += f": {kb.label(v.by)}"
    if r.authority:
        text += f"; practice authority ({r.authority}) sets the supervision"
    if r.requirements and v.outcome in ("governs", "conflict"):
        text += "; conditional on " + ", ".join(r.requirements)
    return text


def contest(kb, role: str, procedure: str, jurisdiction: str, date: str | None = None) -> dict:
    """Every candidate rule for one question and why each governs, lost or was excluded.

    Parameters
    ----------
    role, procedure : str
        Names people type (or IRIs).
    jurisdiction : str
        An ISO 3166-2 code.
    date : str, optional
        The ISO date asked for (default: today).

    Returns
    -------
    dict
        ``role``, ``procedure``, ``jurisdiction``, ``date``, ``practice_authority``,
        ``conflict`` and ``candidates``: one record per rule (the rule record plus
        ``outcome``, ``reason``, ``why`` and ``beaten_by``), winners first.

    Examples
    --------
    >>> kb = load()
    >>> c = contest(kb, "esthetician", "deep chemical peel", "US-SC")
    >>> [(x["outcome"], x["jurisdiction"]) for x in c["candidates"]][0]
    ('governs', 'US')
    """
    role_iri = kb.resolve(role, "role")
    proc = kb.resolve(procedure, "procedure")
    jur = kb.jurisdiction(jurisdiction)
    res = kb.resolution(role_iri, proc, jur, date)
    ctx = kb.resolution_context(jur, date)
    rows = []
    for v in res.verdicts:
        rec = rule_record(kb, v.rule, conflict=v.outcome == "conflict", role=role_iri, procedure=proc)
        rec.update(outcome=v.outcome, reason=v.reason, why=_why(kb, v), beaten_by=v.by)
        rows.append(rec)
    return {
        "role": _ref(kb, role_iri),
        "procedure": _ref(kb, proc),
        "jurisdiction": kb.names.code(jur),
        "date": ctx.date or __import__("datetime").date.today().isoformat(),
        "practice_authority": ctx.authority.label if ctx.authority else None,
        "conflict": res.conflict,
        "candidates": rows,
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
        eff = list(kb.resolution(role_iri, proc, jur).governing)
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

    from .namespaces import MS
    from .projections import referral_graph

    src = kb.resolve(from_role, "role")
    dst = kb.resolve(to_role, "role") if to_role else None
    cond = kb.resolve(condition, "condition") if condition else None
    mg = referral_graph(kb, cond)
    start = src
    if start not in mg or mg.out_degree(start) == 0:  # inherit a broader role's referrals
        for a in sorted(kb._ancestors(src), key=lambda x: -len(kb._ancestors(x))):
            if a in mg and mg.out_degree(a) > 0:
                start = a
                break
    conditions = [str(cond)] if cond else sorted({c for _u, _v, d in mg.edges(data=True) for c in d["conditions"]})
    found: dict = {}  # path -> conditions it serves end to end
    for c in conditions:
        g = nx.DiGraph()
        g.add_edges_from((u, v) for u, v, d in mg.edges(data=True) if c in d["conditions"])
        if start not in g:
            continue
        if dst is None:
            targets = sorted(nx.descendants(g, start))
        else:
            targets = sorted(n for n in g if dst in kb._ancestors(n) and n != start)
        for t in targets:
            for p in itertools.islice(nx.shortest_simple_paths(g, start, t), limit):
                if dst is not None and any(dst in kb._ancestors(x) for x in p[1:-1]):
                    continue  # stop at the first practitioner who is what was asked for
                found.setdefault(tuple(p), set()).add(c)
    ordered = sorted(found, key=lambda p: (len(p), [kb.label(x) for x in p]))[:limit]
    inferred_grade = kb._code(str(MS.Inferred))

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
