"""Notebook runs (``pytest`` with nbmake): the kernels read the graph from this run's private cache.

Every kernel inherits the environment, so the first notebook builds the graph into a
fresh folder and the others load it from there, never from a cache an older checkout wrote.
"""

import os
import shutil
import tempfile

_CREATED = []


def pytest_configure(config):
    if not os.environ.get("MEDSPA_GRAPH_CACHE"):
        folder = tempfile.mkdtemp(prefix="medspa-graph-cache-")
        _CREATED.append(folder)
        os.environ["MEDSPA_GRAPH_CACHE"] = folder


def pytest_unconfigure(config):
    while _CREATED:
        folder = _CREATED.pop()
        if os.environ.get("MEDSPA_GRAPH_CACHE") == folder:
            del os.environ["MEDSPA_GRAPH_CACHE"]
        shutil.rmtree(folder, ignore_errors=True)
