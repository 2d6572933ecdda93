"""Synthetic clinic networks for testing and benchmarking the audit.

``synthesize(kb, clinics=N, seed=S)`` writes a roster, a clinic list and an
appointment log across the knowledge base's states, with roles mixed as in
real med spas (a physician medical director, nurses, injectors, estheticians,
a massage therapist ...). Every appointment is clean by construction (chosen
from what the governing rules permit, with the supervision and prior
examination they require recorded), except a known share of deliberate
violations, written to ``planted.csv``; the audit must find exactly those.
Deterministic for a seed.
"""

from __future__ import annotations

__all__ = ["synthesize", "PLANTED_KINDS"]

import csv
import random
from pathlib import Path

#: Deliberate violations: (kind, the audit check that must find it).
PLANTED_KINDS = {
    "outside-scope": "scope",
    "no-supervisor-on-site": "supervision",
    "no-prior-exam": "prior-exam",
}

# A clinic's staff: (role name, how many), before leaving out roles a state does not use.
# 25 a clinic, so 10,000 clinics are the 250,000 staff of a large national network.
_STAFF_MIX = [("physician", 1), ("nurse practitioner", 1), ("physician assistant", 1), ("registered nurse", 6),
              ("licensed practical nurse", 2), ("medical assistant", 3), ("esthetician", 7),
              ("licensed massage therapist", 2), ("laser technician", 2)]


_UNSUPERVISED = {"physician", "esthetician", "licensed massage therapist"}


def _plans(kb, jur: str, roles: dict) -> dict:
    """For each role: the procedures it may do cleanly in ``jur``, each with what must be recorded."""
    from medspa_graph.questions.rules import effective_rules

    anc = kb.catalog.ancestors
    rules = kb.catalog.rules(jur)
    ctx = kb.resolution_context(jur)
    procedures = [str(p) for p in kb.names.terms("procedure")]
    direct = kb.catalog.direct_parents()
    leaves = [p for p in procedures if not any(p in direct.get(q, ()) for q in procedures)]
    physician = roles["physician"]
    plans = {}
    for name, role in roles.items():
        clean, forbidden = [], []
        for proc in leaves:
            eff = effective_rules(rules, role, proc, anc, ctx)
            if not eff:
                continue
            perms = {r.permission for r in eff}
            if perms == {"not-permitted"}:
                forbidden.append(proc)
                continue
            if perms != {"permitted"} or len(eff) > 1:
                continue  # conditional or conflicting: the audit warns, so not "clean"
            r = eff[0]
            onsite = r.supervision == "onsite/direct"
            if r.supervision not in ("independent", "onsite/direct") and r.supervisors:
                if name in _UNSUPERVISED or not (set(r.supervisors) & anc(physician)):
                    continue  # the roster supervisor is the physician, if any; skip what needs someone else
            if onsite and not (set(r.supervisors) & anc(physician)):
                continue
            if r.examiners and not (set(r.examiners) & anc(physician)):
                continue
            clean.append((proc, onsite and bool(r.supervisors), bool(r.examiners)))
        plans[name] = (clean, forbidden)
    return plans


def synthesize(kb, out, *, clinics: int = 10, seed: int = 0, appointments_per_clinic: int = 100,
               violation_rate: float = 0.02) -> dict:
    """Write ``roster.csv``, ``clinics.csv``, ``appointments.csv`` and ``planted.csv`` into ``out``.

    Returns counts. Each file is written whole or not at all; the appointment log is written as
    it is made, so a log of tens of millions of rows needs no more memory than the roster.
    """
    from medspa_graph.errors import UnwritableOutputError
    from medspa_graph.utils.files import atomic_output, write_output

    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UnwritableOutputError(out, e.strerror or str(e)) from None
    try:  # the log is written as it is made (a network's year of appointments does not fit in memory)
        with atomic_output(out / "appointments.csv") as tmp, open(tmp, "w", newline="", encoding="utf-8") as log:
            roster, clinic_rows, planted, counts = _network(kb, log, clinics, seed, appointments_per_clinic,
                                                            violation_rate)
    except OSError as e:
        raise UnwritableOutputError(out / "appointments.csv", e.strerror or str(e)) from None
    for name, rows in (("roster.csv", roster), ("clinics.csv", clinic_rows), ("planted.csv", planted)):
        write_output(out / name, _csv(rows))
    return counts


def _network(kb, log, clinics: int, seed: int, appointments_per_clinic: int, violation_rate: float):
    """Make the network, writing the appointment log to ``log`` row by row; return the roster,
    clinic and planted rows and the counts."""
    rnd = random.Random(seed)
    codes = [c for c in kb.jurisdictions() if c != "US"]
    roles = {name: str(kb.resolve(name, "role")) for name, _ in _STAFF_MIX}
    labels = {iri: kb.label(iri) for iri in roles.values()}
    plan_cache: dict = {}
    roster = [["staff_id", "name", "role", "licence_jurisdiction", "supervisor_id", "clinic_id"]]
    clinic_rows = [["clinic_id", "name", "jurisdiction", "medical_director_id"]]
    writer = csv.writer(log, lineterminator="\n")
    writer.writerow(["appointment_id", "start_time", "clinic_id", "performer_id", "procedure", "supervisor_id",
                     "examiner_id"])
    planted = [["appointment_id", "kind", "check"]]
    proc_label: dict = {}
    n_staff = n_appt = 0
    for c in range(clinics):
        code = codes[rnd.randrange(len(codes))]
        if code not in plan_cache:
            plan_cache[code] = _plans(kb, kb.jurisdiction(code), roles)
        plans = plan_cache[code]
        cid = f"C{c + 1:05d}"
        staff = []
        for name, count in _STAFF_MIX:
            for _ in range(count):
                n_staff += 1
                sid = f"S{n_staff:07d}"
                staff.append((sid, name))
        director = staff[0][0]
        clinic_rows.append([cid, f"Clinic {c + 1}", code, director])
        for sid, name in staff:
            sup = "" if name in _UNSUPERVISED else director
            roster.append([sid, f"{name.title()} {sid}", labels[roles[name]], code, sup, cid])
        workers = [(sid, name) for sid, name in staff if plans[name][0]]
        rows = []
        for _ in range(appointments_per_clinic):
            n_appt += 1
            aid = f"A{n_appt:08d}"
            sid, name = workers[rnd.randrange(len(workers))]
            clean, forbidden = plans[name]
            proc, onsite, exam = clean[rnd.randrange(len(clean))]
            sup, examiner = (director if onsite else ""), (director if exam else "")
            if rnd.random() < violation_rate:
                choices = [k for k, ok in (("outside-scope", bool(forbidden)),
                                           ("no-supervisor-on-site", onsite), ("no-prior-exam", exam)) if ok]
                if choices:
                    kind = choices[rnd.randrange(len(choices))]
                    if kind == "outside-scope":
                        proc, sup, examiner = forbidden[rnd.randrange(len(forbidden))], "", ""
                    elif kind == "no-supervisor-on-site":
                        sup = ""
                    else:
                        examiner = ""
                    planted.append([aid, kind, PLANTED_KINDS[kind]])
            if proc not in proc_label:
                proc_label[proc] = kb.label(proc)
            day, minute = divmod(n_appt * 37 % (365 * 600), 600)
            start = f"2026-{1 + day // 31 % 12:02d}-{1 + day % 28:02d}T{8 + minute // 60:02d}:{minute % 60:02d}:00"
            rows.append([aid, start, cid, sid, proc_label[proc], sup, examiner])
        writer.writerows(rows)
    counts = {"clinics": clinics, "staff": n_staff, "appointments": n_appt, "planted": len(planted) - 1}
    return roster, clinic_rows, planted, counts


def _csv(rows) -> str:
    import io

    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()
