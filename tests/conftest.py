"""Shared fixtures: one knowledge base per test session, built into a private cache; a
loopback trap that tells whether anything connected to it; real servers on loopback."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

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


@pytest.fixture(scope="session")
def cli():
    return run_cli


class Trap:
    """A listening loopback socket standing in for any address medspa-graph must never reach.

    Point a SERVICE, FROM, LOAD, JSON-LD context or owl:imports at :attr:`url`, run the
    input, then ask :meth:`connections`. A thread accepts and closes connections at once, so
    code that does connect fails fast instead of waiting for an answer.
    """

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the timeout: look at the stop flag again
                continue
            self._accepted += 1
            conn.close()

    def connections(self) -> int:
        """Every connection made so far: those accepted and any still queued. Call after the
        code under test has returned; it stops the trap."""
        self._stop.set()
        self._thread.join()
        self.sock.setblocking(False)
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                break
            self._accepted += 1
            conn.close()
        return self._accepted

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def trap():
    t = Trap()
    yield t
    t.close()


def start_server(extra=(), **options):
    """A real :class:`~medspa_graph.server.SparqlServer` on a free loopback port over the built
    graph (with ``extra`` files added), serving in a background thread; ``close()`` it."""
    from medspa_graph.kb import built_ntriples
    from medspa_graph.server import SparqlServer

    source, _ = built_ntriples(extra)
    if isinstance(source, bytes):
        pytest.fail("the build cache is not writable")
    options.setdefault("quiet", True)
    options.setdefault("workers", 1)
    return SparqlServer("snapshot", source, **options).start()


def unused_port() -> int:
    """A loopback port nothing listens on (at the moment of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port():
    return unused_port()


def oxigraph_binary() -> str:
    path = shutil.which("oxigraph", path=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    if not path:
        pytest.fail("the oxigraph server binary is missing: pip install oxigraph (it is in the test extra)")
    return path


class OxigraphServer:
    """A real ``oxigraph serve`` on a free loopback port, over a data folder kept across restarts.

    ``kill()`` stops it the hard way (SIGKILL, as a crash would) and ``start()`` runs it
    again on the same folder, on a new port (``url`` changes).
    """

    def __init__(self, location: Path, *args: str):
        self.location = Path(location)
        self.args = args or ("serve",)
        self.proc = None
        self.url = ""

    def start(self) -> "OxigraphServer":
        port = unused_port()
        self.proc = subprocess.Popen([oxigraph_binary(), *self.args, "--location", str(self.location),
                                      "--bind", f"127.0.0.1:{port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        for _ in range(400):
            try:
                with urllib.request.urlopen(self.url + "/query?query=ASK%7B%7D", timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("oxigraph serve exited: " + self.proc.stderr.read().decode()[-500:])
                time.sleep(0.05)
        self.kill()
        raise RuntimeError("oxigraph serve did not start")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait(timeout=30)
            self.proc.stderr.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def restart(self) -> "OxigraphServer":
        self.kill()
        return self.start()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory):
    """Start an ``oxigraph serve``: ``oxigraph_server()`` on a fresh data folder, or on ``location``.

    Every server started this way is stopped at the end of the session.
    """
    started = []

    def start(location=None, *args):
        server = OxigraphServer(location or tmp_path_factory.mktemp("oxigraph"), *args).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


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
