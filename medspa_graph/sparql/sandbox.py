"""Running SPARQL text someone else wrote: behind the fence, on a large stack, within limits.

Where untrusted text runs:

- ``serve``: in the query workers (:mod:`medspa_graph.serve.worker`), each of which calls
  :func:`medspa_graph.sparql.fence.install` and :func:`limit_memory` before it opens the
  dataset, and runs every query with :func:`on_engine_stack`;
- ``kb.query(text)``, ``medspa-graph query FILE.rq`` and every other query that is not
  one of the package's own named queries: :func:`run_fenced` forks the process, and
  the child fences itself, limits its memory, runs the query on a large stack and
  sends the serialised answer back. A query that crashes the engine, runs past the
  time limit or the memory limit ends the child, never the caller; Ctrl-C ends the
  child at once. Where ``fork`` does not exist (Windows), the query runs in-process
  on a large stack, behind the guard alone.

The guard (:mod:`medspa_graph.sparql.guard`) has read the text before any of this.
"""

from __future__ import annotations

__all__ = ["on_engine_stack", "limit_memory", "run_fenced", "engine_error", "MEMORY_LIMIT", "QUERY_TIMEOUT"]

import json
import os
import select
import signal
import struct
import threading
import time

from medspa_graph.errors import QueryError
from medspa_graph.sparql.guard import ENGINE_STACK

#: Memory a query may use on top of what the process held when it started (bytes).
MEMORY_LIMIT = 2 << 30
#: Seconds an ad hoc query may run in the CLI and the Python API (``serve`` has ``--timeout``).
QUERY_TIMEOUT = 10.0

_LEN = struct.Struct(">I")
_stack_lock = threading.Lock()


def on_engine_stack(fn, *args):
    """Call ``fn(*args)`` in a thread with an :data:`~medspa_graph.sparql.guard.ENGINE_STACK` stack; return or raise."""
    box: dict = {}

    def run():
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e

    with _stack_lock:
        old = threading.stack_size(ENGINE_STACK)
        try:
            t = threading.Thread(target=run, name="sparql-engine", daemon=True)
            t.start()
        finally:
            threading.stack_size(old)
    t.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _vm_size() -> int:
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def limit_memory(limit: int = MEMORY_LIMIT) -> int | None:
    """Cap this process's address space at what it uses now plus ``limit``; return the cap (or None)."""
    try:
        import resource
    except ImportError:
        return None
    base = _vm_size()
    if not base:
        return None
    cap = base + limit + ENGINE_STACK
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ValueError, OSError):
        return None
    return cap


def engine_error(e: BaseException) -> tuple[int, str] | None:
    """The HTTP status and one line for an engine error the query caused, or None for the server's own fault.

    >>> engine_error(RuntimeError("The custom function <urn:f> is not supported"))
    (400, 'query failed: The custom function <urn:f> is not supported')
    >>> engine_error(SyntaxError("error at 1:3: expected OPTIONAL"))
    (400, 'SPARQL syntax error: error at 1:3: expected OPTIONAL')
    """
    line = (str(e).strip().splitlines() or [type(e).__name__])[0]
    if isinstance(e, SyntaxError):
        return 400, "SPARQL syntax error: " + line
    if isinstance(e, PermissionError) or (isinstance(e, OSError) and e.errno in (13, 101)):
        # the fence at work: the engine tried to open a connection the guard did not see coming
        return 403, "query refused: it tried to reach the network, and medspa-graph never fetches"
    if isinstance(e, (RuntimeError, ValueError)):
        return 400, "query failed: " + line
    if isinstance(e, MemoryError):
        return 503, "query passed the memory limit"
    return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _child(fd: int, job, memory: int) -> None:
    """In the forked child: fence, limit, run ``job()`` on a large stack, write header and body, exit."""
    from medspa_graph.sparql import fence

    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        import faulthandler

        faulthandler.disable()  # a crash is reported by the parent, in one line
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)  # an engine abort message must not reach the caller's terminal
        status = fence.install()
        limit_memory(memory)
        try:
            body = on_engine_stack(job)
            header = {"ok": True, "fence": status.describe()}
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            known = engine_error(e)
            body = b""
            header = {"ok": False, "status": known[0] if known else 500,
                      "error": known[1] if known else f"{type(e).__name__}: {e}"}
        head = json.dumps(header).encode()
        _write_all(fd, _LEN.pack(len(head)) + head + _LEN.pack(len(body)) + body)
    except BaseException:  # noqa: BLE001 - nothing may escape a forked child
        code = 70
    finally:
        os._exit(code)


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    parts, got = [], 0
    while got < n:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError()
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            raise TimeoutError()
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError()
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def run_fenced(job, *, timeout: float = QUERY_TIMEOUT, memory: int = MEMORY_LIMIT) -> bytes:
    """Run ``job()`` (which returns bytes) in a fenced child process; return its bytes.

    Raises
    ------
    QueryError
        With one line: the query's own error (syntax, unknown function), the time
        limit, the memory limit, or the engine crashing on it.
    """
    if not hasattr(os, "fork"):
        return on_engine_stack(job)
    import warnings

    r, w = os.pipe()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: the child only runs the query
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child's coverage is what it sends back
        os.close(r)
        _child(w, job, memory)
    os.close(w)
    deadline = time.monotonic() + timeout
    header = body = None
    try:
        try:
            (n,) = _LEN.unpack(_read_exact(r, 4, deadline))
            header = json.loads(_read_exact(r, n, deadline))
            (n,) = _LEN.unpack(_read_exact(r, 4, deadline))
            body = _read_exact(r, n, deadline)
        except TimeoutError:
            raise QueryError(f"query passed the {timeout:g} s time limit; add LIMIT or narrow it") from None
        except (EOFError, ValueError, struct.error):
            header = None
    finally:
        os.close(r)
        if header is None or body is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        _, status = os.waitpid(pid, 0)
    if header is None:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        if sig in (signal.SIGABRT, signal.SIGKILL):
            raise QueryError(f"query passed the memory limit of {memory >> 20} MiB; add LIMIT or narrow it")
        what = f"signal {sig}" if sig else f"exit {os.WEXITSTATUS(status)}"
        raise QueryError(f"the query engine crashed on this query ({what}); nothing was answered")
    if not header.get("ok"):
        raise QueryError(header.get("error", "query failed"))
    return body
