"""Bench: time from opening a picture to a settled layout, in headless Debian chromium.

Run:  .venv/bin/python bench/viz.py [--runs N]

Pictures of 100, 500 and 2,000 nodes are drawn from synthetic graphs shaped like
the knowledge base's (kinds mixed as in the real picture, 2.5 edges per node),
plus the real pictures (US baseline overview, one state, everything around one
procedure). Each is written with :meth:`Picture.write` and opened from a file;
the clock runs from ``page.goto`` to the page's own "stabilized" signal (physics
switched off). For comparison, the same 2,000-node graph is also timed with
vis-network's default options (pyvis's defaults: barnesHut physics, improved
layout on), which is what makes large pyvis pictures take minutes.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path


def synthetic(n: int, seed: int = 7):
    from medspa_graph.viz import KINDS, Picture

    rnd = random.Random(seed)
    kinds = ["role"] * 2 + ["procedure"] * 4 + ["product"] * 2 + ["condition"] + ["rule"] * 6 + ["jurisdiction"]
    pic = Picture(f"synthetic {n} nodes")
    ids = [f"urn:n:{i}" for i in range(n)]
    for i, iri in enumerate(ids):
        kind = kinds[i % len(kinds)] if i >= len(KINDS) else list(KINDS)[i]
        pic.add_node(iri, f"{kind} {i}", kind, f"definition of {i}", [])
    rels = ["performs", "supervised by", "refers to", "uses product", "is a", "rule of", "in"]
    for i in range(int(2.5 * n)):
        a = rnd.randrange(n)
        b = rnd.randrange(max(1, a)) if a and rnd.random() < 0.7 else rnd.randrange(n)  # some hubs, like real data
        if a != b:
            pic.add_edge(ids[a], ids[b], rnd.choice(rels))
    return pic


def time_open(browser, path: Path) -> tuple[float, float]:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    t = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_function("window.medspaGraph && window.medspaGraph.stabilized", timeout=600_000, polling=20)
    wall = time.perf_counter() - t
    inner = page.evaluate("medspaGraph.stabilizedMs") / 1000
    page.close()
    return wall, inner


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-defaults", action="store_true", help="skip the slow pyvis-defaults comparison")
    args = ap.parse_args()

    import medspa_graph
    from medspa_graph.viz import picture
    from playwright.sync_api import sync_playwright

    kb = medspa_graph.load()
    cases = [(f"synthetic {n} nodes", synthetic(n)) for n in (100, 500, 2000)]
    cases += [("KB: US baseline overview", picture(kb)),
              ("KB: US-CA", picture(kb, jurisdiction="US-CA")),
              ("KB: around botox, all states' rules", picture(kb, focus="botox")),
              ("KB: supervision chain (hierarchical)", picture(kb, chain=("medical assistant", "botox"),
                                                               jurisdiction="US-TX"))]
    tmp = Path(tempfile.mkdtemp(prefix="medspa-bench-viz-"))
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            print(f"| picture | nodes | edges | open to settled, median of {args.runs} (s) | in-page layout (s) |")
            print("|---|---|---|---|---|")
            for name, pic in cases:
                path = pic.write(tmp / "pic.html")
                time_open(browser, path)  # warm the browser's caches once
                runs = [time_open(browser, path) for _ in range(args.runs)]
                print(f"| {name} | {len(pic.nodes)} | {len(pic.edges)} | "
                      f"{statistics.median(r[0] for r in runs):.2f} | {statistics.median(r[1] for r in runs):.2f} |",
                      flush=True)
            if not args.skip_defaults:
                pic = synthetic(2000)
                html = pic.html()
                import json

                # the same page with vis-network's defaults, as pyvis writes them
                marker = '"options": '
                start = html.index(marker) + len(marker)
                end = html.index(', "note": ', start)
                defaults = {"physics": {"enabled": True, "stabilization": {"enabled": True, "iterations": 1000}},
                            "layout": {"improvedLayout": True}}
                path = tmp / "defaults.html"
                path.write_text(html[:start] + json.dumps(defaults) + html[end:], encoding="utf-8")
                wall, inner = time_open(browser, path)
                print(f"| synthetic 2000 nodes, pyvis/vis defaults (one run) | {len(pic.nodes)} | {len(pic.edges)} | "
                      f"{wall:.2f} | {inner:.2f} |")
            browser.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
