"""Bench: auditing synthetic clinic networks, against the audit written as RDF + one SPARQL query.

Run:  .venv/bin/python bench/audit.py [--sizes 100000,1000000,5000000] [--baseline-sizes 100000]

For each size, ``medspa-graph synth`` writes the network (100 appointments and 25
staff a clinic) and ``medspa-graph audit`` runs in a fresh process under GNU
time (wall seconds, peak RSS), three times; the median is reported. It also
checks that the findings are exactly the planted violations.

Baselines, on the same files in the same run: what a user of rdflib (or kglab,
which wraps it) would write: turn the CSVs into RDF next to the knowledge base
and ask one SPARQL query for appointments whose role may not perform the
procedure in the clinic's jurisdiction, on rdflib and on pyoxigraph. That query
covers only the scope check, and only state rules (precedence between state
and baseline rules does not fit one query), so it does less than the audit;
it is timed with the CSV-to-RDF step, as a user would run it.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
MS = "https://w3id.org/medspa-graph/ontology#"
EX = "https://example.org/clinic-network/"

QUERY = f"""PREFIX ms: <{MS}>
PREFIX ex: <{EX}>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?appt ?rule WHERE {{
  ?appt ex:performer ?staff ; ex:procedure ?proc ; ex:clinic ?clinic .
  ?staff ex:role ?role .
  ?clinic ex:jurisdiction ?jur .
  ?rule a ms:ScopeRule ; ms:jurisdiction ?jur ; ms:permission ms:NotPermitted ;
        ms:role ?ruleRole ; ms:procedure ?ruleProc .
  ?role rdfs:subClassOf* ?ruleRole .
  ?proc rdfs:subClassOf* ?ruleProc .
}}"""


def timed(cmd) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a command, from GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", *cmd], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr[-500:])
    wall, kb = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kb) / 1024


def to_ntriples(kb, folder: Path) -> bytes:
    """The network's CSVs as N-Triples, names resolved as the audit resolves them."""
    lines = []
    cache: dict = {}

    def term(name, kind):
        if (name, kind) not in cache:
            cache[(name, kind)] = str(kb.jurisdiction(name) if kind == "jurisdiction" else kb.resolve(name, kind))
        return cache[(name, kind)]

    with open(folder / "clinics.csv", newline="") as f:
        for r in csv.DictReader(f):
            lines.append(f"<{EX}clinic/{r['clinic_id']}> <{EX}jurisdiction> <{term(r['jurisdiction'], 'jurisdiction')}> .")
    with open(folder / "roster.csv", newline="") as f:
        for r in csv.DictReader(f):
            lines.append(f"<{EX}staff/{r['staff_id']}> <{EX}role> <{term(r['role'], 'role')}> .")
    with open(folder / "appointments.csv", newline="") as f:
        for r in csv.DictReader(f):
            a = f"<{EX}appointment/{r['appointment_id']}>"
            lines.append(f"{a} <{EX}performer> <{EX}staff/{r['performer_id']}> .")
            lines.append(f"{a} <{EX}procedure> <{term(r['procedure'], 'procedure')}> .")
            lines.append(f"{a} <{EX}clinic> <{EX}clinic/{r['clinic_id']}> .")
    return ("\n".join(lines) + "\n").encode()


def baseline_oxigraph(kb_nt: Path, folder: Path, kb) -> tuple[float, int]:
    import pyoxigraph as ox

    t = time.perf_counter()
    store = ox.Store()
    store.bulk_load(path=str(kb_nt), format=ox.RdfFormat.N_TRIPLES)
    store.bulk_load(to_ntriples(kb, folder), format=ox.RdfFormat.N_TRIPLES)
    n = sum(1 for _ in store.query(QUERY))
    return time.perf_counter() - t, n


def baseline_rdflib(kb_nt: Path, folder: Path, kb) -> tuple[float, int]:
    from rdflib import Graph

    t = time.perf_counter()
    g = Graph()
    g.parse(kb_nt, format="nt")
    g.parse(data=to_ntriples(kb, folder), format="nt")
    n = len(list(g.query(QUERY)))
    return time.perf_counter() - t, n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000", help="appointments, comma-separated")
    ap.add_argument("--baseline-sizes", default="100000,1000000", help="sizes to run the pyoxigraph baseline at")
    ap.add_argument("--rdflib-sizes", default="100000", help="sizes to run the rdflib baseline at (slow)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    import pandas as pd

    import medspa_graph
    from medspa_graph.kb import built_ntriples

    kb = medspa_graph.load()
    kb_nt, _ = built_ntriples()
    tmp = Path(tempfile.mkdtemp(prefix="medspa-bench-audit-"))
    rows = []
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            folder = tmp / str(size)
            t = time.perf_counter()
            made = subprocess.run([str(BIN / "medspa-graph"), "synth", "--clinics", str(size // 100), "--seed", "1",
                                   "--out", str(folder)], check=True, capture_output=True, text=True)
            staff = int(made.stdout.split(" clinics, ")[1].split(" staff")[0])
            synth_s = time.perf_counter() - t
            cmd = [str(BIN / "medspa-graph"), "audit", "--roster", str(folder / "roster.csv"),
                   "--clinics", str(folder / "clinics.csv"), "--appointments", str(folder / "appointments.csv"),
                   "--format", "csv", "--out", str(folder / "findings.csv")]
            runs = [timed(cmd) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in runs)
            rss = max(r[1] for r in runs)
            found = pd.read_csv(folder / "findings.csv", dtype=str).fillna("")
            planted = pd.read_csv(folder / "planted.csv", dtype=str)
            exact = sorted(zip(found.appointment_id, found.check)) == sorted(zip(planted.appointment_id, planted.check))
            inproc = []
            for _ in range(args.runs):
                t = time.perf_counter()
                kb.audit(folder / "roster.csv", folder / "clinics.csv", folder / "appointments.csv")
                inproc.append(time.perf_counter() - t)
            row = {"appointments": size, "staff": staff, "synth_s": synth_s, "audit_s": wall, "peak_mib": rss,
                   "inproc_s": statistics.median(inproc),
                   "findings": len(found), "planted": len(planted), "exact": exact}
            for name, fn, sizes in (("oxigraph", baseline_oxigraph, args.baseline_sizes),
                                    ("rdflib", baseline_rdflib, args.rdflib_sizes)):
                if str(size) in sizes.split(","):
                    secs, n = fn(Path(kb_nt), folder, kb)
                    row[f"{name}_s"], row[f"{name}_rows"] = secs, n
            rows.append(row)
            print(row, file=sys.stderr, flush=True)
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"\naudit: median of {args.runs} runs, each a fresh `medspa-graph audit` process; {os.cpu_count()} CPUs\n")
    print("| appointments | staff | CLI wall (s) | in-process kb.audit (s) | per 1M, in-process (s) | "
          "peak RSS (MiB) | findings = planted |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['appointments']:,} | {r['staff']:,} | {r['audit_s']:.2f} | {r['inproc_s']:.2f} | "
              f"{r['inproc_s'] / r['appointments'] * 1e6:.2f} | {r['peak_mib']:.0f} | "
              f"{'yes' if r['exact'] else 'NO'} ({r['findings']}) |")
    base = [r for r in rows if "oxigraph_s" in r or "rdflib_s" in r]
    if base:
        print("\n| appointments | kb.audit (s) | RDF + SPARQL on pyoxigraph (s) | on rdflib (s) | "
              "speed-up vs the faster baseline |")
        print("|---|---|---|---|---|")
        for r in base:
            cells = [f"{r[k + '_s']:.2f} ({r[k + '_rows']} rows)" if k + "_s" in r else "not run"
                     for k in ("oxigraph", "rdflib")]
            faster = min(r.get("oxigraph_s", float("inf")), r.get("rdflib_s", float("inf")))
            print(f"| {r['appointments']:,} | {r['inproc_s']:.2f} | {cells[0]} | {cells[1]} | "
                  f"{faster / r['inproc_s']:.1f}x |")


if __name__ == "__main__":
    main()
