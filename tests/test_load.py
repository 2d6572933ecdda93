"""``medspa-graph serve`` under a bounded load: every answer right, and memory flat across rounds.

A reduced size of ``bench/load.py``, with the same driver (``bench/loadgen.py``): 16 keep-alive
clients on loopback cycle through every named query and ad hoc queries in every result format.
The first round (1,000 requests) also sends three queries that pass a 5 s time limit. The two
rounds after it (500 requests each) send none, so that no worker is killed and replaced: the
same worker processes live through both, and the memory of the server and of its workers
after the second may not exceed that after the first by more than ``GROWTH``. No timing is
asserted; the latencies are in ``bench/README.md``.
"""

import pytest
from loadgen import adhoc_kinds, named_kinds, run, settle, slow_kind, start_serve, stop_serve

pytestmark = pytest.mark.slow  # a load run against a real server

CLIENTS, WORKERS, TIMEOUT = 16, 2, 5
GROWTH = 0.10  # at most 10 % more resident memory after the second memory round than after the first


def _check(result, kinds, requests, slow=None, slow_count=0):
    assert result.problems == []  # every status as intended; every 200 well-formed, with its rows
    expected = {200: requests - slow_count, **({503: slow_count} if slow_count else {})}
    assert dict(result.by_status()) == expected
    assert {name for name, _ in result.statuses} == {k.name for k in [*kinds, *([slow] if slow else [])]}


def test_load_gets_only_right_answers_and_the_intended_503s_and_memory_stays_flat(kb):
    kinds = [*named_kinds(kb), *adhoc_kinds(kb)]
    slow = slow_kind()
    proc, url = start_serve("--workers", str(WORKERS), "--timeout", str(TIMEOUT))
    try:
        result = run(url, kinds, requests=1000, clients=CLIENTS, slow=slow, slow_count=3)
        _check(result, kinds, 1000, slow, 3)
        settle(proc.pid, WORKERS)  # the workers killed at the time limit have been replaced
        memory = []
        for _ in range(2):
            _check(run(url, kinds, requests=500, clients=CLIENTS), kinds, 500)
            memory.append(settle(proc.pid, WORKERS))
    finally:
        log = stop_serve(proc)
    assert "error" not in log and "Traceback" not in log, log[-1000:]
    first, second = memory
    assert len(first["pids"]) == WORKERS and first["pids"] == second["pids"]  # the same workers throughout
    for part in ("parent", "workers", "total"):
        assert second[part] <= first[part] * (1 + GROWTH), (part, memory)
