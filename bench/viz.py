"""Bench: time from opening a picture to a settled layout, in headless Debian chromium.

Run:  .venv/bin/python bench/viz.py [--runs N]

Pictures of 100, 500 and 2,000 nodes are drawn from synthetic graphs shaped like
the knowledge base at scale (its terms, then rule nodes joining a role, a
procedure, a jurisdiction and often a supervisor, 20 rules a jurisdiction),
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
    """A picture shaped like the knowledge base at scale: terms, and rules joining role,
    procedure, jurisdiction and supervisor, spread over as many jurisdictions as it takes."""
    from medspa_graph.viz.network import Picture

    rnd = random.Random(seed)
    pic = Picture(f"synthetic {n} nodes")
    terms = {"role": 16, "procedure": 45, "product": 25, "condition": 20}
    ids = {k: [f"urn:{k}:{i}" for i in range(v)] for k, v in terms.items()}
    for kind, names in ids.items():
        for i, iri in enumerate(names):
            pic.add_node(iri, f"{kind} {i}", kind, f"definition of {kind} {i}", [])
    for p in ids["procedure"]:
        pic.add_edge(p, rnd.choice(ids["product"]), "uses product")
    for c in ids["condition"]:
        pic.add_edge(c, rnd.choice(ids["role"][:4]), "referred to")
    rules = n - len(pic.nodes)
    n_jur = max(1, rules // 20)
    rules -= n_jur
    jurs = [f"urn:jurisdiction:{i}" for i in range(n_jur)]
    for i, j in enumerate(jurs):
        pic.add_node(j, f"jurisdiction {i}", "jurisdiction")
    for i in range(rules):
        r = f"urn:rule:{i}"
        pic.add_node(r, f"rule {i}", "rule")
        pic.add_edge(rnd.choice(ids["role"]), r, "rule of")
        pic.add_edge(r, rnd.choice(ids["procedure"]), "performs")
        pic.add_edge(r, jurs[i % n_jur], "in")
        if rnd.random() < 0.5:
            pic.add_edge(r, rnd.choice(ids["role"][:4]), "supervised by")
    return pic


def time_open(browser, path: Path) -> tuple[float, float]:
    # bypass_csp: the page forbids eval, which Playwright's polling needs
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    t = time.perf_counter()
    page.goto(path.as_uri())
    page.wait_for_function("window.medspaGraph && window.medspaGraph.stabilized", timeout=600_000, polling=20)
    wall = time.perf_counter() - t
    inner = page.evaluate("medspaGraph.stabilizedMs") / 1000
    context.close()
    return wall, inner


def screenshot(browser, path: Path, out: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(path.as_uri())
    page.wait_for_function("window.medspaGraph && window.medspaGraph.stabilized", timeout=600_000)
    page.evaluate("medspaGraph.network.fit()")
    page.wait_for_timeout(300)
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    context.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-defaults", action="store_true", help="skip the slow pyvis-defaults comparison")
    ap.add_argument("--screenshots", metavar="DIR", help="save a screenshot of each settled picture here")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    import medspa_graph
    from medspa_graph.viz.network import picture

    kb = medspa_graph.load()
    shots = Path(args.screenshots) if args.screenshots else None
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
                if shots:
                    screenshot(browser, path, shots / (name.replace(" ", "-").replace(":", "").replace(",", "") + ".png"))
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
