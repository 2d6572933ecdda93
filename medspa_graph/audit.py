"""Compliance audit of a staff roster, a clinic list and an appointment log (CSV).

Every check is driven by the scope rules: the rule that governs a role
performing a procedure in a jurisdiction (found by :func:`~medspa_graph.rules.effective_rules`,
the same precedence the questions use) says whether it is permitted, what
supervision it needs and by whom, and whose prior examination. Python only
joins the tables and compares.

Checks
------
``scope``          the performer's role may perform the procedure in the clinic's jurisdiction
``licence``        the performer is licensed in the clinic's jurisdiction
``supervision``    on-site supervision was recorded on the appointment (other levels: the
                   performer's roster supervisor), by a role the rule accepts
``prior-exam``     a required prior examination was recorded, by a role the rule accepts
``staff-chain``    the person-level supervision graph has no cycle, and each chain ends with
                   someone who may act independently (an independent rule in their jurisdiction)
``medical-director`` each clinic's medical director is on the roster and may direct it

Severities: ``violation`` (outside scope or missing a required person), ``warning``
(conditional permission, conflicting sources, no rule at all).

Rows that cannot be read (unknown role, procedure, jurisdiction or staff id, a
duplicate id, a bad date) are rejected with their file, line and reason; rows in =
rows checked + rows rejected.
"""

from __future__ import annotations

__all__ = ["audit", "AuditResult", "read_csv", "COLUMNS"]

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UnknownJurisdictionError, UnknownTermError, UnreadableInputError

#: Required and optional columns of each input, with the other names accepted for them.
COLUMNS = {
    "roster": {
        "required": {"staff_id": ("id", "staff"), "name": ("staff_name", "full_name"), "role": ("title", "job_title"),
                     "licence_jurisdiction": ("license_jurisdiction", "licence_state", "license_state", "jurisdiction"),
                     "clinic_id": ("clinic",)},
        "optional": {"supervisor_id": ("supervisor_staff_id", "supervisor")},
    },
    "clinics": {
        "required": {"clinic_id": ("id", "clinic"), "name": ("clinic_name",), "jurisdiction": ("state",),
                     "medical_director_id": ("medical_director_staff_id", "medical_director")},
        "optional": {},
    },
    "appointments": {
        "required": {"appointment_id": ("id", "appointment"), "start_time": ("start", "time", "date"),
                     "clinic_id": ("clinic",), "performer_id": ("performer_staff_id", "performer", "staff_id"),
                     "procedure": ("service", "treatment")},
        "optional": {"supervisor_id": ("supervising_staff_id", "supervisor_present_id", "supervisor"),
                     "examiner_id": ("prior_exam_by", "prior_examination_by", "examined_by", "examiner")},
    },
}


def _norm(col: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", col.strip().lower()).strip("_")


def read_csv(path, kind: str):
    """Read one input CSV: columns matched case-insensitively (and by their other names).

    Returns (DataFrame of strings with canonical column names plus any extra
    columns, and a ``line`` column) or raises UnreadableInputError naming the file.
    """
    import pandas as pd

    spec = COLUMNS[kind]
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableInputError(path, "no such file") from None
    except UnicodeDecodeError as e:
        raise UnreadableInputError(path, f"not UTF-8 (byte {e.start})") from None
    except pd.errors.EmptyDataError:
        raise UnreadableInputError(path, f"empty file: a {kind} CSV needs a header row") from None
    except pd.errors.ParserError as e:
        m = re.search(r"line (\d+)", str(e))
        raise UnreadableInputError(path, f"CSV syntax error: {str(e).strip().splitlines()[-1]}",
                                   int(m.group(1)) if m else None) from None
    names = {}
    wanted = {**spec["required"], **spec["optional"]}
    seen = {}
    for col in df.columns:
        n = _norm(col)
        for canon, others in wanted.items():
            if n == canon or n in others:
                if canon in seen:
                    raise UnreadableInputError(path, f"columns {seen[canon]!r} and {col!r} both mean {canon}")
                seen[canon] = col
                names[col] = canon
                break
    missing = [c for c in spec["required"] if c not in seen]
    if missing:
        raise UnreadableInputError(path, f"missing column{'s' if len(missing) > 1 else ''} "
                                         f"{', '.join(missing)} (found: {', '.join(map(str, df.columns))})")
    df = df.rename(columns=names)
    for c in spec["optional"]:
        if c not in df.columns:
            df[c] = ""
    for c in wanted:
        df[c] = df[c].str.strip()
    df.insert(0, "line", range(2, len(df) + 2))
    return df


@dataclass
class AuditResult:
    """The audit's findings (one row each), rejected rows, and a summary."""

    findings: "object"  # pandas.DataFrame
    rejected: "object"  # pandas.DataFrame: file, line, id, reason
    summary: dict = field(default_factory=dict)


FINDING_COLUMNS = ["appointment_id", "check", "severity", "explanation", "rule", "sources",
                   "staff_id", "clinic_id", "line"]


class _Resolver:
    """Names to IRIs, once per distinct name; unknown names become row rejections."""

    def __init__(self, kb):
        self.kb = kb
        self.cache: dict = {}

    def __call__(self, name: str, kind: str):
        key = (name, kind)
        if key not in self.cache:
            try:
                self.cache[key] = (str(self.kb.jurisdiction(name) if kind == "jurisdiction"
                                       else self.kb.resolve(name, kind)), None)
            except (UnknownTermError, UnknownJurisdictionError) as e:
                self.cache[key] = (None, str(e))
        return self.cache[key]


def _reject(rejected, file, df, mask, reason_of):
    for _, row in df[mask].iterrows():
        rejected.append({"file": file, "line": int(row["line"]), "id": row.iloc[1], "reason": reason_of(row)})
    return df[~mask]


def _resolve_column(df, col, kind, resolve, rejected, file):
    out = df[col].map(lambda v: resolve(v, kind)[0] if v else None)
    bad = out.isna()
    df = df.assign(**{col + "_iri": out})
    return _reject(rejected, file, df, bad,
                   lambda r: f"{col.replace('_', ' ')}: " + (resolve(r[col], kind)[1] if r[col] else "empty"))


def _dupes(df, col, rejected, file):
    dup = df[col].duplicated(keep="first")
    return _reject(rejected, file, df, dup, lambda r: f"duplicate {col.replace('_', ' ')} {r[col]!r}")


def audit(kb, roster, clinics, appointments, *, progress=None) -> AuditResult:
    """Audit the three CSV files (paths) against the knowledge base; see the module doc."""
    import networkx as nx
    import pandas as pd

    from .rules import effective_rules

    files = {"roster": str(roster), "clinics": str(clinics), "appointments": str(appointments)}
    staff = read_csv(roster, "roster")
    clin = read_csv(clinics, "clinics")
    appts = read_csv(appointments, "appointments")
    counts = {"roster": len(staff), "clinics": len(clin), "appointments": len(appts)}
    rejected: list[dict] = []
    resolve = _Resolver(kb)
    anc = kb._ancestors

    staff = _dupes(staff, "staff_id", rejected, files["roster"])
    staff = _resolve_column(staff, "role", "role", resolve, rejected, files["roster"])
    staff = _resolve_column(staff, "licence_jurisdiction", "jurisdiction", resolve, rejected, files["roster"])
    clin = _dupes(clin, "clinic_id", rejected, files["clinics"])
    clin = _resolve_column(clin, "jurisdiction", "jurisdiction", resolve, rejected, files["clinics"])
    appts = _dupes(appts, "appointment_id", rejected, files["appointments"])
    appts = _resolve_column(appts, "procedure", "procedure", resolve, rejected, files["appointments"])
    when = pd.to_datetime(appts["start_time"], errors="coerce", utc=True, format="mixed")
    appts = _reject(rejected, files["appointments"], appts, when.isna(),
                    lambda r: f"start time: not a date and time: {r['start_time']!r}")
    role_of = dict(zip(staff.staff_id, staff.role_iri))
    jur_of_staff = dict(zip(staff.staff_id, staff.licence_jurisdiction_iri))
    jur_of_clinic = dict(zip(clin.clinic_id, clin.jurisdiction_iri))
    for col, table, what in (("clinic_id", jur_of_clinic, "clinic"), ("performer_id", role_of, "performer"),
                             ("supervisor_id", role_of, "supervisor"), ("examiner_id", role_of, "examiner")):
        bad = (appts[col] != "") & ~appts[col].isin(table.keys())
        appts = _reject(rejected, files["appointments"], appts, bad,
                        lambda r, col=col, what=what: f"unknown {what} id {r[col]!r}")

    findings: list[dict] = []

    def find(check, severity, explanation, *, appt="", rule="", sources=(), staff_id="", clinic_id="", line=None):
        findings.append({"appointment_id": appt, "check": check, "severity": severity,
                         "explanation": explanation, "rule": rule, "sources": " ".join(sources),
                         "staff_id": staff_id, "clinic_id": clinic_id, "line": line})

    label = kb.label
    rules_cache: dict = {}

    def governing(jur, role, proc):
        key = (jur, role, proc)
        if key not in rules_cache:
            rules_cache[key] = effective_rules(kb._rules(jur), role, proc, anc)
        return rules_cache[key]

    def accepts(allowed, role) -> bool:
        return bool(set(allowed) & anc(role)) if role else False

    def urls(rules):
        return sorted({kb.source(s)["url"] or s for r in rules for s in r.sources})

    # -- appointments ---------------------------------------------------------
    staff_sup = _sup_map(staff)
    checked = 0
    rows = appts.itertuples(index=False)
    for a in (progress(rows, total=len(appts)) if progress else rows):
        checked += 1
        jur = jur_of_clinic[a.clinic_id]
        role = role_of[a.performer_id]
        proc = a.procedure_iri
        code = kb.names.code(jur)
        base = dict(appt=a.appointment_id, staff_id=a.performer_id, clinic_id=a.clinic_id, line=a.line)
        who = f"{a.performer_id} ({label(role)})"
        if jur_of_staff.get(a.performer_id) != jur:
            find("licence", "violation", f"{who} is licensed in {kb.names.code(jur_of_staff[a.performer_id])}, "
                                         f"not in {code} where the clinic is", **base)
        rules = governing(jur, role, proc)
        if not rules:
            find("scope", "warning", f"no rule covers {_a(label(role))} performing {label(proc)} in {code}", **base)
            continue
        iris = " ".join(r.iri for r in rules)
        src = urls(rules)
        perms = {r.permission for r in rules}
        if len(perms) > 1:
            find("scope", "warning", f"sources conflict on {_a(label(role))} performing {label(proc)} in {code}: "
                                     + ", ".join(sorted(perms)), rule=iris, sources=src, **base)
        if perms == {"not-permitted"}:
            find("scope", "violation", f"{_a(label(role))} may not perform {label(proc)} in {code}",
                 rule=iris, sources=src, **base)
            continue
        if perms == {"conditional"}:
            cond = next((r.conditions for r in rules if r.conditions), None)
            find("scope", "warning", f"{_a(label(role))} may perform {label(proc)} in {code} only on conditions"
                                     + (f": {cond}" if cond else ""), rule=iris, sources=src, **base)
        rule = rules[0]
        if rule.supervision not in ("independent", "not-permitted") and rule.supervisors:
            need = " or ".join(label(s) for s in rule.supervisors)
            if rule.supervision == "onsite/direct":
                sup, where = a.supervisor_id, "on site (recorded on the appointment)"
            else:
                sup = staff_sup.get(a.performer_id, "")
                where = "as the performer's supervisor on the roster"
            if not sup:
                find("supervision", "violation", f"{label(proc)} by {_a(label(role))} in {code} needs "
                     f"{rule.supervision} supervision by {_a(need)}; none recorded {where}",
                     rule=rule.iri, sources=src, **base)
            elif not accepts(rule.supervisors, role_of.get(sup)):
                find("supervision", "violation", f"supervisor {sup} is {_a(label(role_of[sup]))}; {label(proc)} by "
                     f"{_a(label(role))} in {code} needs {_a(need)}", rule=rule.iri, sources=src, **base)
        if rule.examiners:
            need = " or ".join(label(s) for s in rule.examiners)
            if not a.examiner_id:
                find("prior-exam", "violation", f"{label(proc)} by {_a(label(role))} in {code} needs a prior "
                     f"examination by {_a(need)}; none recorded", rule=rule.iri, sources=src, **base)
            elif not accepts(rule.examiners, role_of.get(a.examiner_id)):
                find("prior-exam", "violation", f"examiner {a.examiner_id} is {_a(label(role_of[a.examiner_id]))}; "
                     f"the prior examination needs {_a(need)}", rule=rule.iri, sources=src, **base)

    # -- the person-level supervision graph -----------------------------------
    g = nx.DiGraph()
    g.add_nodes_from(staff.staff_id)
    for s, sup in staff_sup.items():
        if sup in role_of:
            g.add_edge(s, sup)
        else:
            find("staff-chain", "violation", f"{s}'s supervisor {sup!r} is not on the roster", staff_id=s)
    for cycle in nx.simple_cycles(g):
        find("staff-chain", "violation", "supervision cycle: " + " -> ".join([*cycle, cycle[0]]),
             staff_id=cycle[0])
    for top in [n for n in g if g.out_degree(n) == 0 and g.in_degree(n) > 0]:
        if not _independent_somewhere(kb, role_of[top], jur_of_staff[top], anc):
            below = sorted(nx.ancestors(g, top))
            find("staff-chain", "violation", f"the supervision chain of {', '.join(below[:5])}"
                 f"{' ...' if len(below) > 5 else ''} ends with {top} ({label(role_of[top])}), "
                 "who may not act independently in any procedure", staff_id=top)

    # -- clinics --------------------------------------------------------------
    md = kb.resolve("medical direction of a med spa", "procedure")
    for c in clin.itertuples(index=False):
        d = c.medical_director_id
        code = kb.names.code(c.jurisdiction_iri)
        if not d:
            find("medical-director", "violation", f"clinic {c.clinic_id} names no medical director",
                 clinic_id=c.clinic_id, line=c.line)
            continue
        if d not in role_of:
            find("medical-director", "violation", f"clinic {c.clinic_id}'s medical director {d!r} is not on the roster",
                 clinic_id=c.clinic_id, line=c.line)
            continue
        rules = governing(c.jurisdiction_iri, role_of[d], str(md))
        if not rules or all(r.permission == "not-permitted" for r in rules):
            find("medical-director", "violation", f"clinic {c.clinic_id}'s medical director {d} is "
                 f"{_a(label(role_of[d]))}, who may not direct a med spa in {code}",
                 rule=" ".join(r.iri for r in rules), sources=urls(rules), staff_id=d, clinic_id=c.clinic_id,
                 line=c.line)

    extra = [c for c in appts.columns if c not in FINDING_COLUMNS and not c.endswith("_iri")
             and c not in COLUMNS["appointments"]["required"] and c not in COLUMNS["appointments"]["optional"]]
    found = pd.DataFrame(findings, columns=FINDING_COLUMNS)
    if extra and len(found):
        found = found.merge(appts[["appointment_id", *extra]], on="appointment_id", how="left")
    rej = pd.DataFrame(rejected, columns=["file", "line", "id", "reason"]).sort_values(
        ["file", "line"], kind="stable", ignore_index=True)
    summary = {
        "appointments_read": counts["appointments"],
        "appointments_checked": checked,
        "appointments_rejected": int((rej.file == files["appointments"]).sum()),
        "roster_read": counts["roster"], "roster_rejected": int((rej.file == files["roster"]).sum()),
        "clinics_read": counts["clinics"], "clinics_rejected": int((rej.file == files["clinics"]).sum()),
        "findings": {f"{k[0]}/{k[1]}": int(v) for k, v in found.groupby(["check", "severity"]).size().items()},
    }
    return AuditResult(found, rej, summary)


def _a(label: str) -> str:
    """``label`` with its indefinite article: "an esthetician", "a physician"."""
    return ("an " if label[:1].lower() in "aeio" else "a ") + label


def _sup_map(staff) -> dict:
    return {s: sup for s, sup in zip(staff.staff_id, staff.supervisor_id) if sup}


def _independent_somewhere(kb, role, jur, anc) -> bool:
    from .rules import effective_rules

    rules = kb._rules(jur)
    return any(r.independent for p in {x.procedure for x in rules if x.role in anc(role)}
               for r in effective_rules(rules, role, p, anc))
