"""An audit too big for one machine, in parts: split the log by clinic (or state), audit each
part anywhere, merge the findings.

Every appointment check reads one appointment, its clinic and the roster, so a log split by
clinic audits part by part to the same findings. Each part gets the whole roster and clinic
list (the roster is the in-memory index; the roster's supervision chains and the clinics'
medical directors come out the same in every part and are taken once), its clinics'
appointments, and ``lines.txt``: the line in the whole log where each of its rows started,
so the merged findings and rejected rows carry the whole log's line numbers.

:func:`split` writes the parts (one pass over the log, written as read); each part is an
ordinary ``medspa-graph audit`` on its folder, on this machine or another, or a task of an
existing cluster engine (a Spark, Dask or Ray task that runs the audit on a folder);
:func:`merge` takes their :class:`~medspa_graph.audit.check.AuditResult` objects and gives the
whole log's, findings in the whole-file audit's order.

One check spans parts: an appointment id repeated in two parts is not a duplicate to
either. Split by clinic (the default), a repeated id in one clinic is still caught.
"""

from __future__ import annotations

__all__ = ["split", "merge"]

import csv
import zlib
from pathlib import Path

from medspa_graph.audit.check import AuditResult


def split(roster, clinics, appointments, out, parts: int = 2, *, by: str = "clinic") -> list[Path]:
    """Write ``parts`` folders under ``out`` (``part-1``, ...), each with ``roster.csv``,
    ``clinics.csv``, ``appointments.csv`` and ``lines.txt``; return their paths.

    ``by="clinic"`` puts a clinic's appointments in part ``crc32(clinic id) % parts``;
    ``by="state"`` puts a jurisdiction's clinics together (``crc32(jurisdiction)``). A row whose
    clinic cannot be read goes to the first part, where the audit rejects it as it would whole.
    """
    import shutil

    from medspa_graph.utils.files import atomic_output

    if parts < 1 or by not in ("clinic", "state"):
        raise ValueError("parts >= 1, by 'clinic' or 'state'")
    out = Path(out)
    folders = [out / f"part-{k + 1}" for k in range(parts)]
    state = {}
    if by == "state":
        with open(clinics, newline="", encoding="utf-8-sig") as f:
            rows = csv.reader(f)
            head = [h.strip().lower() for h in next(rows, [])]
            cid, jur = head.index("clinic_id"), head.index("jurisdiction")
            state = {r[cid].strip(): r[jur].strip() for r in rows if len(r) > max(cid, jur)}
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(roster, folder / "roster.csv")
        shutil.copyfile(clinics, folder / "clinics.csv")
    with open(appointments, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader)
        col = [h.strip().lower() for h in header].index("clinic_id")
        from contextlib import ExitStack

        with ExitStack() as stack:
            logs, maps, lines = [], [], []
            for folder in folders:
                tmp = stack.enter_context(atomic_output(folder / "appointments.csv"))
                log = stack.enter_context(open(tmp, "w", newline="", encoding="utf-8"))
                tmp = stack.enter_context(atomic_output(folder / "lines.txt"))
                maps.append(stack.enter_context(open(tmp, "w", encoding="utf-8")))
                logs.append(csv.writer(log, lineterminator="\n"))
                logs[-1].writerow(header)
                lines.append(2)
            start = reader.line_num + 1
            for row in reader:
                if row:
                    key = row[col].strip() if len(row) > col else ""
                    key = state.get(key, key) if by == "state" else key
                    k = zlib.crc32(key.encode()) % parts if len(row) == len(header) else 0
                    logs[k].writerow(row)
                    maps[k].write(f"{lines[k]} {start}\n")  # the part's line, the whole log's line
                    lines[k] += sum(c.count("\n") for c in row) + 1
                start = reader.line_num + 1
    return folders


def merge(results, folders, *, roster=None, clinics=None, appointments=None):
    """The whole log's :class:`~medspa_graph.audit.check.AuditResult` from the parts' (in ``folders``'
    order): appointment findings and rejected rows with the whole log's lines, roster and clinic
    findings and rejections once (from the first part), counts added up. ``roster``, ``clinics``
    and ``appointments``, if given, are the whole files' paths, put in place of the parts' own."""
    import numpy as np
    import pandas as pd

    whole = {"roster.csv": roster, "clinics.csv": clinics, "appointments.csv": appointments}
    found, rejected = [], []
    for n, (result, folder) in enumerate(zip(results, folders)):
        folder = Path(folder)
        pairs = np.loadtxt(folder / "lines.txt", dtype=np.int64, ndmin=2)
        where = dict(zip(pairs[:, 0].tolist(), pairs[:, 1].tolist())) if len(pairs) else {}
        f = result.findings
        once = f.check.isin(["staff-chain", "medical-director"])  # the same in every part
        f = (f if n == 0 else f[~once]).copy()
        appt = ~f.check.isin(["staff-chain", "medical-director"])
        f.loc[appt, "line"] = [where[int(x)] for x in f.loc[appt, "line"]]
        found.append(f)
        r = result.rejected.copy()
        log = (r.file == str(folder / "appointments.csv")).to_numpy()
        r.loc[log, "line"] = [where[int(x)] for x in r.loc[log, "line"]]
        r = r[log | (n == 0)]
        for name, path in whole.items():
            if path is not None:
                r.loc[r.file == str(folder / name), "file"] = str(path)
        rejected.append(r)
    f = pd.concat(found, ignore_index=True)
    order = pd.DataFrame({"group": [_group(c, s, e) for c, s, e in zip(f.check, f.severity, f.explanation)],
                          "line": pd.to_numeric(f.line, errors="coerce").fillna(-1).to_numpy()})
    f = f.iloc[order.sort_values(["group", "line"], kind="stable").index].reset_index(drop=True)
    rej = pd.concat(rejected, ignore_index=True).sort_values(["file", "line"], kind="stable", ignore_index=True)
    summary = {k: sum(r.summary[k] for r in results) for k in ("appointments_read", "appointments_checked",
                                                                 "appointments_rejected")}
    summary.update({k: v for k, v in results[0].summary.items() if k.startswith(("roster", "clinics"))})
    counts = f.groupby(["check", "severity"]).size()
    summary["findings"] = {f"{c}/{s}": int(v) for (c, s), v in counts.items()}
    return AuditResult(f, rej, summary, results[0].roster, results[0].clinics)


def _group(check: str, severity: str, explanation: str) -> int:
    """The place of a finding in the audit's order (:data:`~medspa_graph.audit.check.GROUPS`), from its words."""
    if check == "licence":
        return 0
    if check == "scope":
        if severity == "violation":
            return 3
        return 1 if explanation.startswith("no rule covers") else 2 if explanation.startswith("sources conflict") else 4
    if check in ("supervision", "prior-exam"):
        return (5 if check == "supervision" else 7) + ("; none recorded" not in explanation)
    return 9 if check == "staff-chain" else 10
