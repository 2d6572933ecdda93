"""Bench: a ~10-million-triple graph on the embedded store, ``oxigraph serve`` and Virtuoso.

Run:  .venv/bin/pip install -e '.[test]' && .venv/bin/python bench/engines.py [--clinics 10000]
      [--appointments-per-clinic 120] [--runs 5] [--engines embedded,oxigraph,virtuoso]
      [--in-place oxigraph,virtuoso] [--work build/bench-engines]
      .venv/bin/python bench/engines.py --audit --runs 3      # the audit, rules from each engine

1. The graph: the knowledge base plus a synthetic clinic network as RDF. ``medspa-graph
   synth`` writes the CSVs, ``medspa-graph audit --rdf`` turns the roster, clinics and
   findings into N-Triples (W3C ORG memberships, PROV-O findings), and each appointment is
   added as a ``prov:Activity`` (start time, clinic as ``prov:atLocation``, procedure as
   ``dcterms:type``, performer and supervisor as ``prov:wasAssociatedWith``, examiner as
   ``prov:wasInfluencedBy``). All of it goes into the knowledge base's named graph, so every
   question runs over the whole 10 million triples. Written once into ``--work``.
2. Each server is started fresh by the launchers the tests use (``tests/conftest.py``;
   Virtuoso with larger buffers), and the file is pushed with ``medspa_graph.sparql.remote.push`` in
   a process of its own under GNU time: wall seconds and peak RSS of that process (with
   ``--in-place`` for the engines named there: at this size neither server's ``MOVE`` fits).
   The embedded store is loaded the same way (``OxigraphStore.load_ntriples``, a bulk load).
   Results accumulate in ``--work``/results.json, so engines can be measured in separate runs.
3. Latency: every named query (parameters bound) and every question, each on a fresh
   KnowledgeBase (nothing cached between runs: a question pays for its terms, rules and
   sources queries, as a CLI call does), ``--runs`` times after one warm-up; medians.

The machine is shared and noisy: read the medians as orders of magnitude.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BASE = "https://example.org/clinic-network/"
PROV = "http://www.w3.org/ns/prov#"
DCT = "http://purl.org/dc/terms/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"

PARAMS = {"jurisdiction": "US-CA", "procedure": "botox", "role": "registered nurse",
          "condition": "rosacea", "product": "botulinum toxin"}
QUESTIONS = [
    ("who-can botox -j US-CA", "who_can", ("botox", "US-CA")),
    ("scope esthetician -j US-TX", "scope", ("esthetician", "US-TX")),
    ("compare 'chemical peel' -j US-CA -j US-TX -j US-NY", "compare", ("chemical peel", ["US-CA", "US-TX", "US-NY"])),
    ("chain 'medical assistant' 'laser hair removal' -j US-TX", "supervision_chains",
     ("medical assistant", "laser hair removal", "US-TX")),
    ("refer esthetician --to dermatologist", "referral_paths", ("esthetician", "dermatologist", None)),
]


def _node(kind: str, ident: str) -> str:
    return f"<{BASE}{kind}/{quote(ident, safe='')}>"


def appointments_ntriples(kb, csv_path: Path, out) -> int:
    """Write each appointment of ``csv_path`` as N-Triples to ``out``; return the number of triples."""
    procedures: dict = {}
    n = 0
    with open(csv_path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            proc = row["procedure"]
            if proc not in procedures:
                procedures[proc] = f"<{kb.resolve(proc, 'procedure')}>"
            a = _node("appointment", row["appointment_id"])
            lines = [f"{a} <{RDF_TYPE}> <{PROV}Activity> .",
                     f'{a} <{RDFS_LABEL}> "{row["appointment_id"]}" .',
                     f'{a} <{PROV}startedAtTime> "{row["start_time"]}"^^<{XSD_DATETIME}> .',
                     f"{a} <{PROV}atLocation> {_node('clinic', row['clinic_id'])} .",
                     f"{a} <{DCT}type> {procedures[proc]} .",
                     f"{a} <{PROV}wasAssociatedWith> {_node('staff', row['performer_id'])} ."]
            if row["supervisor_id"]:
                lines.append(f"{a} <{PROV}wasAssociatedWith> {_node('staff', row['supervisor_id'])} .")
            if row["examiner_id"]:
                lines.append(f"{a} <{PROV}wasInfluencedBy> {_node('staff', row['examiner_id'])} .")
            out.write("\n".join(lines) + "\n")
            n += len(lines)
    return n


def build_graph(work: Path, clinics: int, per_clinic: int) -> tuple[Path, int]:
    """The knowledge base plus the synthetic network as one N-Triples file; (path, triples)."""
    import medspa_graph
    from medspa_graph.kb import built_ntriples

    path = work / f"graph-{clinics}x{per_clinic}.nt"
    count = path.with_suffix(".count")
    if path.is_file() and count.is_file():
        return path, int(count.read_text())
    net = work / f"net-{clinics}x{per_clinic}"
    cli = str(BIN / "medspa-graph")
    subprocess.run([cli, "synth", "--clinics", str(clinics), "--appointments-per-clinic", str(per_clinic),
                    "--out", str(net)], check=True)
    r = subprocess.run([cli, "audit", "--roster", net / "roster.csv", "--clinics", net / "clinics.csv",
                        "--appointments", net / "appointments.csv", "--format", "csv", "--out", net / "findings.csv",
                        "--rdf", net / "network.nt"], capture_output=True, text=True)
    if r.returncode not in (0, 1):
        raise RuntimeError(r.stderr[-800:])
    kb = medspa_graph.load()
    source, _ = built_ntriples()
    tmp = path.with_suffix(".tmp")
    n = 0
    with open(tmp, "w", encoding="utf-8") as out:
        for part in (Path(source), net / "network.nt"):
            with open(part, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        out.write(line)
                        n += 1
        n += appointments_ntriples(kb, net / "appointments.csv", out)
    os.replace(tmp, path)
    count.write_text(str(n))
    return path, n


def timed(code: str) -> tuple[float, float, str]:
    """(wall seconds, peak RSS MiB, stdout) of ``python -c code`` under GNU time."""
    out = subprocess.run(["/usr/bin/time", "-f", "%e %M", sys.executable, "-c", code], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-800:])
    wall, kib = out.stderr.strip().splitlines()[-1].split()
    return float(wall), int(kib) / 1024, out.stdout


def latencies(make_kb, runs: int) -> dict:
    """Median seconds of every named query and question, each on a fresh KnowledgeBase."""
    from medspa_graph.questions import answers as questions
    from medspa_graph.sparql.queries import named_queries, prepare

    out = {}
    reference = make_kb()
    for name, q in sorted(named_queries().items()):
        sparql, bindings = prepare(reference, q, {p: PARAMS[k] for p, (k, _) in q.params.items()})
        times = []
        for i in range(runs + 1):
            kb = make_kb()
            t = time.perf_counter()
            kb.store.select(sparql, bindings or None)
            if i:
                times.append(time.perf_counter() - t)
        out[f"query {name}"] = statistics.median(times)
    for label, fn, args in QUESTIONS:
        times = []
        for i in range(runs + 1):
            kb = make_kb()
            t = time.perf_counter()
            getattr(questions, fn)(kb, *args)
            if i:
                times.append(time.perf_counter() - t)
        out[label] = statistics.median(times)
    return out


PUSH = """
import json, time
from medspa_graph.sparql.remote import push
t = time.perf_counter()
r = push({path!r}, {n}, {url!r}, engine={engine!r}, in_place={in_place!r})
print(json.dumps({{"seconds": time.perf_counter() - t, "triples": r["triples"]}}))
"""

LOAD = """
import json, time
from medspa_graph.sparql.store import OxigraphStore
t = time.perf_counter()
s = OxigraphStore({store!r})
s.load_ntriples({path!r})
s.store.flush()
print(json.dumps({{"seconds": time.perf_counter() - t, "triples": len(s)}}))
"""


def audit_times(args, net: Path, OxigraphServer, VirtuosoServer) -> dict:
    """Median wall seconds and peak RSS of ``medspa-graph audit`` on the network's CSVs, with the
    rules read from each engine (the servers hold only the knowledge base)."""
    from medspa_graph.kb import built_ntriples, load
    from medspa_graph.sparql.remote import push

    source, _ = built_ntriples()
    count = load().count()
    files = ["--roster", net / "roster.csv", "--clinics", net / "clinics.csv", "--appointments",
             net / "appointments.csv", "--format", "csv", "--out", os.devnull]
    out = {}
    for engine in args.engines.split(","):
        scratch = Path(tempfile.mkdtemp(prefix=f"audit-{engine}-", dir=args.work))
        server, extra = None, []
        try:
            if engine == "oxigraph":
                server = OxigraphServer(scratch).start()
                extra = ["--endpoint", server.url + "/query"]
            elif engine == "virtuoso":
                server = VirtuosoServer(scratch).start()
                extra = ["--endpoint", server.url]
            if extra:
                push(source, count, extra[1])
            runs = []
            for _ in range(args.runs):
                r = subprocess.run(["/usr/bin/time", "-f", "%e %M", str(BIN / "medspa-graph"), "audit", *files, *extra],
                                   capture_output=True, text=True)
                if r.returncode not in (0, 1):
                    raise RuntimeError(r.stderr[-800:])
                wall, kib = r.stderr.strip().splitlines()[-1].split()
                runs.append((float(wall), int(kib) / 1024))
            out[engine] = (statistics.median(w for w, _ in runs), max(m for _, m in runs))
            print(f"audit, rules from {engine}: {out[engine][0]:.1f} s, peak RSS {out[engine][1]:.0f} MiB", flush=True)
        finally:
            if server is not None:
                server.stop()
            shutil.rmtree(scratch, ignore_errors=True)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clinics", type=int, default=10000)
    ap.add_argument("--appointments-per-clinic", type=int, default=120)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engines", default="embedded,oxigraph,virtuoso")
    ap.add_argument("--work", type=Path, default=ROOT / "build" / "bench-engines")
    ap.add_argument("--in-place", default="oxigraph,virtuoso", metavar="ENGINES",
                    help="push these engines' graph in place, without staging and MOVE (default: both; at "
                         "10M triples oxigraph serve's MOVE does not fit in memory, Virtuoso's overflows its "
                         "transaction log limit)")
    ap.add_argument("--audit", action="store_true",
                    help="instead: time `medspa-graph audit` on the network's CSVs, rules from each engine")
    ap.add_argument("--virtuoso-buffers", type=int, default=340000, help="NumberOfBuffers (8 KiB pages)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "tests"))  # the launchers the tests use
    from conftest import OxigraphServer, VirtuosoServer

    from medspa_graph.kb import KnowledgeBase
    from medspa_graph.sparql.store import EndpointStore, OxigraphStore

    if args.audit:
        build_graph(args.work, args.clinics, args.appointments_per_clinic)
        times = audit_times(args, args.work / f"net-{args.clinics}x{args.appointments_per_clinic}",
                            OxigraphServer, VirtuosoServer)
        print("\n| rules read from | " + " | ".join(times) + " |")
        print("|---|" + "---:|" * len(times))
        print("| audit wall, s (median) | " + " | ".join(f"{w:.1f}" for w, _ in times.values()) + " |")
        print("| peak RSS, MiB | " + " | ".join(f"{m:.0f}" for _, m in times.values()) + " |")
        return 0
    t = time.perf_counter()
    path, n = build_graph(args.work, args.clinics, args.appointments_per_clinic)
    print(f"graph: {path} ({n:,} triples, {path.stat().st_size / 2**30:.2f} GiB; "
          f"{time.perf_counter() - t:.0f} s to write or find)", flush=True)
    saved = args.work / "results.json"  # engines measured in earlier runs on the same graph stay in the table
    results = json.loads(saved.read_text()) if saved.is_file() else {}
    results = {e: r for e, r in results.items() if r.get("triples") == n}
    for engine in args.engines.split(","):
        scratch = Path(tempfile.mkdtemp(prefix=f"bench-{engine}-", dir=args.work))
        server = None
        try:
            how = "bulk load"
            if engine == "embedded":
                wall, rss, out = timed(LOAD.format(store=str(scratch / "db"), path=str(path)))
                store = OxigraphStore(scratch / "db", read_only=True)
                make_kb = lambda store=store: KnowledgeBase(store)  # noqa: E731
            else:
                if engine == "oxigraph":
                    server = OxigraphServer(scratch).start()
                    url = server.url + "/query"
                else:
                    buffers = args.virtuoso_buffers
                    server = VirtuosoServer(scratch, Parameters={"NumberOfBuffers": buffers,
                                                                 "MaxDirtyBuffers": buffers * 3 // 4},
                                            SPARQL={"ResultSetMaxRows": 1000000}).start()
                    url = server.url
                    print(f"virtuoso started in {server.startup_seconds:.1f} s", flush=True)
                in_place = engine in args.in_place.split(",")
                how = "push --in-place" if in_place else "push (staging + MOVE)"
                wall, rss, out = timed(PUSH.format(path=str(path), n=n, url=url, engine=engine, in_place=in_place))
                endpoint = EndpointStore(url, engine=engine, timeout=600)
                make_kb = lambda endpoint=endpoint: KnowledgeBase(endpoint)  # noqa: E731
            loaded = json.loads(out.strip().splitlines()[-1])
            print(f"{engine}: loaded {loaded['triples']:,} triples in {wall:.0f} s, peak RSS {rss:.0f} MiB", flush=True)
            lat = latencies(make_kb, args.runs)
            results[engine] = {"how": how, "load_s": wall, "rss_mib": rss, "triples": loaded["triples"], "latency": lat}
            for k, v in lat.items():
                print(f"  {engine:<9} {k:<55} {v * 1000:9.1f} ms", flush=True)
        finally:
            if server is not None:
                server.stop()
            make_kb = store = endpoint = None
            shutil.rmtree(scratch, ignore_errors=True)
            saved.write_text(json.dumps(results, indent=2))
    engines = list(results)
    print("\n| | " + " | ".join(engines) + " |")
    print("|---|" + "---:|" * len(engines))
    print("| triples | " + " | ".join(f"{results[e]['triples']:,}" for e in engines) + " |")
    print("| how | " + " | ".join(results[e]["how"] for e in engines) + " |")
    print("| push (load for embedded), s | " + " | ".join(f"{results[e]['load_s']:.0f}" for e in engines) + " |")
    print("| peak RSS of the pushing (loading) process, MiB | "
          + " | ".join(f"{results[e]['rss_mib']:.0f}" for e in engines) + " |")
    for k in results[engines[0]]["latency"]:
        print(f"| {k} | " + " | ".join(f"{results[e]['latency'][k] * 1000:.1f} ms" for e in engines) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
