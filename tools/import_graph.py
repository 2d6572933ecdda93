"""Count import circles and private reaches in the package (issue 20's figures).

Run:  python tools/import_graph.py [--show]

Every ``import`` of a package module counts, lazy ones inside functions included. A circle is
a strongly connected group of two or more modules (or a module importing itself); the same is
counted between subpackages (each module of a subpackage stands for its subpackage; a module at
the top of the package stands for itself), so layers import only downwards. A private
reach is ``NAME._attr`` where NAME is not ``self``/``cls`` and ``_attr`` is an attribute of
one of the package's own objects (a knowledge base, a store, a catalogue, ...): the names
below are checked by the same pattern the issue's review used.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1] / "medspa_graph"
REACH = re.compile(r"\b(?!self\b|cls\b)(kb|knowledge|store|catalog|ctx\.kb|self\.kb|self\.store|app|server|pic)"
                   r"\._[a-z][a-z_]*")


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: set[str] = set()


def imports(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.startswith("medspa_graph"):
                submodules = {f"{mod}.{a.name}" for a in node.names} & MODULES
                out |= submodules  # from . import fence: the module fence
                if len(submodules) < len(node.names):
                    out.add(mod)  # from . import __version__, from .kb import load: the module itself
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("medspa_graph"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show", action="store_true", help="print each circle and each reach")
    args = ap.parse_args()
    files = {module_name(p): p for p in ROOT.rglob("*.py")}
    MODULES.update(files)
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for name, path in files.items():
        for target in imports(path, name):
            if target in files and target != name:
                g.add_edge(name, target)
    circles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]

    def layer(name: str) -> str:
        parts = name.split(".")
        return ".".join(parts[:2]) if len(parts) > 2 else name

    layers = nx.DiGraph()
    layers.add_nodes_from({layer(n) for n in g})
    layers.add_edges_from((layer(a), layer(b)) for a, b in g.edges if layer(a) != layer(b))
    layer_circles = [sorted(c) for c in nx.strongly_connected_components(layers) if len(c) > 1]
    reaches = []
    for path in files.values():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            reaches += [f"{path.relative_to(ROOT.parent)}:{n}: {m.group()}" for m in REACH.finditer(line)]
    folders = {}
    for p in files.values():
        folders[p.parent] = folders.get(p.parent, 0) + 1
    print(f"modules: {len(files)}; largest folder: {max(folders.values())} modules; "
          f"import circles: {len(circles)} (modules in them: {sum(map(len, circles))}); "
          f"subpackage circles: {len(layer_circles)}; "
          f"private reaches: {len(reaches)}")
    if args.show:
        for c in circles:
            print("circle:", " <-> ".join(c))
        for c in layer_circles:
            print("subpackage circle:", " <-> ".join(c))
        order = list(nx.topological_sort(layers.reverse())) if not layer_circles else []
        print("layers, lowest first:", " < ".join(n.removeprefix("medspa_graph.") for n in order))
        for r in reaches:
            print("reach:", r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
