"""Shared fixtures: one knowledge base per test session, built into a private cache."""

import os
import subprocess
import sys

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_cache(tmp_path_factory):
    """Build into a cache folder of this session, so tests never see a stale graph."""
    if not os.environ.get("MEDSPA_GRAPH_CACHE"):
        os.environ["MEDSPA_GRAPH_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


@pytest.fixture(scope="session")
def kb(_private_cache):
    import medspa_graph

    return medspa_graph.load()


@pytest.fixture(autouse=True)
def _doctest_kb(doctest_namespace):
    doctest_namespace["load"] = __import__("medspa_graph").load


def run_cli(*args, cwd=None, timeout=300):
    """Run ``python -m medspa_graph ARGS`` as a user would; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "medspa_graph", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=timeout, env=os.environ.copy(),
    )


@pytest.fixture
def cli():
    return run_cli


_SESSION_START = __import__("time").time()


def pytest_terminal_summary(terminalreporter):
    """List the screenshots this run saved, so a person can look at them."""
    from pathlib import Path

    folder = Path(os.environ.get("MEDSPA_GRAPH_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))
    shots = sorted(p for p in folder.glob("*.png") if p.stat().st_mtime >= _SESSION_START) if folder.is_dir() else []
    if shots:
        terminalreporter.section("screenshots")
        for p in shots:
            terminalreporter.write_line(str(p))
