"""``medspa-graph serve`` under a bounded load: every answer right, and memory flat across rounds.

A reduced size of ``bench/load.py`` (same driver, ``bench/loadgen.py``): two rounds of 1,000
requests from 16 keep-alive clients on loopback, cycling through every named query and ad hoc
queries in every result format, with three queries per round that pass a 5 s time limit. No
timing is asserted; the latencies are in ``bench/README.md``.
"""

import pytest

from loadgen import adhoc_kinds, named_kinds, run, settle, slow_kind, start_serve, stop_serve

REQUESTS, CLIENTS, SLOW = 1000, 16, 3
WORKERS, TIMEOUT = 2, 5
GROWTH = 0.10  # the server's memory after round 2 may exceed that after round 1 by at most 10 %


@pytest.mark.slow
def test_load_gets_only_right_answers_and_the_intended_503s_and_memory_stays_flat(kb):
    kinds = [*named_kinds(kb), *adhoc_kinds(kb)]
    slow = slow_kind()
    proc, url = start_serve("--workers", str(WORKERS), "--timeout", str(TIMEOUT))
    memory = []
    try:
        for _ in range(2):
            result = run(url, kinds, requests=REQUESTS, clients=CLIENTS, slow=slow, slow_count=SLOW)
            assert result.problems == []  # every status as intended, every 200 well-formed with its rows
            assert dict(result.by_status()) == {200: REQUESTS - SLOW, 503: SLOW}
            assert {name for name, _ in result.statuses} == {k.name for k in [*kinds, slow]}
            memory.append(settle(proc.pid, WORKERS))
    finally:
        log = stop_serve(proc)
    assert "error" not in log and "Traceback" not in log, log[-1000:]
    first, second = memory
    assert first["processes"] == second["processes"] == WORKERS + 1
    assert second["total"] <= first["total"] * (1 + GROWTH), memory
    assert second["parent"] <= first["parent"] * (1 + GROWTH), memory
