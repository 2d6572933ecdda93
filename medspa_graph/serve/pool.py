"""A pool of query worker processes with a time limit, for :mod:`medspa_graph.serve.server`.

Each worker (:mod:`medspa_graph.serve.worker`) holds the dataset: its own in-memory
copy loaded from an N-Quads snapshot, or a read-only view of an Oxigraph
database on disk. A request takes an idle worker, and a worker that passes the
time limit is killed and replaced, so a runaway query costs one process start,
not the server.

Updates (when the server allows them) run in a fresh worker that loads the
current snapshot, applies the update and writes a new snapshot; the pool then
moves to that generation. Readers see the old dataset or the new one, never a
half-applied update, and a query sent after an update's reply sees the update.
"""

from __future__ import annotations

__all__ = ["WorkerPool", "QueryTimeout", "WorkerFailed", "QueryMemoryLimit"]

import json
import os
import queue
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from medspa_graph.serve.worker import read_frame, write_frame


class QueryTimeout(Exception):
    """The operation passed the time limit (or no worker came free in time)."""


class WorkerFailed(Exception):
    """A worker died or reported an internal error."""


class QueryMemoryLimit(Exception):
    """A worker ran out of its memory limit (the engine aborts when an allocation fails)."""


class _Worker:
    def __init__(self, kind: str, path: str, generation: int, start_timeout: float, memory: int | None = None):
        self.generation = generation
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        argv = [sys.executable, "-m", "medspa_graph.serve.worker", kind, path]
        self.proc = subprocess.Popen(argv + ([str(memory)] if memory else []),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        header, _ = self.recv(time.monotonic() + start_timeout)
        if not header.get("ok"):
            self.kill()
            raise WorkerFailed(f"worker could not open the dataset: {header.get('error')}")
        self.fence = header.get("fence", "unknown")

    def died_of_memory(self) -> bool:
        """True when the worker ended by SIGABRT, as the engine does when an allocation fails."""
        try:
            return self.proc.wait(timeout=2) == -signal.SIGABRT
        except subprocess.TimeoutExpired:
            return False

    def send(self, request: dict) -> None:
        try:
            write_frame(self.proc.stdin, json.dumps(request).encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise WorkerFailed(f"worker pipe closed: {e}") from None

    def recv(self, deadline: float) -> tuple[dict, bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeout()
        ready, _, _ = select.select([self.proc.stdout], [], [], remaining)
        if not ready:
            raise QueryTimeout()
        try:
            header = json.loads(read_frame(self.proc.stdout))
            body = read_frame(self.proc.stdout)
        except (EOFError, ValueError) as e:
            raise WorkerFailed(f"worker stopped: {e}") from None
        return header, body

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


class WorkerPool:
    """``size`` workers over a snapshot file (``kind="snapshot"``) or a database (``"store"``)."""

    def __init__(self, kind: str, path: str | os.PathLike, *, size: int = 2,
                 timeout: float = 10.0, start_timeout: float = 120.0, workdir: str | None = None,
                 memory: int | None = None):
        if kind not in ("snapshot", "store"):
            raise ValueError(kind)
        self.kind = kind
        self.path = str(path)
        self.size = max(1, size)
        self.timeout = timeout
        self.start_timeout = start_timeout
        self.memory = memory
        self.generation = 0
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._lock = threading.Lock()
        self._update_lock = threading.Lock()
        self._closed = False
        self._workdir = Path(workdir or tempfile.mkdtemp(prefix="medspa-graph-serve-"))
        first = _Worker(self.kind, self.path, 0, start_timeout, memory)
        self.fence = first.fence
        header, _ = self._call(first, {"op": "info"}, time.monotonic() + start_timeout)
        self.triples = header["triples"]
        self.graphs = set(header["graphs"])
        self._idle.put(first)
        for _ in range(self.size - 1):
            self._idle.put(_Worker(self.kind, self.path, 0, start_timeout, memory))

    # -- workers ------------------------------------------------------------

    def _spawn(self) -> _Worker:
        with self._lock:
            kind, path, gen = self.kind, self.path, self.generation
        return _Worker(kind, path, gen, self.start_timeout, self.memory)

    def _replace_later(self) -> None:
        def run():
            try:
                w = self._spawn()
            except WorkerFailed as e:
                print(f"medspa-graph serve: {e}", file=sys.stderr)
                return
            if self._closed:
                w.kill()
            else:
                self._idle.put(w)

        threading.Thread(target=run, daemon=True).start()

    def _acquire(self, deadline: float) -> _Worker:
        while True:
            try:
                w = self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise QueryTimeout() from None
            if w.generation == self.generation and w.proc.poll() is None:
                return w
            w.kill()  # stale after an update, or dead: replace it now
            return self._spawn()

    def _release(self, w: _Worker) -> None:
        if self._closed:
            w.kill()
        elif w.generation != self.generation:
            w.kill()
            self._replace_later()
        else:
            self._idle.put(w)

    @staticmethod
    def _call(w: _Worker, request: dict, deadline: float) -> tuple[dict, bytes]:
        w.send(request)
        return w.recv(deadline)

    # -- operations ---------------------------------------------------------

    def run(self, request: dict, timeout: float | None = None) -> tuple[dict, bytes]:
        """Send ``request`` to a worker; raise :class:`QueryTimeout` past the limit."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        w = self._acquire(deadline)
        try:
            header, body = self._call(w, request, deadline)
        except WorkerFailed:
            memory = w.died_of_memory()
            w.kill()
            self._replace_later()
            if memory:
                raise QueryMemoryLimit() from None
            raise
        except QueryTimeout:
            w.kill()
            self._replace_later()
            raise
        if header.get("status") == 500:
            w.kill()
            self._replace_later()
            raise WorkerFailed(header.get("error", "internal error"))
        self._release(w)
        return header, body

    def update(self, sparql: str, base: str | None, timeout: float | None = None) -> dict:
        """Apply an update to a copy of the dataset, then move every reader to it."""
        if self.kind != "snapshot":
            raise WorkerFailed("updates need the in-memory dataset")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._update_lock:
            w = _Worker(self.kind, self.path, self.generation, self.start_timeout, self.memory)
            try:
                header, _ = self._call(w, {"op": "update", "update": sparql, "base": base}, deadline)
                if not header.get("ok"):
                    return header
                new = self._workdir / f"generation-{self.generation + 1}.nq"
                header, _ = self._call(w, {"op": "dump", "path": str(new)}, deadline)
                if not header.get("ok"):
                    raise WorkerFailed(header.get("error", "dump failed"))
                info, _ = self._call(w, {"op": "info"}, deadline)
            finally:
                w.kill()
            old_path = self.path
            with self._lock:
                self.path = str(new)
                self.generation += 1
                self.triples = info["triples"]
                self.graphs = set(info["graphs"])
            if old_path.startswith(str(self._workdir)):
                Path(old_path).unlink(missing_ok=True)
            # idle readers are stale now; replace them before answering
            stale = []
            while True:
                try:
                    stale.append(self._idle.get_nowait())
                except queue.Empty:
                    break
            for s in stale:
                s.kill()
            for _ in stale:
                self._idle.put(self._spawn())
            return {"ok": True}

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().kill()
            except queue.Empty:
                break
        for f in self._workdir.glob("generation-*.nq"):
            f.unlink(missing_ok=True)
        try:
            self._workdir.rmdir()
        except OSError:
            pass
