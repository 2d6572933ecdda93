"""The curated data's figures for a closing note: rules and sources per jurisdiction, the share of
rules that rest only on undated sources, and the core-matrix coverage by status.

Run:  python tools/data_figures.py
"""

from __future__ import annotations

import collections

from medspa_graph import load
from medspa_graph.coverage import coverage


def main() -> None:
    kb = load()
    cat = kb.catalog
    rules: dict = {}
    for code in kb.jurisdictions():
        for r in cat.rules(kb.jurisdiction(code)):
            rules[r.iri] = r
    undated = [r for r in rules.values()
               if all(cat.source(s)["date"] in (None, "n.d.") and not cat.source(s)["retrieved"] for s in r.sources)]
    per_rules = collections.Counter(kb.names.code(r.jurisdiction) for r in rules.values())
    per_sources = collections.Counter()
    for iri in cat.sources():
        local = iri.rsplit("/", 1)[-1]
        per_sources[local[:5] if local.startswith("US-") else "shared"] += 1
    print(f"{len(rules)} scope rules; {len(undated)} ({len(undated) / len(rules):.1%}) rest only on sources "
          "with neither a date shown nor a retrieval date")
    print("rules/sources per jurisdiction (sources: those whose IRI starts with its code; "
          f"{per_sources['shared']} shared):")
    print(" ".join(f"{c}:{per_rules[c]}/{per_sources.get(c, 0)}" for c in sorted(per_rules)))
    cells = coverage(kb)
    counts = cells.status.value_counts()
    print(f"core matrix, {len(cells)} cells: " + ", ".join(f"{k} {v} ({v / len(cells):.0%})" for k, v in counts.items()))


if __name__ == "__main__":
    main()
