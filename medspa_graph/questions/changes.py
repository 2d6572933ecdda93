"""What changed: the scope rules that began or ended since a date, with their sources.

A rule begins on its ``ms:effectiveDate`` and ends on its ``prov:invalidatedAtTime``
(``dcterms:isReplacedBy`` names its successor); superseded rules stay in the graph, so
the questions can be asked as of any day (``--as-of``) and this list can be drawn.
"""

from __future__ import annotations

__all__ = ["changes"]


def changes(kb, since: str, jurisdiction: str | None = None) -> list[dict]:
    """Every rule that began or ended on or after ``since`` (ISO date), newest first.

    Each change: ``date``, ``change`` (``began`` or ``ended``), ``jurisdiction``, ``role``,
    ``procedure``, ``permission``, ``supervision``, ``rule``, ``replaced_by`` and ``sources`` (URLs).

    >>> from medspa_graph import load
    >>> rows = changes(load(), "2025-01-01", "US-TX")
    >>> {r["change"] for r in rows} <= {"began", "ended"} and all(r["date"] >= "2025-01-01" for r in rows)
    True
    """
    import datetime

    from medspa_graph.errors import MedspaGraphError

    try:
        datetime.date.fromisoformat(since)
    except (TypeError, ValueError):
        raise MedspaGraphError(f"--since takes a date YYYY-MM-DD, got {str(since)[:40]!r}") from None
    code = kb.names.code(kb.jurisdiction(jurisdiction)) if jurisdiction else None
    out = []
    for r in kb.query("changes").to_dict("records"):
        jur = kb.names.code(str(r["jurisdiction"]))
        if code and jur not in (code,):
            continue
        for kind, key in (("began", "began"), ("ended", "ended")):
            value = r.get(key)
            day = "" if value is None or value != value else str(value)[:10]  # NaN: not bound
            if day and day >= since:
                out.append({"date": day, "change": kind, "jurisdiction": jur,
                            "role": kb.label(str(r["role"])), "procedure": kb.label(str(r["procedure"])),
                            "permission": kb.catalog.code(r["permission"]), "supervision": kb.catalog.code(r["supervision"]),
                            "rule": str(r["rule"]),
                            "replaced_by": str(r["replacedBy"]) if isinstance(r.get("replacedBy"), str) else None,
                            "sources": sorted(str(r.get("urls") or "").split())})
    out.sort(key=lambda c: (c["date"], c["jurisdiction"], c["rule"], c["change"]), reverse=True)
    return out
