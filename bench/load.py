"""Bench: a bounded load on ``medspa-graph serve``, checked answer by answer, and its memory across rounds.

Run:  .venv/bin/python bench/load.py [--requests 20000] [--clients 32] [--rounds 3] [--slow 20]

One ``medspa-graph serve`` (in memory, ``--workers`` processes, ``--timeout`` seconds) on
loopback. Each round sends ``--requests`` requests from ``--clients`` keep-alive clients:
every named query (parameters bound) and ad hoc queries (ASK, SELECT as JSON, XML, CSV and
TSV, by GET and POST, a CONSTRUCT as N-Triples) in turn, and ``--slow`` queries that pass
the time limit, sent one at a time by one client (see ``loadgen.py``). Every answer is
checked (status; for a 200, a well-formed document with the expected rows). Printed: p50
and p99 latency per kind over all rounds, answers by status, problems, and the resident
memory of the server process and its workers (from /proc) before the first round and after
each, once the workers killed at the time limit have been replaced.
"""

from __future__ import annotations

import argparse
import os
import sys

from loadgen import adhoc_kinds, named_kinds, run, settle, slow_kind, start_serve, stop_serve


def _statuses(counts) -> str:
    return ", ".join(f"{s}: {n}" for s, n in sorted(counts.items(), key=str))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=20_000, help="requests per round (default: 20000)")
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--slow", type=int, default=20, help="queries past the time limit a round (default: 20)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=5.0, help="the server's --timeout (default: 5)")
    args = ap.parse_args()

    import medspa_graph

    kb = medspa_graph.load()
    kinds = [*named_kinds(kb), *adhoc_kinds(kb)]
    slow = slow_kind()
    proc, url = start_serve("--workers", str(args.workers), "--timeout", str(args.timeout))
    results, memory = [], []
    try:
        memory.append(("before", settle(proc.pid, args.workers)))
        for r in range(args.rounds):
            res = run(url, kinds, requests=args.requests, clients=args.clients, slow=slow,
                      slow_count=args.slow)
            results.append(res)
            memory.append((f"after round {r + 1}", settle(proc.pid, args.workers)))
            p50, p99 = res.percentiles()
            print(f"round {r + 1}: {res.requests} requests in {res.seconds:.1f} s "
                  f"({res.requests / res.seconds:.0f}/s), p50 {p50:.1f} ms, p99 {p99:.1f} ms, statuses {dict(res.by_status())}, "
                  f"problems {len(res.problems)}", file=sys.stderr)
    finally:
        log = stop_serve(proc)
    if log.strip():
        print("server log:\n" + log[-2000:], file=sys.stderr)

    print(f"\n{args.rounds} rounds of {args.requests} requests at {args.clients} clients ({args.slow} past the "
          f"{args.timeout:g} s limit each); medspa-graph serve with {args.workers} workers; "
          f"{os.cpu_count()} CPUs\n")
    print("| kind | requests | statuses | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    total = results[0].__class__()
    for res in results:
        total.statuses.update(res.statuses)
        for k, v in res.latencies.items():
            total.latencies.setdefault(k, []).extend(v)
        total.problems.extend(res.problems)
    for k in [*[k.name for k in kinds], slow.name]:
        statuses = {s: n for (name, s), n in total.statuses.items() if name == k}
        p50, p99 = total.percentiles(k)
        print(f"| {k} | {sum(statuses.values())} | {_statuses(statuses)} | {p50:.1f} | {p99:.1f} |")
    p50, p99 = total.percentiles()
    fast = [x for k, v in total.latencies.items() if k != slow.name for x in v]
    fast.sort()
    f50, f99 = fast[len(fast) // 2] * 1000, fast[min(len(fast) - 1, int(0.99 * len(fast)))] * 1000
    print(f"| all but the slow ones | {len(fast)} | | {f50:.1f} | {f99:.1f} |")
    print(f"| all | {total.requests} | {_statuses(total.by_status())} | {p50:.1f} | {p99:.1f} |")
    print(f"\nproblems (answers other than the expected status and rows): {len(total.problems)}")
    for name, what in total.problems[:20]:
        print(f"  {name}: {what}")
    print("\n| when | server MiB | workers MiB | total MiB | worker pids |")
    print("|---|---|---|---|---|")
    for when, m in memory:
        print(f"| {when} | {m['parent'] / 1024:.1f} | {m['workers'] / 1024:.1f} | {m['total'] / 1024:.1f} | "
              f"{' '.join(map(str, m['pids']))} |")
    return 1 if total.problems else 0


if __name__ == "__main__":
    sys.exit(main())
