"""The package as users meet it: build times, the first answer after an install, the install itself.

Each figure is a median over ``--runs`` runs, reported against the floor measured in the same run
and the same interpreter: ``python -c "import rdflib, networkx"`` (what any answer must import).
The runs are interleaved (floor, build, ... in turn), so a busy machine slows all alike.

    .venv/bin/python bench/package.py                 # build times in this checkout, first answer
    .venv/bin/python bench/package.py --install-size  # also a fresh install with an empty pip cache
    git archive 63e930d | tar -x -C /tmp/before && .venv/bin/python bench/package.py --before /tmp/before

Figures:

- uncached build: ``medspa-graph build --out DIR`` with an empty cache folder (parse, validate,
  reason, write three files, fill the cache);
- cached build: the same again with the cache it filled;
- first answer after install: ``medspa-graph who-can botox -j US-FL`` in a venv with the wheel
  installed, from an empty folder, with an empty cache folder (the wheel's prebuilt graph);
- next answer: the same with the cache the first one filled;
- with ``--before DIR`` (a source tree of an earlier revision, run with this interpreter): ``build``
  with an empty cache and the first question after it, in this checkout and in DIR;
- with ``--install-size``: ``pip install WHEEL`` into a fresh venv with an empty pip cache
  (seconds, once), the venv's site-packages size and its number of distributions.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLOOR = "import rdflib, networkx"


def timed(cmd, *, env=None, cwd=None) -> float:
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - t
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(map(str, cmd))} failed ({r.returncode}): {r.stderr.strip()[-800:]}")
    return took


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSPA_GRAPH_", "VIRTUAL_ENV", "PYTHON"))}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def build_wheel(out: Path, tree: Path = ROOT) -> Path:
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(tree)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.exit(f"bench: building the wheel failed:\n{r.stdout[-3000:]}")
    return next(out.glob("medspa_graph-*.whl"))


def install(wheel: Path, venv: Path, pip_cache: Path) -> float:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = clean_env(PIP_CACHE_DIR=pip_cache)
    return timed([venv / "bin" / "pip", "install", "-q", str(wheel)], env=env)


def site_packages(venv: Path) -> tuple[int, int]:
    """(bytes, distributions) of a venv's site-packages, pip and setuptools included."""
    sp = next((venv / "lib").glob("python3*/site-packages"))
    size = sum(f.stat().st_size for f in sp.rglob("*") if f.is_file() and not f.is_symlink())
    dists = len(list(sp.glob("*.dist-info")))
    return size, dists


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (default 5); medians are reported")
    ap.add_argument("--wheel", type=Path, help="a built wheel (default: build one from this checkout)")
    ap.add_argument("--install-size", action="store_true", help="also time a fresh install with an empty pip cache")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--before", type=Path, metavar="DIR",
                    help="also time build and the first question after it in this earlier source tree")
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="medspa-bench-package-"))
    try:
        wheel = args.wheel or build_wheel(tmp / "dist")
        venv = tmp / "venv"
        install(wheel, venv, tmp / "pip-cache-warm")  # the timed install, if asked, is a separate venv
        exe = Path(sys.executable)
        cli = [exe, "-m", "medspa_graph"]
        installed = [venv / "bin" / "medspa-graph"]
        empty = tmp / "empty"
        empty.mkdir()
        times: dict[str, list[float]] = {k: [] for k in
                                         ("floor", "uncached build", "cached build", "floor (installed)",
                                          "first answer after install", "next answer")}
        for i in range(args.runs):
            times["floor"].append(timed([exe, "-c", FLOOR], env=clean_env()))
            cache = tmp / f"cache-{i}"
            env = clean_env(MEDSPA_GRAPH_CACHE=cache)
            times["uncached build"].append(timed([*cli, "build", "--out", tmp / f"out-{i}"], env=env, cwd=ROOT))
            times["cached build"].append(timed([*cli, "build", "--out", tmp / f"out-{i}"], env=env, cwd=ROOT))
            times["floor (installed)"].append(timed([venv / "bin" / "python", "-c", FLOOR], env=clean_env(),
                                                    cwd=empty))
            env = clean_env(XDG_CACHE_HOME=tmp / f"xdg-{i}", HOME=tmp / "home")
            question = [*installed, "who-can", "botox", "-j", "US-FL"]
            times["first answer after install"].append(timed(question, env=env, cwd=empty))
            times["next answer"].append(timed(question, env=env, cwd=empty))
            if args.before:
                for label, tree in (("before", args.before), ("now", ROOT)):
                    env = clean_env(MEDSPA_GRAPH_CACHE=tmp / f"cmp-{label}-{i}")
                    times.setdefault(f"{label}: build, empty cache", []).append(
                        timed([*cli, "build", "--out", tmp / f"cmp-out-{i}"], env=env, cwd=tree))
                    times.setdefault(f"{label}: first question after that build", []).append(
                        timed([*cli, "who-can", "botox", "-j", "US-FL"], env=env, cwd=tree))
        med = {k: statistics.median(v) for k, v in times.items()}
        rows = []
        for k in ("uncached build", "cached build"):
            rows.append((k, med[k], med[k] / med["floor"], "floor"))
        for k in ("first answer after install", "next answer"):
            rows.append((k, med[k], med[k] / med["floor (installed)"], "floor (installed)"))
        for k in times:
            if k.startswith(("before:", "now:")):
                rows.append((k, med[k], med[k] / med["floor"], "floor"))
        print(f"runs: {args.runs}; floor `python -c \"{FLOOR}\"`: {med['floor']:.2f} s (checkout venv), "
              f"{med['floor (installed)']:.2f} s (wheel venv)")
        print("| figure | median s | x floor |\n|---|---:|---:|")
        for name, s, ratio, _ in rows:
            print(f"| {name} | {s:.2f} | {ratio:.1f} |")
        result = {"runs": args.runs, "median_s": med, "all_s": times, "wheel": wheel.name}
        if args.install_size:
            wheels = {"now": wheel}
            if args.before:
                wheels = {"before": build_wheel(tmp / "dist-before", args.before), **wheels}
            for label, w in wheels.items():
                t = install(w, tmp / f"venv-timed-{label}", tmp / f"pip-cache-empty-{label}")
                size, dists = site_packages(tmp / f"venv-timed-{label}")
                result[f"install ({label})"] = {"seconds": t, "site_packages_bytes": size, "distributions": dists}
                print(f"install ({label}) with an empty pip cache: {t:.1f} s; site-packages {size / 1e6:.0f} MB, "
                      f"{dists} distributions (pip, setuptools included)")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(result, indent=1, default=str))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
