"""The guard's differential test at full size, and how lexing time grows with the text.

    .venv/bin/python bench/guard_fuzz.py --cases 20000 --seed 1

Prints the counts of bench/sparqlfuzz.py (cases, refused by the guard, what the engine
did with the rest) and every disagreement found; then the guard's time on a text of
``a.a.a.`` (the tail that took the old regex lexer 28 s at 64 KiB) at 4, 8 and 16 KiB
below the token limit and at 64 KiB and 1 MiB (refused at the limit), as seconds and as a ratio to the 4 KiB run
(medians of 5). Linear lexing gives ratios close to the ratio of the sizes.
"""

import argparse
import json
import statistics
import sys
import time

import sparqlfuzz


def lex_times(runs: int = 5) -> list[dict]:
    from medspa_graph.errors import QueryError
    from medspa_graph.sparql.guard import inspect

    rows = []
    for size in (4 << 10, 8 << 10, 16 << 10, 64 << 10, 1 << 20):
        text = "SELECT * WHERE { ?s ?p 'x' } " + "a." * (size // 2)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            try:
                inspect(text)
            except QueryError:
                pass
            times.append(time.perf_counter() - t)
        rows.append({"bytes": size, "median_s": statistics.median(times)})
    for r in rows:
        r["ratio"] = round(r["median_s"] / rows[0]["median_s"], 2)
        r["median_s"] = round(r["median_s"], 4)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    result = sparqlfuzz.run(args.cases, seed=args.seed)
    print(json.dumps(result["counts"], indent=1))
    for d in result["disagreements"]:
        print(d["why"], "|", d["how"], "|", repr(d["text"][:400]))
    print(json.dumps(lex_times(), indent=1))
    return 1 if result["disagreements"] else 0


if __name__ == "__main__":
    sys.exit(main())
