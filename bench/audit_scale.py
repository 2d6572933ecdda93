"""Bench: the audit at national scale (issue 22), against pandas.read_csv of the same log.

Run:  .venv/bin/python bench/audit_scale.py [--sizes 1000000,10000000,30000000] [--runs 3]
                                            [--single-run-from 30000000] [--keep]

Each size is a synthetic network from ``medspa-graph synth --clinics 10000 --seed 7`` with
``--appointments-per-clinic`` size / 10,000: the same 250,000 staff and 10,000 clinics, a log
100, 1,000 or 3,000 appointments a clinic long (a year of a national network is tens of
millions of rows). Data goes to ``build/bench-audit-scale/<size>/`` (reused if there; deleted
at the end unless ``--keep``); check ``df -h`` first: 30M rows are 1.9 GB.

For each size, in the same run, alternating:

* the baseline: ``python -c "import pandas; pandas.read_csv('appointments.csv')"``, a fresh process;
* ``medspa-graph audit ... --format json --out findings.json``, a fresh process.

Both are timed (wall) with their peak RSS from ``os.wait4`` (the child's own rusage), ``--runs``
times each (once from ``--single-run-from`` up); medians are reported. The audit's cache folder
is this run's own, warmed by one audit of the smallest network first, so the figures are those
of a machine that has audited before (the fixed costs paid once per knowledge base, issue 22).
The findings are checked against ``planted.csv`` (exactly the planted violations).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "build" / "bench-audit-scale"
CLINICS = 10_000


def run(cmd, env=None) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a fresh process; exit codes 0 and 1 are fine."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    proc.returncode = code
    if code not in (0, 1):
        raise RuntimeError(f"{cmd[:3]} exited {code}: {err[-800:]}")
    return wall, usage.ru_maxrss / 1024  # Linux: KiB


def network(size: int) -> Path:
    folder = DATA / str(size)
    if not (folder / "planted.csv").is_file():
        subprocess.run([str(BIN / "medspa-graph"), "synth", "--clinics", str(CLINICS), "--seed", "7",
                        "--appointments-per-clinic", str(size // CLINICS), "--out", str(folder)], check=True,
                       stdout=subprocess.DEVNULL)
    return folder


def exact(folder: Path, findings: Path) -> tuple[bool, int]:
    """Whether the findings are the planted violations, and how many findings there are."""
    import csv

    doc = json.loads(findings.read_text())
    got = sorted((f["appointment_id"], f["check"]) for f in doc["findings"])
    with open(folder / "planted.csv", newline="") as f:
        want = sorted((r["appointment_id"], r["check"]) for r in csv.DictReader(f))
    return got == want, len(got)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000000,10000000,30000000", help="appointments, comma-separated")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--single-run-from", type=int, default=30_000_000, help="one run each from this size up")
    ap.add_argument("--keep", action="store_true", help="keep the generated networks")
    args = ap.parse_args()

    sizes = [int(s) for s in args.sizes.split(",")]
    env = {**os.environ, "MEDSPA_GRAPH_CACHE": tempfile.mkdtemp(prefix="medspa-bench-cache-")}
    for entry in _cache_entries():  # the built graph, so the bench does not rebuild it
        shutil.copy(entry, env["MEDSPA_GRAPH_CACHE"])
    rows = []
    try:
        warm = network(sizes[0])
        cold = run([str(BIN / "medspa-graph"), "audit", "--roster", str(warm / "roster.csv"), "--clinics",
                    str(warm / "clinics.csv"), "--appointments", str(warm / "appointments.csv"), "--format", "json",
                    "--out", str(warm / "findings.json")], env)
        print({"first audit, fresh cache": cold}, file=sys.stderr, flush=True)
        for size in sizes:
            folder = network(size)
            log = folder / "appointments.csv"
            base = [sys.executable, "-c", f"import pandas; pandas.read_csv({str(log)!r})"]
            audit = [str(BIN / "medspa-graph"), "audit", "--roster", str(folder / "roster.csv"), "--clinics",
                     str(folder / "clinics.csv"), "--appointments", str(log), "--format", "json",
                     "--out", str(folder / "findings.json")]
            runs = 1 if size >= args.single_run_from else args.runs
            b, a = [], []
            for _ in range(runs):  # alternating, so both see the same machine
                b.append(run(base, env))
                a.append(run(audit, env))
            ok, n = exact(folder, folder / "findings.json")
            row = {"appointments": size, "runs": runs, "log_mb": log.stat().st_size / 1e6,
                   "base_s": statistics.median(x[0] for x in b), "base_mib": statistics.median(x[1] for x in b),
                   "audit_s": statistics.median(x[0] for x in a), "audit_mib": statistics.median(x[1] for x in a),
                   "exact": ok, "findings": n}
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
            (folder / "findings.json").unlink(missing_ok=True)
    finally:
        shutil.rmtree(env["MEDSPA_GRAPH_CACHE"], ignore_errors=True)
        if not args.keep:
            shutil.rmtree(DATA, ignore_errors=True)

    print(f"\naudit at scale: 10,000 clinics, 250,000 staff; medians of {args.runs} runs "
          f"(one run from {args.single_run_from:,} appointments up); {os.cpu_count()} CPUs; "
          f"peak RSS of each child process (os.wait4)\n")
    print(f"first audit with a fresh cache folder ({sizes[0]:,} appointments; it fetches and keeps the rules): "
          f"{cold[0]:.2f} s, {cold[1]:.0f} MiB\n")
    print("| appointments | log (MB) | runs | read_csv (s) | audit (s) | audit / read_csv | read_csv peak (MiB) | "
          "audit peak (MiB) | audit s per 1M | findings = planted |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['appointments']:,} | {r['log_mb']:.0f} | {r['runs']} | {r['base_s']:.2f} | {r['audit_s']:.2f} | "
              f"{r['audit_s'] / r['base_s']:.2f}x | {r['base_mib']:.0f} | {r['audit_mib']:.0f} | "
              f"{r['audit_s'] / r['appointments'] * 1e6:.2f} | {'yes' if r['exact'] else 'NO'} ({r['findings']}) |")
    if len(rows) > 1:
        print("\n| from | to | audit time growth | per extra million (s) | peak RSS growth |")
        print("|---|---|---|---|---|")
        for lo, hi in zip(rows, rows[1:]):
            extra = (hi["appointments"] - lo["appointments"]) / 1e6
            print(f"| {lo['appointments']:,} | {hi['appointments']:,} | {hi['audit_s'] / lo['audit_s']:.2f}x "
                  f"(rows {hi['appointments'] / lo['appointments']:.0f}x) | "
                  f"{(hi['audit_s'] - lo['audit_s']) / extra:.2f} | {hi['audit_mib'] / lo['audit_mib']:.2f}x |")


def _cache_entries() -> list:
    """The user's cache entry of the built graph (and its checksum)."""
    sys.path.insert(0, str(ROOT))
    from medspa_graph.kb import built_ntriples

    source, key = built_ntriples()
    return sorted(Path(source).parent.glob(f"graph-*{key}*"))


if __name__ == "__main__":
    main()
