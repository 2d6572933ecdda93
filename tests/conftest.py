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


def run_cli(*args, cwd=None, timeout=300, env=None):
    """Run ``python -m medspa_graph ARGS`` as a user would (``env`` added to the environment);
    return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "medspa_graph", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=timeout, env={**os.environ, **(env or {})},
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


class HostileEndpoint:
    """A real HTTP server on loopback that answers SPARQL requests badly, one way per path:

    ``/huge/...``       an endless 200 answer with no length (stops when the client leaves)
    ``/declared-huge/`` a 200 whose Content-Length says a terabyte
    ``/count-text/``    every query answered with one row ``?n = "lots"^^xsd:integer``
    ``/count-none/``    every query answered with no row
    ``/nested/``        200,000 nested JSON arrays
    ``/redirect/``      a 302 to ``?to=URL`` (another host) + ``/query``
    ``/trickle/``       the status line, then the rest one byte a second
    ``/escape/``        a 500 whose body carries terminal escapes (OSC, C1 CSI)

    ``requests`` counts what arrived, ``authorizations`` the Authorization headers seen.
    """

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        owner = self
        self.requests = 0
        self.authorizations = []
        self.stopping = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _raw(self, data: bytes):
                self.wfile.write(data)
                self.wfile.flush()

            def _json(self, status: int, body: bytes, extra=""):
                self._raw(f"HTTP/1.1 {status} X\r\nContent-Type: application/sparql-results+json\r\n"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n{extra}\r\n".encode() + body)

            def _answer(self):
                owner.requests += 1
                if self.headers.get("Authorization"):
                    owner.authorizations.append(self.headers["Authorization"])
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                self.close_connection = True
                url = urlsplit(self.path)
                mode = url.path.strip("/").split("/")[0]
                try:
                    if mode == "huge":
                        self._raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                                  b"Connection: close\r\n\r\n" + b'{"head":{"vars":["n"]},"results":{"bindings":[')
                        row = b'{"n":{"type":"literal","value":"1"}},' * 1000
                        for _ in range(100_000):  # at most ~3.7 GB, if a client kept reading
                            if owner.stopping.is_set():
                                break
                            self._raw(row)
                    elif mode == "declared-huge":
                        self._raw(b"HTTP/1.1 200 OK\r\nContent-Type: application/sparql-results+json\r\n"
                                  b"Content-Length: 1000000000000\r\nConnection: close\r\n\r\n{")
                    elif mode == "count-text":
                        self._json(200, b'{"head":{"vars":["n"]},"results":{"bindings":[{"n":{"type":"literal",'
                                        b'"datatype":"http://www.w3.org/2001/XMLSchema#integer","value":"lots"}}]}}')
                    elif mode == "count-none":
                        self._json(200, b'{"head":{"vars":["n"]},"results":{"bindings":[]}}')
                    elif mode == "nested":
                        self._json(200, b"[" * 200_000 + b"]" * 200_000)
                    elif mode == "redirect":
                        to = parse_qs(url.query).get("to", ["http://192.0.2.1"])[0]
                        self._json(302, b"", f"Location: {to}/query\r\n")
                    elif mode == "trickle":
                        self._raw(b"HTTP/1.1 200 OK\r\n")
                        for byte in b"Content-Type: application/sparql-results+json\r\nContent-Length: 600\r\n\r\n" \
                                    + b" " * 600:
                            if owner.stopping.wait(1):
                                break
                            self._raw(bytes([byte]))
                    elif mode == "escape":
                        body = "\x1b]0;owned\x07\x1b[2J\x9b2J boom\nsecond line".encode()
                        self._raw(b"HTTP/1.1 500 X\r\nContent-Type: text/plain\r\n"
                                  + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
                    else:
                        self._json(404, b"no such mode")
                except OSError:  # the client left, as it should
                    pass

            do_GET = do_POST = do_PUT = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def hostile_endpoint():
    server = HostileEndpoint()
    yield server
    server.close()


def start_server(extra=(), **options):
    """A real :class:`~medspa_graph.serve.server.SparqlServer` on a free loopback port over the built
    graph (with ``extra`` files added), serving in a background thread; ``close()`` it."""
    from medspa_graph.kb import built_ntriples
    from medspa_graph.serve.server import SparqlServer

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
                    raise RuntimeError("oxigraph serve exited: " + self.proc.stderr.read().decode()[-500:]) from None
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


#: doctests that take seconds of their own (a test marks itself with @pytest.mark.slow instead)
SLOW_DOCTESTS = {"medspa_graph.kb.KnowledgeBase.map"}  # colours all 51 jurisdictions


@pytest.hookimpl(tryfirst=True)  # before -m deselects
def pytest_collection_modifyitems(items):
    """Each notebook nbmake runs starts a Jupyter kernel: ``slow``, like the files marked with
    ``pytestmark = pytest.mark.slow`` and the doctests named in :data:`SLOW_DOCTESTS`
    (``pytest -m "not slow"`` is the fast layer; README)."""
    for item in items:
        if item.path.suffix == ".ipynb" or item.name in SLOW_DOCTESTS:
            item.add_marker(pytest.mark.slow)


def pytest_terminal_summary(terminalreporter):
    """List the screenshots this run saved, so a person can look at them."""
    from pathlib import Path

    folder = Path(os.environ.get("MEDSPA_GRAPH_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))
    shots = sorted(p for p in folder.glob("*.png") if p.stat().st_mtime >= _SESSION_START) if folder.is_dir() else []
    if shots:
        terminalreporter.section("screenshots")
        for p in shots:
            terminalreporter.write_line(str(p))


# -- Virtuoso ------------------------------------------------------------------------------------

VIRTUOSO_INI = Path("/etc/virtuoso-opensource-7/virtuoso.ini")


def virtuoso_ini(template: str, folder: Path, sql_port: int, http_port: int, **settings: dict) -> str:
    """Debian's ``virtuoso.ini`` made private: its own database files in ``folder``, loopback ports.

    ``settings`` maps a section name to the keys to set in it (added when the template lacks them).
    """
    import re

    db, temp = folder / "virtuoso", folder / "virtuoso-temp"
    wanted = {
        "Database": {"DatabaseFile": f"{db}.db", "ErrorLogFile": f"{db}.log", "LockFile": f"{db}.lck",
                     "TransactionFile": f"{db}.trx", "xa_persistent_file": f"{db}.pxa"},
        "TempDatabase": {"DatabaseFile": f"{temp}.db", "TransactionFile": f"{temp}.trx"},
        "Parameters": {"ServerPort": f"127.0.0.1:{sql_port}", "NumberOfBuffers": "2000", "MaxDirtyBuffers": "1500",
                       "DirsAllowed": f"., {folder}, /usr/share/virtuoso-opensource-7/vad"},
        "HTTPServer": {"ServerPort": f"127.0.0.1:{http_port}"},
        "URIQA": {"DefaultHost": f"127.0.0.1:{http_port}"},
        # OpenLink: the cost-estimate limit is for debugging; left at Debian's 400 s it refuses
        # scope-rules once a second copy of the graph skews its statistics (README).
        "SPARQL": {"MaxQueryCostEstimationTime": "0"},
    }
    for section, keys in settings.items():
        wanted.setdefault(section, {}).update({k: str(v) for k, v in keys.items()})
    out, section, done = [], None, set()

    def missing():  # keys of the section just closed that the template did not have
        return [f"{k} = {v}" for k, v in wanted.get(section, {}).items() if (section, k) not in done]

    for line in template.splitlines():
        header = re.match(r"\s*\[([^\]]+)\]", line)
        if header:
            out.extend(missing())
            section = header.group(1)
        key = re.match(r"\s*(\w+)\s*=", line)
        if key and key.group(1) in wanted.get(section, {}):
            if (section, key.group(1)) in done:
                continue
            done.add((section, key.group(1)))
            line = f"{key.group(1)} = {wanted[section][key.group(1)]}"
        out.append(line)
    out.extend(missing())
    return "\n".join(out) + "\n"


class VirtuosoServer:
    """A real OpenLink Virtuoso (Debian's ``virtuoso-opensource``) on free loopback ports.

    Its database lives in ``folder``; ``url`` is the SPARQL endpoint (``/sparql``). The
    test instance grants ``SPARQL_UPDATE`` to the anonymous ``SPARQL`` user, so the
    Graph Store Protocol endpoint ``/sparql-graph-crud`` accepts writes; ``isql()`` runs
    SQL as ``dba``. ``startup_seconds`` is how long it took to answer.
    """

    def __init__(self, folder: Path, **settings):
        self.folder = Path(folder)
        self.settings = settings
        self.proc = None

    def start(self) -> "VirtuosoServer":
        binary = shutil.which("virtuoso-t")
        if not binary or not shutil.which("isql-vt") or not VIRTUOSO_INI.is_file():
            pytest.fail("Virtuoso is missing: apt-get install virtuoso-opensource (the README's second command)")
        self.sql_port, self.http_port = unused_port(), unused_port()
        ini = self.folder / "virtuoso.ini"
        ini.write_text(virtuoso_ini(VIRTUOSO_INI.read_text(), self.folder, self.sql_port, self.http_port,
                                    **self.settings))
        begun = time.monotonic()
        self.proc = subprocess.Popen([binary, "+configfile", str(ini), "+foreground"], cwd=self.folder,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.url = self.base + "/sparql"
        while True:
            try:
                with urllib.request.urlopen(self.url + "?query=ASK%7B%7D", timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() - begun > 120:
                    self.stop()
                    log = (self.folder / "virtuoso.log")
                    tail = log.read_text(errors="replace")[-800:] if log.is_file() else ""
                    raise RuntimeError(f"virtuoso-t did not start: {tail}") from None
                time.sleep(0.1)
        self.isql('GRANT SPARQL_UPDATE TO "SPARQL";')
        self.startup_seconds = time.monotonic() - begun
        return self

    def isql(self, sql: str) -> str:
        r = subprocess.run(["isql-vt", f"127.0.0.1:{self.sql_port}", "dba", "dba", f"exec={sql}"],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or "*** Error" in r.stdout + r.stderr:
            raise RuntimeError(f"isql-vt {sql!r}: {(r.stdout + r.stderr).strip()[-500:]}")
        return r.stdout

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)


@pytest.fixture(scope="session")
def virtuoso(tmp_path_factory):
    """One real Virtuoso for the session (a few seconds to create its database and start)."""
    server = VirtuosoServer(tmp_path_factory.mktemp("virtuoso")).start()
    yield server
    server.stop()
