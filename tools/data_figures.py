"""The curated data's figures for a closing note: rules and sources per jurisdiction, the share of
rules that rest only on undated sources, and the core-matrix coverage by status.

Run:  python tools/data_figures.py
"""

from __future__ import annotations

import collections

from medspa_graph import load
from medspa_graph.questions.coverage import coverage


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
    cited: dict = collections.defaultdict(set)  # the sources each jurisdiction's rules cite
    for r in rules.values():
        cited[kb.names.code(r.jurisdiction)].update(r.sources)
    print(f"{len(rules)} scope rules, {len(cat.sources())} sources; {len(undated)} rules "
          f"({len(undated) / len(rules):.1%}) rest only on sources with neither a date shown nor a retrieval date")
    print("rules/sources their rules cite, per jurisdiction:")
    print(" ".join(f"{c}:{per_rules[c]}/{len(cited[c])}" for c in sorted(per_rules)))
    cells = coverage(kb)
    counts = cells.status.value_counts()
    print(f"core matrix, {len(cells)} cells: " + ", ".join(f"{k} {v} ({v / len(cells):.0%})" for k, v in counts.items()))


if __name__ == "__main__":
    main()
