"""Bench: cold CLI question vs. importing rdflib+networkx; warm question latency; load() cost.

Run:  .venv/bin/python bench/questions.py [--runs N]
Prints medians. The cold ratio uses a baseline measured in the same run (same machine state).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def _time_cmd(cmd, runs, env):
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    env = os.environ.copy()
    env["MEDSPA_GRAPH_CACHE"] = tempfile.mkdtemp(prefix="medspa-bench-")

    from medspa_graph.knowledge.loading import build_graph

    # load() cost, uncached, with and without reasoning, each reasoner
    for label, kw in [("build: parse+validate+reason (reasonable)", {}),
                      ("build: parse+validate, no reasoning", {"reason": False})]:
        r = build_graph(**kw)
        print(f"{label:<48} {r.timings['total']:7.2f} s  {dict((k, round(v, 2)) for k, v in r.timings.items())}")
    from medspa_graph.knowledge.loading import parse_files
    from medspa_graph.knowledge.reasoning import materialize
    from medspa_graph.utils.paths import curated_files

    g, _ = parse_files(curated_files())
    for engine in ("reasonable", "owlrl"):
        t = time.perf_counter()
        out = materialize(g, engine)
        print(f"reasoner {engine:<39} {time.perf_counter() - t:7.2f} s  ({len(g)} -> {len(out)} triples)")

    # warm the cache for the cold-question runs
    subprocess.run([sys.executable, "-m", "medspa_graph", "who-can", "botox", "-j", "US-CA"],
                   check=True, capture_output=True, env=env)
    base = _time_cmd([sys.executable, "-c", "import rdflib, networkx"], args.runs, env)
    cold = _time_cmd([sys.executable, "-m", "medspa_graph", "who-can", "botox", "--jurisdiction", "US-CA"],
                     args.runs, env)
    print(f"baseline `python -c 'import rdflib, networkx'`     {base * 1000:7.1f} ms (median of {args.runs})")
    print(f"cold `medspa-graph who-can botox -j US-CA`         {cold * 1000:7.1f} ms (median of {args.runs})")
    print(f"cold question / baseline ratio                    {cold / base:7.2f}x  (target <= 2x)")

    os.environ["MEDSPA_GRAPH_CACHE"] = env["MEDSPA_GRAPH_CACHE"]
    import medspa_graph
    from medspa_graph.questions import answers as questions

    kb = medspa_graph.load()
    kb.who_can("botox", "US-CA")  # first question fills the per-jurisdiction cache
    cases = [("who_can", lambda: kb.who_can("botox", "US-CA")),
             ("who_can records (no DataFrame)", lambda: questions.who_can(kb, "botox", "US-CA")),
             ("scope", lambda: kb.scope("esthetician", "US-CA")),
             ("supervision_chains", lambda: kb.supervision_chains("medical assistant", "botox", "US-TX")),
             ("referral_paths", lambda: kb.referral_paths("esthetician", "dermatologist"))]
    for name, fn in cases:
        fn()
        times = []
        for _ in range(200):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        print(f"warm {name:<44} {statistics.median(times) * 1000:7.3f} ms median of 200 (target < 5 ms)")


if __name__ == "__main__":
    main()
