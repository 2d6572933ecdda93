"""Differential testing of the SPARQL guard against the engine it protects.

Seeds are the W3C SPARQL 1.1 query tests and the package's named queries; each case
inserts a payload that would fetch (``SERVICE``) or name a dataset (``FROM``) into a
seed, somewhere, in some disguise (glued to a word, after a ``<``, escaped, in odd
case, next to a stray ``#``, ``'`` or ``\"\"\"``). Then it asks two readers:

- the guard (:func:`medspa_graph.sparql.guard.inspect`): refused, or the graphs it found;
- the engine: the query runs in a forked child under a seccomp filter that *kills*
  the process on any ``socket()`` call (``SIGSYS``, which ``SERVICE SILENT`` cannot
  swallow), so "the engine tried to reach the network" is a fact, and no packet is
  ever sent. A second run with the dataset forced to the store's own tells whether
  the engine read a dataset clause (the answers differ).

A disagreement is a case where the guard passed the text and the engine tried to
connect, read a dataset clause the guard did not list, or crashed. Used by
``tests/test_guard.py`` (a small seeded budget in CI) and ``bench/guard_fuzz.py``.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
W3C = ROOT.parent / "shared" / "conformance" / "w3c-sparql11-query"
TARGET = "http://127.0.0.1:59999/x"  # never contacted: the child cannot open a socket
NONDETERMINISTIC = re.compile(r"\b(RAND|NOW|UUID|STRUUID|BNODE)\b", re.I)

PAYLOADS = [
    "SERVICE <{t}> {{ ?s ?p ?o }}",
    "SERVICE SILENT <{t}> {{ }}",
    "FILTER(?zz<?yy)SERVICE#>\n<{t}> {{ }}",
    "FILTER(?zz<=?yy)SERVICE SILENT#>\n<{t}> {{ }}",
    "FILTER(?zz<?yy)'#>\nSERVICE <{t}> {{ }}",
    "?s ?p trueSERVICE<{t}>{{ }}",
    "?s ?p falseSERVICE SILENT<{t}>{{ }}",
    "?s ?p 1SERVICE<{t}>{{ }}",
    "?s ?p \"\\u0022\" . SERVICE <{t}> {{ }}",
    "SERVICE tr:x {{ }}",
    "SERVICEtr:x {{ }}",
    "FROM <{t}>",
    "FROM NAMED <{t}>",
    "FROMtr:x",
    "FILTER(?zz<?yy)FROM#>\n<{t}>",
]
NOISE = ["<", "#", "'", '"""', "\n", "\\u0023", ">", "?", ":", "1", "true", "'''"]


def seeds() -> list[str]:
    """Seed queries the engine parses and that answer the same every time."""
    import pyoxigraph as ox

    texts = [p.read_text(encoding="utf-8") for p in sorted(W3C.rglob("*.rq"))]
    texts += [p.read_text(encoding="utf-8") for p in sorted((ROOT / "ontology" / "queries").rglob("*.rq"))]
    out = []
    for t in texts:
        if NONDETERMINISTIC.search(t) or "SERVICE" in t.upper():
            continue
        try:
            ox.Store().query(t, base_iri="http://example.org/")
        except SyntaxError:
            continue
        except Exception:  # noqa: BLE001 - parses; fails later on data: still a seed
            pass
        out.append(t)
    return out


@dataclass
class Case:
    text: str
    how: str


def mutate(rng: random.Random, seed: str) -> Case:
    """One case: ``seed`` with a payload and some noise inserted at random places."""
    from medspa_graph.sparql.text import spans

    k = rng.randrange(len(PAYLOADS))
    payload = PAYLOADS[k].format(t=TARGET)
    how = [f"payload {k}"]
    if rng.random() < 0.3:  # odd case in the keyword
        payload = re.sub(r"[A-Za-z]", lambda m: m.group().swapcase() if rng.random() < 0.5 else m.group(), payload,
                         count=12)
        how.append("case")
    try:
        toks = list(spans(seed))
    except Exception:  # noqa: BLE001
        toks = []
    bounds = [0] + [end for _, _, end in toks]
    # where the payload is valid SPARQL: a pattern just inside a group, a dataset clause before WHERE
    braces = [end for _, start, end in toks if seed[start:end] == "{"]
    wheres = [start for kind, start, end in toks if kind == "word" and seed[start:end].upper() == "WHERE"]
    likely = wheres if payload.upper().startswith("FROM") else braces
    roll = rng.random()
    if likely and roll < 0.6:
        at = rng.choice(likely)
    elif roll < 0.9:
        at = rng.choice(bounds)
    else:
        at = rng.randrange(len(seed) + 1)
    glue = "" if rng.random() < 0.3 else " "
    text = seed[:at] + glue + payload + glue + seed[at:]
    for _ in range(rng.choice([0, 0, 1, 2])):
        i = rng.randrange(len(text) + 1)
        bit = rng.choice(NOISE)
        text = text[:i] + bit + text[i:]
        how.append(f"noise {bit!r}")
    return Case("PREFIX tr: <http://127.0.0.1:59999/>\n" + text, " + ".join(how))


def guard_view(text: str) -> tuple[bool, list]:
    """(refused, graphs) as the guard reads ``text``."""
    from medspa_graph.errors import QueryError
    from medspa_graph.sparql.guard import inspect

    try:
        info = inspect(text)
    except QueryError:
        return True, []
    return False, info.graphs


def _store():
    import pyoxigraph as ox

    s = ox.Store()
    p = ox.NamedNode("http://example.org/p")
    for i in range(3):
        s.add(ox.Quad(ox.NamedNode(f"http://example.org/s{i}"), p, ox.Literal(f"default {i}")))
        s.add(ox.Quad(ox.NamedNode(f"http://example.org/n{i}"), p, ox.Literal(f"named {i}"),
                      ox.NamedNode(TARGET)))
    return s


def engine_view(text: str, timeout: float = 3.0) -> str:
    """What the engine does with ``text``: ``socket``, ``dataset``, ``crash``, ``timeout`` or ``plain``."""
    import pyoxigraph as ox

    from medspa_graph.sparql import fence
    from medspa_graph.sparql.sandbox import on_engine_stack

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - reports through the pipe
        os.close(r)
        try:
            import faulthandler

            faulthandler.disable()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            fence._seccomp(fence._libc(), on_deny="kill")
            store = _store()

            def answers(**kw):
                try:
                    res = store.query(text, base_iri="http://example.org/", **kw)
                    if isinstance(res, bool) or type(res).__name__ == "QueryBoolean":
                        return [str(bool(res))]
                    return sorted(str(x) for x in res)
                except Exception as e:  # noqa: BLE001
                    return ["error " + type(e).__name__]

            plain = on_engine_stack(answers)
            forced = on_engine_stack(lambda: answers(default_graph=[ox.DefaultGraph()],
                                                     named_graphs=[ox.NamedNode(TARGET)]))
            os.write(w, json.dumps({"dataset": plain != forced}).encode())
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + timeout
    data = b""
    import select

    while time.monotonic() < deadline:
        ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        chunk = os.read(r, 4096)
        if not chunk:
            break
        data += chunk
    os.close(r)
    finished = bool(data)
    if not finished:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGSYS:
            return "socket"
        if sig != signal.SIGKILL:
            return "crash"
    if not finished:
        return "timeout"
    return "dataset" if json.loads(data)["dataset"] else "plain"


def disagreement(case: Case, seen: str | None = None) -> str | None:
    """Why the guard and the engine disagree on ``case``, or None."""
    refused, graphs = guard_view(case.text)
    if refused:
        return None  # refusing more than the engine would run is the safe side
    seen = seen or engine_view(case.text)
    if seen == "socket":
        return "the guard passed a query with which the engine tried to connect"
    if seen == "crash":
        return "the guard passed a query that crashed the engine"
    if seen == "dataset" and not graphs:
        return "the guard passed a query whose dataset clause it did not see"
    return None


def run(n: int, seed: int = 0, budget_s: float | None = None) -> dict:
    """Try ``n`` cases (or until ``budget_s``); return counts and the disagreements found.

    Counts: cases tried, refused by the guard, and what the engine did with the ones it
    passed (``socket``, ``dataset``, ``crash``, ``timeout``, ``plain``).
    """
    rng = random.Random(seed)
    pool = seeds()
    found, counts = [], {"cases": 0, "refused": 0}
    start = time.monotonic()
    for _ in range(n):
        if budget_s is not None and time.monotonic() - start > budget_s:
            break
        case = mutate(rng, rng.choice(pool))
        counts["cases"] += 1
        refused, _ = guard_view(case.text)
        if refused:
            counts["refused"] += 1
            continue
        seen = engine_view(case.text)
        counts["passed, engine " + seen] = counts.get("passed, engine " + seen, 0) + 1
        why = disagreement(case, seen)
        if why:
            found.append({"why": why, "how": case.how, "text": case.text})
    counts["seconds"] = round(time.monotonic() - start, 1)
    counts["seeds"] = len(pool)
    return {"counts": counts, "disagreements": found}
