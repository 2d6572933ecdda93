"""How long the map of the states takes: answering 51 jurisdictions, writing the page, and drawing it.

    .venv/bin/python bench/map.py --runs 5

Prints medians of ``--runs``: ``kb.map()`` for registered nurse x neurotoxin (51 who-can answers)
against one ``kb.who_can()`` in the same process; writing the .html and .svg; the file sizes; and
Chromium's time from navigation to the 51 shapes drawn, against an empty page in the same browser.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def median_of(fn, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    import medspa_graph

    kb = medspa_graph.load()
    kb.who_can("botox", "US-FL")  # warm the catalogue
    one = median_of(lambda: kb.who_can("botox", "US-TX"), args.runs)
    whole = median_of(lambda: kb.map("registered nurse", "botox"), args.runs)
    m = kb.map("registered nurse", "botox")
    tmp = Path(tempfile.mkdtemp())
    write_html = median_of(lambda: m.write(tmp / "m.html"), args.runs)
    write_svg = median_of(lambda: m.write(tmp / "m.svg"), args.runs)
    (tmp / "empty.html").write_text("<!doctype html><title>empty</title>")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()

        def draw(name, shapes):
            page.goto("about:blank")
            t = time.perf_counter()
            page.goto("file://" + str(tmp / name))
            page.wait_for_function(f"document.querySelectorAll('path.state').length === {shapes}")
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
            return time.perf_counter() - t

        empty = statistics.median(draw("empty.html", 0) for _ in range(args.runs))
        drawn = statistics.median(draw("m.html", 51) for _ in range(args.runs))
        browser.close()
    print(f"kb.who_can (one state):      {one * 1000:8.1f} ms")
    print(f"kb.map (51 jurisdictions):   {whole * 1000:8.1f} ms  = {whole / one:.1f} x one who_can")
    print(f"write .html / .svg:          {write_html * 1000:8.1f} / {write_svg * 1000:.1f} ms")
    print(f"file size .html / .svg:      {(tmp / 'm.html').stat().st_size / 1024:8.1f} / "
          f"{(tmp / 'm.svg').stat().st_size / 1024:.1f} KiB")
    print(f"Chromium, empty page:        {empty * 1000:8.1f} ms")
    print(f"Chromium, the map drawn:     {drawn * 1000:8.1f} ms  = {drawn / empty:.1f} x the empty page")
    return 0


if __name__ == "__main__":
    sys.exit(main())
