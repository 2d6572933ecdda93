"""Bench: the named queries over HTTP, medspa-graph serve vs oxigraph serve-read-only vs rdflib-endpoint.

Run:  .venv/bin/pip install -e '.[bench]' && .venv/bin/python bench/serve.py [--seconds S] [--rounds R]

All three servers hold the same graph (the built knowledge base, default graph)
and answer the same request mix: every named query, parameters bound, sent as
POST application/sparql-query with Accept: SPARQL JSON over keep-alive
connections from 1, 8 and 32 client threads. Each (server, clients) cell is run
``rounds`` times for ``seconds`` each, rounds interleaved across servers so that
machine noise hits every server alike; the table gives the median throughput
and the median per-request latency, and the ratios of medspa-graph's throughput
to each baseline's, measured in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited early: {url}")
        try:
            req = urllib.request.Request(url, data=b"ASK {}", headers={"Content-Type": "application/sparql-query",
                                                                       "Accept": "application/sparql-results+json"})
            with urllib.request.urlopen(req, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start: {url}")


def per_query(url: str, mix: list[str], names: list[str], runs: int, timeout: float) -> dict[str, float]:
    """Median latency (ms) of each query, sent alone, ``runs`` times; inf past ``timeout``."""
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    out = {}
    for name, q in zip(names, mix):
        times = []
        for _ in range(runs):
            conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
            t = time.perf_counter()
            try:
                conn.request("POST", "/" + parts[3], body=q.encode(),
                             headers={"Content-Type": "application/sparql-query",
                                      "Accept": "application/sparql-results+json"})
                resp = conn.getresponse()
                resp.read()
                times.append(time.perf_counter() - t if resp.status == 200 else float("inf"))
            except (OSError, http.client.HTTPException):
                times.append(float("inf"))
            finally:
                conn.close()
        out[name] = statistics.median(times) * 1000
    return out


def queries() -> list[str]:
    import medspa_graph
    from medspa_graph.sparql.queries import named_queries, prepare
    from medspa_graph.sparql.text import bind

    kb = medspa_graph.load()
    values = {"jurisdiction": "US-CA", "procedure": "botox"}
    out = []
    for _name, q in sorted(named_queries().items()):
        sparql, bindings = prepare(kb, q, {p: values[k] for p, (k, _) in q.params.items()})
        out.append(bind(sparql, bindings or None))
    return out, sorted(named_queries())


def load(url: str, mix: list[str], clients: int, seconds: float,
         timeout: float = 60.0) -> tuple[float, float, int]:
    """Run ``clients`` threads for ``seconds``; return (requests/s, median latency ms, errors)."""
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    path = "/" + parts[3]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def run(i):
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        k = i
        start.wait()
        while time.perf_counter() < stop_at[0]:
            body = mix[k % len(mix)].encode()
            k += 1
            t = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers={"Content-Type": "application/sparql-query",
                                                               "Accept": "application/sparql-results+json"})
                resp = conn.getresponse()
                resp.read()
                if resp.status != 200:
                    errors[i] += 1
                    if os.environ.get("BENCH_DEBUG"):
                        print("error", resp.status, resp.read()[:200], file=sys.stderr)
            except (OSError, http.client.HTTPException) as e:
                errors[i] += 1
                if os.environ.get("BENCH_DEBUG"):
                    print("error", repr(e), file=sys.stderr)
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
                continue  # a timed-out or failed request is counted as an error, not as an answer
            latencies[i].append(time.perf_counter() - t)
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    flat = [x for lat in latencies for x in lat]
    return len(flat) / elapsed, statistics.median(flat) * 1000 if flat else float("nan"), sum(errors)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--clients", default="1,8,32")
    ap.add_argument("--workers", type=int, default=2, help="medspa-graph serve worker processes")
    ap.add_argument("--skip-rdflib", action="store_true")
    ap.add_argument("--rdflib-timeout", type=float, default=30.0,
                    help="client timeout for rdflib-endpoint requests (its slowest queries run for minutes)")
    args = ap.parse_args()
    levels = [int(c) for c in args.clients.split(",")]

    from medspa_graph.kb import built_ntriples

    mix, names = queries()
    source, _ = built_ntriples()
    tmp = Path(tempfile.mkdtemp(prefix="medspa-bench-serve-"))
    nt = tmp / "kb.nt"
    shutil.copyfile(source, nt) if not isinstance(source, bytes) else nt.write_bytes(source)
    procs, servers = [], {}
    try:
        port = free_port()
        p = subprocess.Popen([str(BIN / "medspa-graph"), "serve", "--port", str(port), "--quiet",
                              "--workers", str(args.workers), "--timeout", "60", "--max-result-bytes", str(1 << 30)],
                             stdout=subprocess.DEVNULL, env=os.environ.copy())
        procs.append(p)
        servers["medspa-graph serve"] = (f"http://127.0.0.1:{port}/sparql", p)

        port = free_port()
        p = subprocess.Popen([str(BIN / "medspa-graph"), "serve", "--port", str(port), "--quiet",
                              "--store", str(tmp / "medspa-db"), "--workers", str(args.workers), "--timeout", "60",
                              "--max-result-bytes", str(1 << 30)], stdout=subprocess.DEVNULL, env=os.environ.copy())
        procs.append(p)
        servers["medspa-graph serve --store"] = (f"http://127.0.0.1:{port}/sparql", p)

        db = tmp / "oxigraph"
        subprocess.run([str(BIN / "oxigraph"), "load", "--location", str(db), "--file", str(nt)],
                       check=True, capture_output=True)
        port = free_port()
        p = subprocess.Popen([str(BIN / "oxigraph"), "serve-read-only", "--location", str(db),
                              "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(p)
        servers["oxigraph serve-read-only"] = (f"http://127.0.0.1:{port}/query", p)

        def restart_rdflib():
            old = servers.get("rdflib-endpoint")
            if old:
                old[1].kill()
                old[1].wait()
            port = free_port()
            p = subprocess.Popen([str(BIN / "rdflib-endpoint"), "serve", str(nt), "--host", "127.0.0.1",
                                  "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(p)
            servers["rdflib-endpoint"] = (f"http://127.0.0.1:{port}/", p)
            if old:
                wait_for(servers["rdflib-endpoint"][0], p)

        if not args.skip_rdflib:
            restart_rdflib()

        for name, (url, p) in servers.items():
            wait_for(url, p)
            if name != "rdflib-endpoint":
                load(url, mix, 1, 1.0)  # warm up: first queries, connection setup

        slow = "rdflib-endpoint"
        lat = {name: per_query(url, mix, names, 1 if name == slow else 5, args.rdflib_timeout if name == slow else 60)
               for name, (url, _) in servers.items()}
        if slow in servers:  # a query it could not answer in time leaves the server busy: restart it
            restart_rdflib()
        print(f"\nPer query, one client, median ms (rdflib-endpoint: one run, "
              f"inf = no answer within {args.rdflib_timeout:g} s):\n")
        print("| query | " + " | ".join(servers) + " |")
        print("|---|" + "---|" * len(servers))
        for n in names:
            print(f"| {n} | " + " | ".join(f"{lat[s][n]:.1f}" for s in servers) + " |")
        sys.stdout.flush()

        results: dict = {(n, c): [] for n in servers for c in levels}
        for r in range(args.rounds):
            for c in levels:
                for name, (url, _) in servers.items():
                    if name == slow:
                        results[(name, c)].append(load(url, mix, c, max(args.seconds, 10.0), args.rdflib_timeout))
                        restart_rdflib()
                    else:
                        results[(name, c)].append(load(url, mix, c, args.seconds))
                    print(f"round {r + 1} {name:<26} {c:>2} clients: {results[(name, c)][-1][0]:8.1f} req/s",
                          file=sys.stderr)

        print(f"\n{len(mix)} named queries in the mix; {args.rounds} rounds of {args.seconds:g} s per cell; "
              f"medspa-graph serve with {args.workers} workers; {os.cpu_count()} CPUs\n")
        print("| server | clients | req/s (median) | median latency ms | errors |")
        print("|---|---|---|---|---|")
        med = {}
        for (name, c), runs in results.items():
            qps = statistics.median(x[0] for x in runs)
            lat = statistics.median(x[1] for x in runs)
            med[(name, c)] = qps
            print(f"| {name} | {c} | {qps:.1f} | {lat:.2f} | {sum(x[2] for x in runs)} |")
        print("\n| clients | serve / oxigraph | serve --store / oxigraph | serve / rdflib-endpoint |")
        print("|---|---|---|---|")
        for c in levels:
            ours = med[("medspa-graph serve", c)]
            disk = med[("medspa-graph serve --store", c)]
            ox = med[("oxigraph serve-read-only", c)]
            rd = ours / med[("rdflib-endpoint", c)] if ("rdflib-endpoint", c) in med else float("nan")
            print(f"| {c} | {ours / ox:.2f}x | {disk / ox:.2f}x | {rd:.1f}x |")
        print("\ntargets: >= 0.7x oxigraph serve-read-only, >= 10x rdflib-endpoint")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
