"""The questions analysts ask, answered as plain records (the CLI prints them; the
KnowledgeBase turns them into DataFrames): who can, what can, compare, supervision
chains, referral paths."""

from __future__ import annotations

__all__ = ["who_can", "scope", "compare", "supervision_chains", "referral_paths", "rule_record", "contest",
           "parts", "searched"]

from medspa_graph.questions.rules import PERMISSION_ORDER, REASONS


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
    below = [t for t in terms if t != iri and iri in kb.catalog.ancestors(t)]
    if not below:
        return [iri]
    if kind == "procedure":
        return sorted((t for t in below if not any(t in kb.catalog.ancestors(u) for u in below if u != t)),
                      key=kb.label)
    named = {r.role for r in kb.catalog.rules(jurisdiction)} if jurisdiction is not None else set()
    if iri in named:
        return [iri]
    return [iri, *sorted(below, key=kb.label)]


def _rows(kb, jur, pairs, date=None) -> list[dict]:
    """One record per governing answer of each (role, procedure) question in ``pairs``, on ``date``.

    A pair's third item, when not ``None``, keeps only the answers it accepts.
    """
    out = []
    for role, proc, own in pairs:
        res = kb.resolution(role, proc, jur, date)
        for a in res.governing:
            if own is None or own(a):
                out.append(rule_record(kb, a, conflict=res.conflict, role=role, procedure=proc))
    return _sort(out)


def searched(kb, jur, role, procedure, date=None, governing=None) -> list[dict]:
    """What was searched and found silent for ``role`` performing ``procedure`` in ``jur``.

    A search record speaks of exactly its role (a silence about registered nurses says
    nothing of nurse practitioners) and of its procedure or every procedure below it (a
    search for injectables covers neurotoxins). It is shown only where no rule of the
    jurisdiction's own governs: ``fallback`` then says what answers instead (``"baseline"``
    or ``"no rule"``). Empty where no record applies or a state rule governs.
    """
    role, procedure = str(role), str(procedure)
    anc = kb.catalog.ancestors(procedure)
    found = [s for s in kb.catalog.searches(jur) if s["role"] == role and s["procedure"] in anc]
    if not found:
        return []
    if governing is None:  # the caller may have resolved the question already
        governing = kb.resolution(role, procedure, jur, date).governing
    if any(not r.baseline for r in governing):
        return []
    fallback = "baseline" if governing else "no rule"
    return [{"role": _ref(kb, role), "procedure": _ref(kb, procedure), "jurisdiction": kb.names.code(jur),
             "searched_on": s["date"], "searched": s["searched"], "record": s["record"],
             "record_procedure": _ref(kb, s["procedure"]), "fallback": fallback,
             "sources": [kb.source(x) for x in s["sources"]]} for s in found]


def _searched_cells(kb, jur, cells, date=None) -> list[dict]:
    out = []
    for role, proc in dict.fromkeys(cells):
        out.extend(searched(kb, jur, role, proc, date))
    return sorted(out, key=lambda x: (x["role"]["label"], x["procedure"]["label"], x["record"]))


def _note(kb, iri, answered) -> str | None:
    if answered == [str(iri)]:
        return None
    return f"{kb.label(iri)}: answered for " + ", ".join(kb.label(x) for x in answered)


def who_can(kb, procedure: str, jurisdiction: str, date: str | None = None) -> dict:
    """Every role with a rule for ``procedure`` (or each of its parts) in ``jurisdiction``, and its answer.

    ``date`` (ISO, default today) is the day asked about: rules not yet in force do not apply.
    """
    proc = kb.resolve(procedure, "procedure")
    jur = kb.jurisdiction(jurisdiction)
    answered = parts(kb, proc, "procedure", jur)
    rules = kb.catalog.rules(jur)
    pairs = []
    for p in answered:
        anc = kb.catalog.ancestors(p)
        for role in sorted({r.role for r in rules if r.procedure in anc}):
            pairs.append((role, p, None))  # the role's answer, whoever's rule it is
    records = kb.catalog.searches(jur)
    cells = [(s["role"], p) for p in answered for s in records if s["procedure"] in kb.catalog.ancestors(p)]
    return {
        "procedure": _ref(kb, proc),
        "jurisdiction": kb.names.code(jur),
        "answered_for": [_ref(kb, x) for x in answered],
        "note": _note(kb, proc, answered),
        "date": date,
        "practitioners": _rows(kb, jur, pairs, date),
        "searched": _searched_cells(kb, jur, cells, date),
    }


def scope(kb, role: str, jurisdiction: str, date: str | None = None) -> dict:
    """What ``role`` (or each of its parts) may and may not do in ``jurisdiction`` (on ``date``)."""
    role_iri = kb.resolve(role, "role")
    jur = kb.jurisdiction(jurisdiction)
    answered = parts(kb, role_iri, "role", jur)
    rules = kb.catalog.rules(jur)
    pairs = []
    for who in answered:
        anc = kb.catalog.ancestors(who)
        for proc in sorted({r.procedure for r in rules if r.role in anc}):
            pairs.append((who, proc, lambda a, proc=proc: a.procedure == proc))
    rows = _rows(kb, jur, pairs, date)
    cells = [(s["role"], s["procedure"]) for s in kb.catalog.searches(jur) if s["role"] in answered]
    if len(answered) > 1:  # a general role: name only the parts that have an answer
        answered = [x for x in answered if any(r["role"]["id"] == x for r in rows)] or answered
    return {
        "role": _ref(kb, role_iri),
        "jurisdiction": kb.names.code(jur),
        "answered_for": [_ref(kb, x) for x in answered],
        "note": _note(kb, role_iri, answered),
        "date": date,
        "procedures": rows,
        "searched": _searched_cells(kb, jur, cells, date),
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
    >>> from medspa_graph import load
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
    from medspa_graph.errors import UnknownTermError

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


from medspa_graph.questions.chains import referral_paths, supervision_chains  # noqa: E402  (their home is chains.py)
