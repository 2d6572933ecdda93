"""Scope rules as Python records, and the precedence that picks the rule that applies.

Precedence (the only policy in Python; every permission itself is data):
a jurisdiction's own rules before the US baseline, then the most specific role,
then the most specific procedure. Rules left tied are all kept: they are
conflicting sources, shown side by side.
"""

from __future__ import annotations

__all__ = ["Rule", "effective_rules", "PERMISSION_ORDER"]

from dataclasses import dataclass

PERMISSION_ORDER = {"permitted": 0, "conditional": 1, "not-permitted": 2}


@dataclass(frozen=True)
class Rule:
    """One scope rule, as read from the graph."""

    iri: str
    role: str
    procedure: str
    jurisdiction: str
    permission: str  # code: permitted | not-permitted | conditional
    supervision: str  # code: independent | onsite/direct | ...
    supervisors: tuple = ()
    examiners: tuple = ()
    sources: tuple = ()
    conditions: str | None = None
    effective_date: str | None = None
    requires_order: bool | None = None
    baseline: bool = False

    @property
    def basis(self) -> str:
        return "baseline" if self.baseline else "jurisdiction"

    @property
    def independent(self) -> bool:
        return self.permission != "not-permitted" and self.supervision == "independent"


def effective_rules(rules, role: str, procedure: str, ancestors) -> list[Rule]:
    """The rules that govern ``role`` performing ``procedure`` among ``rules``.

    ``ancestors(term)`` returns the set of a class and all its superclasses.
    """
    role_anc, proc_anc = ancestors(role), ancestors(procedure)
    cands = [r for r in rules if r.role in role_anc and r.procedure in proc_anc]
    if not cands:
        return []
    state = [r for r in cands if not r.baseline]
    cands = state or cands
    best = max(len(ancestors(r.role)) for r in cands)
    cands = [r for r in cands if len(ancestors(r.role)) == best]
    best = max(len(ancestors(r.procedure)) for r in cands)
    cands = [r for r in cands if len(ancestors(r.procedure)) == best]
    return sorted(cands, key=lambda r: r.iri)
