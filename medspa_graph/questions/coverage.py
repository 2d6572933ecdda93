"""How much of the core matrix each jurisdiction answers from its own law.

The core matrix is the six roles a med spa staffs most (registered nurse, practical nurse,
medical assistant, esthetician, nurse practitioner, physician assistant) by the six procedures
asked about most (neurotoxin, filler, laser hair removal, IV therapy, superficial peel,
microneedling): 36 cells a jurisdiction. A cell's status is read from the rules that govern
that role there (the resolution policy of :mod:`medspa_graph.questions.rules`: a nurse practitioner's
cell may be answered by the state's rule on APRNs or registered nurses):

- ``state rule``: the governing rule is the jurisdiction's own;
- ``searched-not-found``: the state's law was searched for the cell and found silent (a search
  record, ``ms:SearchRecord``); ``fallback`` says what answers instead (``baseline`` or
  ``no rule``) and ``searched`` what was searched and when;
- ``baseline``: no rule of the state's own governs and no search is recorded; the US baseline answers;
- ``no rule``: neither has a rule for the role, and no search is recorded.
"""

from __future__ import annotations

__all__ = ["CORE_ROLES", "CORE_PROCEDURES", "STATUSES", "coverage", "summary"]

CORE_ROLES = ["registered nurse", "licensed practical nurse", "medical assistant", "esthetician",
              "nurse practitioner", "physician assistant"]
CORE_PROCEDURES = ["neurotoxin injection", "dermal filler injection", "laser hair removal", "IV therapy",
                   "superficial chemical peel", "microneedling"]
STATUSES = ["state rule", "searched-not-found", "baseline", "no rule"]


def coverage(kb, jurisdiction: str | None = None):
    """One row per jurisdiction, role and procedure of the core matrix: its status and rule.

    Returns
    -------
    pandas.DataFrame
        ``jurisdiction``, ``role``, ``procedure``, ``status`` (one of :data:`STATUSES`),
        ``fallback`` (what answers a searched-not-found cell), ``permission``, ``supervision``,
        ``rule``, ``searched`` (for a searched-not-found cell: the day and what was searched).

    Examples
    --------
    >>> from medspa_graph import load
    >>> df = coverage(load(), "US-FL")
    >>> len(df), sorted(set(df.status)) <= STATUSES
    (36, True)
    """
    import pandas as pd

    from medspa_graph.questions.answers import searched

    codes = [kb.names.code(kb.jurisdiction(jurisdiction))] if jurisdiction else \
        [c for c in kb.jurisdictions() if c != "US"]
    roles = [kb.resolve(r, "role") for r in CORE_ROLES]
    procs = [kb.resolve(p, "procedure") for p in CORE_PROCEDURES]
    rows = []
    for code in codes:
        jur = kb.jurisdiction(code)
        for proc in procs:
            for role in roles:
                governing = kb.resolution(role, proc, jur).governing
                fallback = silent = None
                if any(not r.baseline for r in governing):
                    status = "state rule"
                else:
                    status = "baseline" if governing else "no rule"
                    found = searched(kb, jur, role, proc, governing=governing)
                    if found:
                        status, fallback = "searched-not-found", status
                        silent = "; ".join(f"{s['searched_on']}: {s['searched']}" for s in found)
                first = governing[0] if governing else None
                rows.append({"jurisdiction": code, "role": kb.label(role), "procedure": kb.label(proc),
                             "status": status, "fallback": fallback,
                             "permission": first.permission if first else None,
                             "supervision": first.supervision if first else None,
                             "rule": first.iri if first else None, "searched": silent})
    return pd.DataFrame(rows, columns=["jurisdiction", "role", "procedure", "status", "fallback", "permission",
                                       "supervision", "rule", "searched"])


def summary(cells):
    """Counts of each status per jurisdiction, and the share of cells answered by a state rule.

    >>> from medspa_graph import load
    >>> s = summary(coverage(load(), "US-FL"))
    >>> list(s.columns)
    ['jurisdiction', 'state rule', 'searched-not-found', 'baseline', 'no rule', 'cells', 'state share']
    """
    table = cells.pivot_table(index="jurisdiction", columns="status", values="role", aggfunc="count",
                              fill_value=0).reindex(columns=STATUSES, fill_value=0)
    table["cells"] = table.sum(axis=1)
    table["state share"] = (table["state rule"] / table["cells"]).round(3)
    table = table.reset_index()
    table.columns.name = None
    return table
