"""A bounded, checked load on a SPARQL 1.1 Protocol endpoint, and the memory of the server under it.

Used by ``bench/load.py`` (the full run: 20,000 requests at 32 clients, several rounds) and by
``tests/test_load.py`` (a reduced run in CI; pytest finds this module through ``pythonpath`` in
``pyproject.toml``). The client is the standard library's ``http.client`` on threads, one
keep-alive connection per client, so what is measured is the server.

A run sends a fixed number of requests drawn in turn from a list of :class:`Kind`\\ s (the named
queries with their parameters bound, and ad hoc queries in every result format), and a few
queries meant to pass the server's time limit. Those slow ones are sent by one client, one at a
time and spread over the run: each holds a worker until the limit, and two at once would hold
both of a 2-worker server's workers, so that every other client waited past the limit too (a
503 the server documents, but not the one under test). Every answer is checked: its status, and
for a 200 that the body is a well-formed SPARQL results document (or RDF) with the expected
number of rows.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

__all__ = ["Kind", "Result", "run", "named_kinds", "adhoc_kinds", "slow_kind", "start_serve", "stop_serve",
           "tree_rss", "settle"]

JSON = "application/sparql-results+json"
XML = "application/sparql-results+xml"
CSV = "text/csv"
TSV = "text/tab-separated-values"
NT = "application/n-triples"

#: One value per parameter kind, so every named query runs with its parameters bound.
PARAMS = {"jurisdiction": "US-CA", "procedure": "botox", "role": "registered nurse",
          "condition": "melanoma", "product": "botulinum toxin"}


@dataclass(frozen=True)
class Kind:
    """One kind of request: a query, the format asked for, and the answer expected."""

    name: str
    query: str
    accept: str = JSON
    rows: int | None = None  # rows of a SELECT, triples of a CONSTRUCT; None: any number
    status: int = 200  # 503: meant to pass the server's time limit
    get: bool = False  # GET with query= instead of POST application/sparql-query


def named_kinds(kb) -> list[Kind]:
    """Every named query, parameters bound, with the row count the embedded store gives."""
    from medspa_graph.sparql.queries import named_queries, prepare
    from medspa_graph.sparql.text import bind

    kinds = []
    for name, q in sorted(named_queries().items()):
        sparql, bindings = prepare(kb, q, {p: PARAMS[k] for p, (k, _) in q.params.items()})
        text = bind(sparql, bindings or None)
        kinds.append(Kind(name, text, JSON, len(kb.store.select(text))))
    return kinds


def adhoc_kinds(kb) -> list[Kind]:
    """Ad hoc queries: ASK, SELECT in the four result formats, by GET and POST, and a CONSTRUCT."""
    ms = "PREFIX ms: <https://w3id.org/medspa-graph/ontology#> "
    skos = "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
    rules = ms + "SELECT ?r ?role WHERE { ?r a ms:ScopeRule ; ms:role ?role } ORDER BY ?r LIMIT 50"
    codes = ms + skos + "SELECT ?code WHERE { ?j a ms:Jurisdiction ; skos:notation ?code } ORDER BY ?code"
    pairs = "WHERE { ?r a ms:ScopeRule ; ms:role ?role } ORDER BY ?r LIMIT 100"
    construct = ms + "CONSTRUCT { ?r ms:role ?role } " + pairs
    n_codes = len(kb.store.select(codes))
    n_construct = len(kb.store.select(ms + "SELECT ?r ?role " + pairs))  # distinct pairs: one triple each
    return [
        Kind("adhoc ask", "ASK { ?s ?p ?o }", JSON),
        Kind("adhoc select json (GET)", rules, JSON, 50, get=True),
        Kind("adhoc select xml", codes, XML, n_codes),
        Kind("adhoc select csv", codes, CSV, n_codes),
        Kind("adhoc select tsv (GET)", codes, TSV, n_codes, get=True),
        Kind("adhoc count", "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", JSON, 1),
        Kind("adhoc construct n-triples", construct, NT, n_construct),
    ]


def slow_kind() -> Kind:
    """A query no engine finishes in time (a three-way cross product): the server must answer 503."""
    return Kind("slow (time limit)", "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
                JSON, status=503)


def check(kind: Kind, status: int, ctype: str, body: bytes) -> str | None:
    """What is wrong with an answer, or None."""
    if status != kind.status:
        return f"HTTP {status}, expected {kind.status}: {body[:120]!r}"
    if status != 200:
        one_line = b"time limit" in body and body.count(b"\n") == 1
        return None if one_line else f"HTTP {status} body {body[:120]!r}"
    if not ctype.startswith(kind.accept):
        return f"Content-Type {ctype}, asked for {kind.accept}"
    try:
        text = body.decode("utf-8")
        if kind.accept == JSON:
            doc = json.loads(text)
            if "boolean" in doc:
                return None if isinstance(doc["boolean"], bool) else "ASK result not a boolean"
            assert isinstance(doc["head"]["vars"], list)
            n = len(doc["results"]["bindings"])
        elif kind.accept == XML:
            ns = "{http://www.w3.org/2005/sparql-results#}"
            root = ET.fromstring(body)
            n = len(root.findall(f"{ns}results/{ns}result"))
        elif kind.accept in (CSV, TSV):
            rows = list(csv.reader(io.StringIO(text), delimiter="," if kind.accept == CSV else "\t"))
            n = len(rows) - 1
        else:
            n = sum(1 for line in text.splitlines() if line.strip().endswith(" ."))
    except (ValueError, KeyError, TypeError, AssertionError, ET.ParseError) as e:
        return f"malformed {kind.accept}: {type(e).__name__}: {e}"
    if kind.rows is not None and n != kind.rows:
        return f"{n} rows, expected {kind.rows}"
    return None


@dataclass
class Result:
    """What a run saw: statuses and latencies by kind, and every problem."""

    statuses: Counter = field(default_factory=Counter)  # (kind name, status or exception name) -> n
    latencies: dict = field(default_factory=dict)  # kind name -> [seconds]
    problems: list = field(default_factory=list)  # (kind name, what was wrong)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    def by_status(self) -> Counter:
        out = Counter()
        for (_, status), n in self.statuses.items():
            out[status] += n
        return out

    def percentiles(self, name: str | None = None) -> tuple[float, float]:
        """p50 and p99 in milliseconds, of one kind or of every request."""
        xs = sorted(self.latencies.get(name, []) if name else [x for v in self.latencies.values() for x in v])
        if not xs:
            return float("nan"), float("nan")
        return statistics.median(xs) * 1000, xs[min(len(xs) - 1, int(0.99 * len(xs)))] * 1000


def run(url: str, kinds: list[Kind], *, requests: int, clients: int, slow: Kind | None = None,
        slow_count: int = 0, client_timeout: float = 120.0) -> Result:
    """Send ``requests`` requests (``slow_count`` of them ``slow``) from ``clients`` threads.

    The fast requests cycle through ``kinds`` in order; client 0 also sends the slow ones,
    one at a time, spread evenly over its share.
    """
    parts = urlsplit(url)
    path = parts.path or "/sparql"
    result = Result(latencies={k.name: [] for k in [*kinds, *([slow] if slow else [])]})
    lock = threading.Lock()
    fast_total = requests - slow_count
    taken = [0]
    slow_left = [slow_count if slow else 0]
    spacing = max(1, fast_total // max(1, clients) // max(1, slow_count + 1))

    def next_kind(i: int, own: int) -> Kind | None:
        with lock:
            if i == 0 and slow_left[0] and (own % (spacing + 1) == spacing or taken[0] >= fast_total):
                slow_left[0] -= 1
                return slow
            if taken[0] < fast_total:
                taken[0] += 1
                return kinds[(taken[0] - 1) % len(kinds)]
            return None

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=client_timeout)
        own = 0
        while (kind := next_kind(i, own)) is not None:
            own += 1
            headers = {"Accept": kind.accept}
            if kind.get:
                method, target, body = "GET", f"{path}?query={quote(kind.query)}", None
            else:
                method, target, body = "POST", path, kind.query.encode("utf-8")
                headers["Content-Type"] = "application/sparql-query"
            t = time.perf_counter()
            try:
                conn.request(method, target, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                status, ctype = resp.status, resp.getheader("Content-Type", "")
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=client_timeout)
                with lock:
                    result.statuses[(kind.name, type(e).__name__)] += 1
                    result.problems.append((kind.name, f"{type(e).__name__}: {e}"))
                continue
            elapsed = time.perf_counter() - t
            problem = check(kind, status, ctype, data)
            with lock:
                result.statuses[(kind.name, status)] += 1
                result.latencies[kind.name].append(elapsed)
                if problem:
                    result.problems.append((kind.name, problem))
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.perf_counter() - t0
    return result


# -- the server's memory -----------------------------------------------------------

def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> dict:
    """Resident memory (KiB) of a process and of its descendants (a server and its workers), from /proc.

    Keys: ``parent``, ``workers`` (their sum), ``total``, ``processes`` and ``pids`` (the workers').
    """
    kids = _children()
    todo, tree = list(kids.get(pid, [])), []
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(kids.get(p, []))
    workers = {p: _rss_kib(p) for p in tree}
    parent = _rss_kib(pid)
    return {"parent": parent, "workers": sum(workers.values()), "total": parent + sum(workers.values()),
            "processes": 1 + len(tree), "pids": sorted(tree)}


def settle(pid: int, workers: int, timeout: float = 120.0) -> dict:
    """Wait until the server runs ``workers`` workers again (a worker killed at the time limit is
    replaced in the background) and its memory has stopped moving; then return :func:`tree_rss`."""
    deadline = time.monotonic() + timeout
    samples = []
    while time.monotonic() < deadline:
        now = tree_rss(pid)
        samples = [*samples[-2:], now["total"]] if now["processes"] == workers + 1 else []
        if len(samples) == 3 and max(samples) - min(samples) <= max(samples) // 200:  # within 0.5 %
            return now
        time.sleep(0.5)
    return tree_rss(pid)


def start_serve(*args: str) -> tuple[subprocess.Popen, str]:
    """Start ``medspa-graph serve --port 0 --quiet ARGS`` in a process of its own; return it and its URL.

    Its standard error goes to a temporary file, ``proc.log`` (a pipe nobody reads could fill up).
    """
    import tempfile

    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([sys.executable, "-m", "medspa_graph", "serve", "--port", "0", "--quiet", *args],
                            stdout=subprocess.PIPE, stderr=log, text=True, env=os.environ.copy())
    proc.log = log
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+/sparql)", line)
    if not m:
        proc.kill()
        proc.wait()
        log.seek(0)
        raise RuntimeError(f"medspa-graph serve did not start: {line!r} {log.read()[-500:]!r}")
    return proc, m.group(1)


def stop_serve(proc: subprocess.Popen) -> str:
    """Stop a server from :func:`start_serve` as a service manager would (SIGTERM); return its log."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    proc.log.seek(0)
    text = proc.log.read().decode("utf-8", "replace")
    proc.log.close()
    return text
