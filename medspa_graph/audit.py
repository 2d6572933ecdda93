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

import io
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


# a cell with a space or tab before its delimiter or line end, or at the start of a line
_PADS = (b" ,", b" \n", b" \r", b"\n ", b"\t")


def _padded(raw: bytes) -> bool:
    return raw[:1] in (b" ", b"\t") or raw[-1:] in (b" ", b"\t") or any(p in raw for p in _PADS)


def _per_distinct(series, fn):
    """``fn`` applied once per distinct value (logs repeat ids and names a great deal)."""
    import pandas as pd

    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    mapped = pd.Series([fn(v) for v in uniques], dtype=object).to_numpy()
    return pd.Series(mapped[codes], index=series.index, dtype=object)


def _factorize_rows(*columns):
    """Codes for the distinct combinations of ``columns`` (equal-length arrays of few
    distinct values) and those combinations, by integer arithmetic on per-column codes:
    much faster than factorizing a MultiIndex."""
    import numpy as np
    import pandas as pd

    combined = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(pd.Series(col, dtype=object), use_na_sentinel=False)
        combined = combined * (len(uniques) + 1) + codes
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return inverse.reshape(-1), [tuple(col[i] for col in columns) for i in first]


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
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UnreadableInputError(path, "no such file") from None
    except OSError as e:
        raise UnreadableInputError(path, e.strerror or str(e)) from None
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8")
    except UnicodeDecodeError:
        try:  # pandas reports the offset within its buffer; find the file's own
            raw.decode("utf-8")
            start = 0
        except UnicodeDecodeError as e:
            start = e.start
        raise UnreadableInputError(path, f"not UTF-8 (byte {start})", raw[:start].count(b"\n") + 1) from None
    except pd.errors.EmptyDataError:
        raise UnreadableInputError(path, f"empty file: the {kind} CSV needs a header row") from None
    except pd.errors.ParserError as e:
        why = str(e).strip().splitlines()[-1].removeprefix("Error tokenizing data. C error: ")
        m = re.search(r"line (\d+)", why)
        line = int(m.group(1)) if m else None
        m = re.search(r"EOF inside string starting at row (\d+)", why)
        if m:
            line, why = _record_line(raw, int(m.group(1))), "a quoted cell is never closed"
        raise UnreadableInputError(path, f"CSV syntax error: {why}", line) from None
    if not isinstance(df.index, pd.RangeIndex):
        # pandas reads a first row longer than the header as index columns, shifting every cell
        line = next((i for i, text in enumerate(raw.splitlines()[1:], 2) if text.strip()), 2)
        raise UnreadableInputError(path, f"CSV syntax error: more fields than the header's {len(df.columns)}", line)
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
        found = [str(c) if str(c).isprintable() and len(str(c)) <= 40 else repr(str(c)[:40]) for c in df.columns[:20]]
        raise UnreadableInputError(path, f"missing column{'s' if len(missing) > 1 else ''} "
                                         f"{', '.join(missing)} (found: {', '.join(found)}"
                                         f"{', ...' if len(df.columns) > 20 else ''})")
    df = df.rename(columns=names)
    for c in spec["optional"]:
        if c not in df.columns:
            df[c] = ""
    if _padded(raw):  # stripping a million cells costs a second: only when some cell is padded
        for c in wanted:
            df[c] = df[c].str.strip()
    df.insert(0, "line", range(2, len(df) + 2))
    return df


def _record_line(raw: bytes, record: int) -> int:
    """The line on which CSV record ``record`` (0 is the header) starts; quoted cells can span lines."""
    import csv

    reader = csv.reader(io.StringIO(raw.decode("utf-8", "replace"), newline=""))
    line = 1
    for i, _ in enumerate(reader):
        if i == record:
            break
        line = reader.line_num + 1
    return line


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
    out = _per_distinct(df[col], lambda v: resolve(v, kind)[0] if v else None)
    bad = out.isna()
    df = df.assign(**{col + "_iri": out})
    return _reject(rejected, file, df, bad,
                   lambda r: f"{col.replace('_', ' ')}: " + (resolve(r[col], kind)[1] if r[col] else "empty"))


def _dupes(df, col, rejected, file):
    dup = df[col].duplicated(keep="first")
    return _reject(rejected, file, df, dup, lambda r: f"duplicate {col.replace('_', ' ')} {r[col]!r}")


def audit(kb, roster, clinics, appointments) -> AuditResult:
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

    staff = _reject(rejected, files["roster"], staff, staff.staff_id == "", lambda r: "no staff id")
    staff = _dupes(staff, "staff_id", rejected, files["roster"])
    staff = _resolve_column(staff, "role", "role", resolve, rejected, files["roster"])
    staff = _resolve_column(staff, "licence_jurisdiction", "jurisdiction", resolve, rejected, files["roster"])
    clin = _reject(rejected, files["clinics"], clin, clin.clinic_id == "", lambda r: "no clinic id")
    clin = _dupes(clin, "clinic_id", rejected, files["clinics"])
    clin = _resolve_column(clin, "jurisdiction", "jurisdiction", resolve, rejected, files["clinics"])
    appts = _dupes(appts, "appointment_id", rejected, files["appointments"])
    appts = _resolve_column(appts, "procedure", "procedure", resolve, rejected, files["appointments"])
    when = pd.to_datetime(appts["start_time"], errors="coerce", utc=True, format="ISO8601")
    if when.isna().any():  # other spellings ("03/02/2026 9:00"), parsed one by one
        retry = when.isna()
        when[retry] = pd.to_datetime(appts["start_time"][retry], errors="coerce", utc=True, format="mixed")
    appts = _reject(rejected, files["appointments"], appts, when.isna(),
                    lambda r: f"start time: not a date and time: {r['start_time']!r}")
    ids = staff.staff_id.to_numpy(dtype=object)  # plain arrays: iterating pandas columns is slow
    role_of = dict(zip(ids, staff.role_iri.to_numpy(dtype=object)))
    jur_of_staff = dict(zip(ids, staff.licence_jurisdiction_iri.to_numpy(dtype=object)))
    jur_of_clinic = dict(zip(clin.clinic_id.to_numpy(dtype=object), clin.jurisdiction_iri.to_numpy(dtype=object)))
    for col, what in (("appointment_id", "appointment id"), ("clinic_id", "clinic id"), ("performer_id", "performer id")):
        appts = _reject(rejected, files["appointments"], appts, appts[col] == "", lambda r, what=what: f"no {what}")
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

    by_role: dict = {}

    def governing(jur, role, proc):
        key = (jur, role, proc)
        if key not in rules_cache:
            if jur not in by_role:  # a jurisdiction's rules by role, so each lookup scans only its own
                index: dict = {}
                for r in kb._rules(jur):
                    index.setdefault(r.role, []).append(r)
                by_role[jur] = index
            cands = [r for up in anc(role) for r in by_role[jur].get(up, ())]
            rules_cache[key] = effective_rules(cands, role, proc, anc)
        return rules_cache[key]

    def accepts(allowed, role) -> bool:
        return bool(set(allowed) & anc(role)) if role else False

    def urls(rules):
        return sorted({kb.source(s)["url"] or s for r in rules for s in r.sources})

    # -- appointments: one rule lookup per distinct (jurisdiction, role, procedure) ----
    staff_sup = _sup_map(staff)
    checked = len(appts)
    frames = [_appointment_findings(kb, appts, role_of, jur_of_staff, jur_of_clinic, staff_sup,
                                    governing, accepts, urls)]

    # -- the person-level supervision graph -----------------------------------
    links = {}
    for s_id, sup in staff_sup.items():
        if sup in role_of:
            links[s_id] = sup
        else:
            find("staff-chain", "violation", f"{s_id}'s supervisor {sup!r} is not on the roster", staff_id=s_id)
    g = nx.DiGraph(links.items())  # staff -> supervisor: each node has at most one way up
    for comp in nx.strongly_connected_components(g):
        if len(comp) > 1 or next(iter(comp)) in g[next(iter(comp))]:
            first = min(comp)
            cycle, x = [first], links[first]
            while x != first:
                cycle.append(x)
                x = links[x]
            find("staff-chain", "violation", "supervision cycle: " + " -> ".join([*cycle, first]), staff_id=first)
    independent: dict = {}
    for top in sorted(set(links.values()) - set(links)):
        key = (role_of[top], jur_of_staff[top])
        if key not in independent:
            independent[key] = _independent_somewhere(kb, *key, anc)
        if not independent[key]:
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
    found = pd.concat([*frames, pd.DataFrame(findings, columns=FINDING_COLUMNS)], ignore_index=True)
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


def _appointment_findings(kb, appts, role_of, jur_of_staff, jur_of_clinic, staff_sup, governing, accepts, urls):
    """The per-appointment checks, vectorised: rules are looked up once per distinct
    (jurisdiction, role, procedure), acceptability once per distinct (rule, person's role)."""
    import numpy as np
    import pandas as pd

    label, code = kb.label, kb.names.code
    jur = appts.clinic_id.map(jur_of_clinic).to_numpy(dtype=object)
    role = appts.performer_id.map(role_of).to_numpy(dtype=object)
    proc = appts.procedure_iri.to_numpy(dtype=object)
    lic = appts.performer_id.map(jur_of_staff).to_numpy(dtype=object)
    combo, uniq = _factorize_rows(jur, role, proc)
    info = []
    for j, r, p in uniq:
        rules = governing(j, r, p)
        perms = {x.permission for x in rules}
        head = rules[0] if rules else None
        sup_kind = None
        if head and head.supervision not in ("independent", "not-permitted") and head.supervisors:
            sup_kind = "onsite" if head.supervision == "onsite/direct" else "roster"
        info.append({
            "rules": rules, "perms": perms, "head": head, "sup_kind": sup_kind,
            "iris": " ".join(x.iri for x in rules), "src": " ".join(urls(rules)),
            "what": f"{label(p)} by {_a(label(r))} in {code(j)}", "role": label(r), "proc": label(p), "code": code(j),
        })
    base = pd.DataFrame({"appointment_id": appts.appointment_id.to_numpy(), "staff_id": appts.performer_id.to_numpy(),
                         "clinic_id": appts.clinic_id.to_numpy(), "line": appts.line.to_numpy()})
    out = []

    def emit(mask, check, severity, explanation, rule=None, sources=None):
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        f = base.iloc[idx].copy()
        c = combo[idx]
        f["check"], f["severity"] = check, severity
        f["explanation"] = explanation(idx, c)
        f["rule"] = ([info[k]["iris"] for k in c] if rule is None
                     else [info[k]["head"].iri for k in c] if rule == "head" else rule)
        f["sources"] = [info[k]["src"] for k in c] if sources is None else sources
        out.append(f)

    col = lambda key: np.array([i[key] for i in info], dtype=object)[combo]  # noqa: E731
    perms = [i["perms"] for i in info]
    status = np.array(["none" if not p else "no" if p == {"not-permitted"} else "conflict" if len(p) > 1
                       else "conditional" if p == {"conditional"} else "yes" for p in perms], dtype=object)[combo]
    lic_bad = lic != jur
    emit(lic_bad, "licence", "violation", lambda idx, c: [
        f"{appts.performer_id.iat[i]} ({info[k]['role']}) is licensed in {code(lic[i])}, not in "
        f"{info[k]['code']} where the clinic is" for i, k in zip(idx, c)], rule="", sources="")
    emit(status == "none", "scope", "warning", lambda idx, c: [
        f"no rule covers {_a(info[k]['role'])} performing {info[k]['proc']} in {info[k]['code']}" for k in c])
    emit(status == "conflict", "scope", "warning", lambda idx, c: [
        f"sources conflict on {_a(info[k]['role'])} performing {info[k]['proc']} in {info[k]['code']}: "
        + ", ".join(sorted(info[k]["perms"])) for k in c])
    emit(status == "no", "scope", "violation", lambda idx, c: [
        f"{_a(info[k]['role'])} may not perform {info[k]['proc']} in {info[k]['code']}" for k in c])

    def conditions(k):
        cond = next((x.conditions for x in info[k]["rules"] if x.conditions), None)
        return f": {cond}" if cond else ""

    emit(status == "conditional", "scope", "warning", lambda idx, c: [
        f"{_a(info[k]['role'])} may perform {info[k]['proc']} in {info[k]['code']} only on conditions"
        + conditions(k) for k in c])
    live = (status != "none") & (status != "no")
    sup_kind = col("sup_kind")
    on_site = appts.supervisor_id.to_numpy(dtype=object)
    on_roster = appts.performer_id.map(staff_sup).fillna("").to_numpy(dtype=object)
    sup = np.where(sup_kind == "onsite", on_site, on_roster)
    needs_sup = live & (sup_kind != None)  # noqa: E711
    _check_person(emit, needs_sup, sup, combo, info, role_of, accepts, "supervision",
                  lambda i: i["head"].supervisors,
                  lambda i, k_sup: (f"{i['what']} needs {i['head'].supervision} supervision by "
                                    f"{_a(' or '.join(label(s) for s in i['head'].supervisors))}; none recorded "
                                    + ("on site (recorded on the appointment)" if i["sup_kind"] == "onsite"
                                       else "as the performer's supervisor on the roster")),
                  lambda i, who, r: (f"supervisor {who} is {_a(label(r))}; {i['what']} needs "
                                     f"{_a(' or '.join(label(s) for s in i['head'].supervisors))}"))
    needs_exam = live & np.array([bool(i["head"] and i["head"].examiners) for i in info], dtype=bool)[combo]
    examiner = appts.examiner_id.to_numpy(dtype=object)
    _check_person(emit, needs_exam, examiner, combo, info, role_of, accepts, "prior-exam",
                  lambda i: i["head"].examiners,
                  lambda i, _: (f"{i['what']} needs a prior examination by "
                                f"{_a(' or '.join(label(s) for s in i['head'].examiners))}; none recorded"),
                  lambda i, who, r: (f"examiner {who} is {_a(label(r))}; the prior examination needs "
                                     f"{_a(' or '.join(label(s) for s in i['head'].examiners))}"))
    if not out:
        return pd.DataFrame(columns=FINDING_COLUMNS)
    return pd.concat(out, ignore_index=True)[FINDING_COLUMNS]


def _check_person(emit, needs, person, combo, info, role_of, accepts, check, allowed, missing_text, wrong_text):
    """Rows that need a person: flag those with none recorded, and those whose role the rule does not accept."""
    import numpy as np
    import pandas as pd

    missing = needs & (person == "")
    emit(missing, check, "violation", lambda idx, c: [missing_text(info[k], None) for k in c], rule="head")
    present = needs & (person != "")
    idx = np.flatnonzero(present)
    if not len(idx):
        return
    roles = pd.Series(person[idx]).map(role_of).to_numpy(dtype=object)
    pairs, uniq = _factorize_rows(combo[idx], roles)
    ok = np.array([accepts(allowed(info[k]), r) for k, r in uniq], dtype=bool)[pairs]
    wrong = np.zeros(len(needs), dtype=bool)
    wrong[idx[~ok]] = True
    emit(wrong, check, "violation", lambda idx2, c: [wrong_text(info[k], person[i], role_of[person[i]])
                                                      for i, k in zip(idx2, c)], rule="head")


def _a(label: str) -> str:
    """``label`` with its indefinite article: "an esthetician", "a physician"."""
    return ("an " if label[:1].lower() in "aeio" else "a ") + label


def _sup_map(staff) -> dict:
    return {s: sup for s, sup in zip(staff.staff_id.to_numpy(dtype=object), staff.supervisor_id.to_numpy(dtype=object))
            if sup}


def _independent_somewhere(kb, role, jur, anc) -> bool:
    from .rules import effective_rules

    rules = kb._rules(jur)
    return any(r.independent for p in {x.procedure for x in rules if x.role in anc(role)}
               for r in effective_rules(rules, role, p, anc))
