"""Which scope rule governs a question: the resolution policy, written once, here.

Every permission is data (``ontology/data/``); this module is the only place where
Python decides between rules. A *question* is (role, procedure, jurisdiction, date).

Resolution policy
-----------------
**A. Which rules apply.** A rule *applies* to the question when all of these hold:

A1 *hierarchy*: its role is the role asked or a broader one, and its procedure is the
   procedure asked or a category above it (a rule on chemical peels speaks of deep ones);
A2 *jurisdiction*: it is the jurisdiction's own rule or the US baseline's;
A3 *date*: it is in force on the date asked: no ``ms:effectiveDate`` or one on or before it, and
   no ``prov:invalidatedAtTime`` or one after it (a superseded rule stays in the graph, with the
   day it ended and ``dcterms:isReplacedBy`` its successor);
A4 *skin depth*: a rule with ``ms:maxSkinDepth`` reaches only procedures whose
   ``ms:skinDepth`` (their own, else the nearest category's) is at or above that layer;
   a procedure of unknown depth is outside it: a rule reaches no further than its source;
A5 *device*: a rule with ``ms:device`` reaches only procedures that use that device
   (``ms:usesProduct`` on the procedure or a category above it).

A rule that fails A3-A5 is *excluded*, and says why.

**B. Which applicable rule governs.** Rules are compared in this order; a rule beaten
at one step loses, and says to which rule and why:

B1 *more specific licence*: a rule on a narrower licence beats one on a broader licence,
   wherever each comes from: the practitioner's own licence speaks first, so a state's
   registered-nurse rule never governs a nurse practitioner who has rules of their own.
   A rule's licence is the narrowest role at or above its role that the data marks
   ``ms:isLicence`` (a nurse practitioner practises under the APRN licence, a
   dermatologist under the physician's); a role under no licence is its own;
B2 *more specific procedure*: among the rules left, a rule on a narrower procedure beats
   one on a category above it, wherever each comes from: a state's rule on all chemical
   peels does not beat the baseline's "not permitted" on deep chemical peels;
B3 *state over baseline*: among rules left (on the same licence, equally specific
   procedures), the jurisdiction's own rules beat the baseline's. So a state rule stands
   over the baseline only where its source reaches; a state's rule on APRNs beats the
   baseline's rule on nurse practitioners;
B3b *more specific role within the licence*: among the rules left, a rule on a narrower
   role beats one on a broader role of the same licence (a state's NP rule over its APRN rule);
B4 *conflict*: the rules left are of equal standing. When their answers (permission,
   supervision) differ, all are shown, each flagged as a conflict; none is picked.

**C. Nurse-practitioner practice authority.** A jurisdiction's ``ms:npPracticeAuthority``
concept says in data which role it speaks of (``ms:appliesToRole``: the APRN and every
narrower role) and what supervision it implies (``ms:impliedSupervision``,
``ms:impliedSupervisor``). For a performer of that role, a governing rule that allows the
procedure and is *not* the state's own rule on that role (a baseline rule, or a rule made
for a broader role such as the registered nurse's) takes the authority's supervision and
supervisors: full practice makes the NP/APRN independent, reduced practice needs a
collaborative physician, restricted practice a supervising physician. The state's own
APRN/NP rules stand as written; a rule that forbids is never widened; and supervisors
listed for a broader role (a physician assistant over a nurse) never supervise the APRN.

**D. Conditions on the performer.** ``ms:requiredCertificate`` and ``ms:minTrainingHours``
on a rule bound who may rely on it: the rule still governs, but a "permitted" answer
becomes "conditional" and the answer states the requirement.

Every rule the question touches gets a :class:`Verdict` (governs, conflict, lost,
excluded) with its reason: the contest that ``explain`` shows.
"""

from __future__ import annotations

__all__ = ["Rule", "Authority", "Context", "Verdict", "Resolution", "resolve", "effective_rules", "today",
           "PERMISSION_ORDER", "REASONS"]

import datetime as _dt
from dataclasses import dataclass, field, replace

PERMISSION_ORDER = {"permitted": 0, "conditional": 1, "not-permitted": 2}

#: Why a rule governs, lost or was excluded (the codes of :attr:`Verdict.reason`).
REASONS = {
    "governs": "the most specific rule that applies",
    "conflict": "applies with equal standing to another rule that answers differently",
    "narrower-role": "beaten by a rule on a more specific licence or role",
    "narrower-procedure": "beaten by a rule on a more specific procedure",
    "state-over-baseline": "beaten by the jurisdiction's own rule, equally specific",
    "not-in-force": "not in force on the date asked",
    "outside-depth": "the procedure goes deeper than the rule's skin-depth limit",
    "outside-device": "the procedure does not use the device the rule is limited to",
}


@dataclass(frozen=True)
class Rule:
    """One scope rule, as read from the graph (codes for concepts, IRIs for terms).

    The limits (``max_depth``, ``devices``) decide whether the rule reaches a procedure;
    the requirements (``certificates``, ``training_hours``) bound who may rely on it.
    ``authority`` is set on an answer that practice authority adjusted (policy C).
    """

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
    invalidated: str | None = None  # the day the rule stopped being in force (prov:invalidatedAtTime)
    requires_order: bool | None = None
    baseline: bool = False
    max_depth: str | None = None
    devices: tuple = ()
    certificates: tuple = ()
    training_hours: int | None = None
    authority: str | None = None

    @property
    def basis(self) -> str:
        """``"baseline"`` or ``"jurisdiction"``: whose rule this is."""
        return "baseline" if self.baseline else "jurisdiction"

    @property
    def independent(self) -> bool:
        """Whether the rule lets its role perform the procedure with no supervisor."""
        return self.permission != "not-permitted" and self.supervision == "independent"

    @property
    def requirements(self) -> tuple:
        """The performer-side requirements, as words (policy D)."""
        out = tuple(f"certificate: {c}" for c in self.certificates)
        if self.training_hours is not None:
            out += (f"training: at least {self.training_hours} hours",)
        return out


@dataclass(frozen=True)
class Authority:
    """A jurisdiction's NP practice authority, as data (policy C).

    ``role`` is the role it speaks of (it covers every narrower role); ``supervision`` is
    the supervision code it implies (``None``: the rule's own level stands) and
    ``supervisors`` the roles it names as supervisors (empty for full practice).
    """

    iri: str
    label: str
    role: str
    supervision: str | None = None
    supervisors: tuple = ()


def today() -> str:
    """Today's date, ISO: the day a question is asked for when it names none."""
    return _dt.date.today().isoformat()


@dataclass(frozen=True)
class Context:
    """What resolution reads besides the rules: the hierarchy, depths, devices, authority, date.

    Parameters
    ----------
    ancestors : callable
        ``ancestors(term)``: the term and all its superclasses (a frozenset of IRIs).
    depth : mapping
        Procedure IRI -> rank of its own ``ms:skinDepth`` (0 = skin surface, larger = deeper).
    depth_rank : mapping
        Skin-depth concept IRI -> rank (for a rule's ``max_depth``).
    uses : mapping
        Procedure IRI -> the products (devices) it uses.
    authority : Authority, optional
        The jurisdiction's NP practice authority.
    date : str, optional
        The ISO date the question is asked for; today when not given.
    licences : frozenset
        The roles that are licences (``ms:isLicence``), for policy B1.
    """

    ancestors: object
    depth: dict = field(default_factory=dict)
    depth_rank: dict = field(default_factory=dict)
    uses: dict = field(default_factory=dict)
    authority: Authority | None = None
    date: str | None = None
    licences: frozenset = frozenset()

    def licence(self, role: str) -> str:
        """The licence ``role`` practises under: the narrowest licence at or above it, else itself.

        >>> up = {"NP": {"NP", "APRN", "RN"}, "APRN": {"APRN", "RN"}, "RN": {"RN"}, "MA": {"MA"}}
        >>> ctx = Context(lambda t: frozenset(up[t]), licences=frozenset({"APRN", "RN"}))
        >>> ctx.licence("NP"), ctx.licence("APRN"), ctx.licence("MA")
        ('APRN', 'APRN', 'MA')
        """
        held = [a for a in self.ancestors(role) if a in self.licences]
        if not held:
            return role
        return max(held, key=lambda a: (len(self.ancestors(a)), a))

    def procedure_depth(self, procedure: str) -> int | None:
        """The rank of ``procedure``'s skin depth: its own, else its nearest category's.

        >>> ctx = Context(lambda t: frozenset({t, "Peel"}) if t == "Deep" else frozenset({t}),
        ...               depth={"Peel": 1})
        >>> ctx.procedure_depth("Deep"), ctx.procedure_depth("Other")
        (1, None)
        """
        if procedure in self.depth:
            return self.depth[procedure]
        known = [a for a in self.ancestors(procedure) if a in self.depth]
        if not known:
            return None
        nearest = max(known, key=lambda a: (len(self.ancestors(a)), a))
        return self.depth[nearest]

    def uses_device(self, procedure: str, device: str) -> bool:
        """Whether ``procedure`` (or a category above it) uses ``device``."""
        return any(device in self.uses.get(a, ()) for a in self.ancestors(procedure))


@dataclass(frozen=True)
class Verdict:
    """What became of one rule in a question: ``outcome`` and ``reason`` (a :data:`REASONS` code).

    ``outcome`` is ``"governs"``, ``"conflict"`` (governs, flagged), ``"lost"`` or
    ``"excluded"``; ``by`` is the rule that beat it, when it lost.
    """

    rule: Rule
    outcome: str
    reason: str
    by: str | None = None


@dataclass(frozen=True)
class Resolution:
    """The answer to one question: the governing rules (as answers) and every verdict."""

    role: str
    procedure: str
    governing: tuple
    verdicts: tuple

    @property
    def conflict(self) -> bool:
        """Whether the governing rules disagree (policy B4)."""
        return _disagree(self.governing)


def _disagree(answers) -> bool:
    """Whether ``answers`` give more than one (permission, supervision)."""
    return len({(a.permission, a.supervision) for a in answers}) > 1


def _excluded(rule: Rule, procedure: str, ctx: Context) -> str | None:
    """Why ``rule`` does not reach ``procedure`` on the date asked (A3-A5), or ``None``."""
    day = ctx.date or today()
    if rule.effective_date and rule.effective_date > day:
        return "not-in-force"
    if rule.invalidated and rule.invalidated[:10] <= day:
        return "not-in-force"
    if rule.max_depth is not None:
        limit = ctx.depth_rank.get(rule.max_depth)
        depth = ctx.procedure_depth(procedure)
        if limit is None or depth is None or depth > limit:
            return "outside-depth"
    if rule.devices and not any(ctx.uses_device(procedure, d) for d in rule.devices):
        return "outside-device"
    return None


def _most_specific(rules, term, ancestors, reason, verdicts) -> list:
    """The rules whose ``term(rule)`` no other rule's is strictly narrower than; the rest lose."""
    keep = []
    for r in rules:
        mine = term(r)
        beater = next((b for b in rules if term(b) != mine and mine in ancestors(term(b))), None)
        if beater is None:
            keep.append(r)
        else:
            verdicts[r.iri] = Verdict(r, "lost", reason, beater.iri)
    return keep


def _answer(rule: Rule, role: str, ctx: Context) -> Rule:
    """``rule`` as the answer for ``role``: practice authority (C) and requirements (D) applied."""
    out = rule
    auth = ctx.authority
    if (auth is not None and auth.role in ctx.ancestors(role) and rule.permission != "not-permitted"
            and not (not rule.baseline and auth.role in ctx.ancestors(rule.role))):
        out = replace(out, supervision=auth.supervision or rule.supervision, supervisors=tuple(auth.supervisors),
                      authority=auth.label)
    if out.requirements and out.permission == "permitted":
        out = replace(out, permission="conditional")
    return out


def resolve(rules, role: str, procedure: str, context: Context) -> Resolution:
    """Resolve which of ``rules`` govern ``role`` performing ``procedure`` (the policy above).

    Parameters
    ----------
    rules : iterable of Rule
        The jurisdiction's own rules and the baseline's (``Rule.baseline`` tells them apart).
    role, procedure : str
        IRIs of the role and the procedure asked about.
    context : Context
        The hierarchy, depths, devices, practice authority and date.

    Returns
    -------
    Resolution
        ``governing``: the answers (rules with practice authority and requirements applied),
        sorted by IRI; ``verdicts``: one per rule the question touches (A1, A2 hold).

    Examples
    --------
    >>> up = {"RN": {"RN"}, "NP": {"NP", "RN"}, "Botox": {"Botox", "Inj"}, "Inj": {"Inj"}}
    >>> ctx = Context(lambda t: frozenset(up[t]))
    >>> state = Rule("s", "RN", "Botox", "TX", "permitted", "onsite/direct")
    >>> base = Rule("b", "NP", "Inj", "US", "permitted", "protocol/standing-order", baseline=True)
    >>> res = resolve([state, base], "NP", "Botox", ctx)
    >>> [r.iri for r in res.governing], [(v.rule.iri, v.reason) for v in res.verdicts]
    (['b'], [('b', 'governs'), ('s', 'narrower-role')])
    """
    anc = context.ancestors
    role_anc, proc_anc = anc(role), anc(procedure)
    verdicts: dict = {}
    cands = []
    for r in rules:
        if r.role not in role_anc or r.procedure not in proc_anc:
            continue
        why = _excluded(r, procedure, context)
        if why:
            verdicts[r.iri] = Verdict(r, "excluded", why)
        else:
            cands.append(r)
    cands = _most_specific(cands, lambda r: context.licence(r.role), anc, "narrower-role", verdicts)
    cands = _most_specific(cands, lambda r: r.procedure, anc, "narrower-procedure", verdicts)
    state = [r for r in cands if not r.baseline]
    if state:
        for r in cands:
            if r.baseline:
                verdicts[r.iri] = Verdict(r, "lost", "state-over-baseline", state[0].iri)
        cands = state
    cands = _most_specific(cands, lambda r: r.role, anc, "narrower-role", verdicts)
    cands = sorted(cands, key=lambda r: r.iri)
    answers = tuple(_answer(r, role, context) for r in cands)
    conflict = _disagree(answers)
    for a in answers:
        verdicts[a.iri] = Verdict(a, "conflict" if conflict else "governs", "conflict" if conflict else "governs")
    order = {"governs": 0, "conflict": 0, "lost": 1, "excluded": 2}
    ranked = sorted(verdicts.values(), key=lambda v: (order[v.outcome], v.rule.iri))
    return Resolution(role, procedure, answers, tuple(ranked))


def effective_rules(rules, role: str, procedure: str, ancestors, context: Context | None = None) -> list[Rule]:
    """The answers that govern ``role`` performing ``procedure``: :func:`resolve`'s ``governing``.

    ``ancestors(term)`` returns a class and all its superclasses; ``context`` (when given)
    brings depths, devices, practice authority and the date, and its own ``ancestors``.

    >>> up = {"E": {"E"}, "Peel": {"Peel"}, "Deep": {"Deep", "Peel"}}
    >>> broad = Rule("sc", "E", "Peel", "SC", "conditional", "independent")
    >>> narrow = Rule("us", "E", "Deep", "US", "not-permitted", "not-permitted", baseline=True)
    >>> [r.iri for r in effective_rules([broad, narrow], "E", "Deep", lambda t: frozenset(up[t]))]
    ['us']
    """
    ctx = context if context is not None else Context(ancestors)
    return list(resolve(rules, role, procedure, ctx).governing)
