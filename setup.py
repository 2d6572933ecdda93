"""Build hook: the wheel carries the graph built, validated and reasoned from its own data.

Everything else about the package is in pyproject.toml. At wheel-build time the curated files in
ontology/ are parsed, validated (a violation fails the build) and reasoned once, and the result is
written gzip-compressed to medspa_graph/prebuilt/ with its cache key; the first question after an
install reads it instead of building (medspa_graph/knowledge/cache.py). Editable installs skip it.
"""

import gzip
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class build_py_with_graph(build_py):
    """``build_py`` that also writes ``medspa_graph/prebuilt/graph.{nt.gz,key}`` into the build."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        sys.path.insert(0, str(HERE))
        try:
            from medspa_graph.knowledge.cache import PREBUILT, graph_key
            from medspa_graph.knowledge.loading import build_graph
            from medspa_graph.utils.paths import curated_files
        finally:
            sys.path.pop(0)
        root = HERE / "ontology"
        key = graph_key(curated_files(root), self.distribution.get_version())
        result = build_graph(root=root)
        data = result.graph.serialize(format="nt", encoding="utf-8")
        out = Path(self.build_lib) / "medspa_graph" / PREBUILT
        out.mkdir(parents=True, exist_ok=True)
        (out / "graph.nt.gz").write_bytes(gzip.compress(data, 9, mtime=0))
        (out / "graph.key").write_text(key + "\n")
        print(f"medspa-graph: prebuilt graph {len(data)} bytes N-Triples, key {key}, "
              f"in {result.timings['total']:.1f} s")


setup(cmdclass={"build_py": build_py_with_graph})
