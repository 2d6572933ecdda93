"""Writing the built graph to disk: Turtle, N-Triples and JSON-LD, all or nothing."""

from __future__ import annotations

__all__ = ["write_build", "summary_counts"]

import os
import signal
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from medspa_graph.errors import UnwritableOutputError
from medspa_graph.utils.files import file_mode


def summary_counts(store) -> dict[str, int]:
    """Counts by kind (roles, procedures, rules, jurisdictions, sources, ...)."""
    from medspa_graph.sparql.queries import named_query

    rows = store.select(named_query("summary").sparql)
    return {r["kind"]: int(r["count"]) for r in rows}


@contextmanager
def _signals_held():
    """Defer Ctrl-C (SIGINT) and SIGTERM to the end of the block, where one that came meanwhile acts.

    Only the main thread can; elsewhere the block runs as it is.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    saved = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            saved[sig] = signal.signal(sig, lambda signum, frame: came.append(signum))
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
        if came:
            signal.raise_signal(came[0])  # now handled as it would have been


def write_build(out_dir, *, extra=(), reason: bool = True) -> dict:
    """Build the graph and write ``medspa-graph.{ttl,nt,jsonld}`` into ``out_dir``.

    Files are written beside their targets under temporary names and renamed into
    place only when all three are complete, so a failed or interrupted build
    leaves the previous output as it was. Signals (Ctrl-C, SIGTERM) are held
    during the three renames, so an interrupt leaves the three old files or the
    three new ones, never a mix, and no temporary file behind.

    The graph is also put in the question cache, so the first question after a build
    answers without building again; a build whose inputs are already in the cache
    (same files, same release) writes the cached graph instead of building it again.

    Raises
    ------
    UnreadableInputError, InvalidDataError, UnwritableOutputError
    """
    from medspa_graph.knowledge.cache import cached_graph, graph_key, store_graph
    from medspa_graph.knowledge.loading import build_graph, parse_files
    from medspa_graph.sparql.store import OxigraphStore
    from medspa_graph.utils.paths import curated_files
    from medspa_graph.utils.status import status
    from medspa_graph.version import package_version

    key = graph_key([*curated_files(), *map(Path, extra)], package_version(), reason=reason, validate=True)
    hit = cached_graph(package_version(), key)
    doing = ("building the knowledge graph (parse, validate, reason)" if hit is None
             else "writing the cached knowledge graph as Turtle, N-Triples and JSON-LD")
    with status(doing):
        if hit is not None:  # built, validated and reasoned from these very files before
            t = time.perf_counter()
            g, _origin = parse_files([hit])
            timings = {"cached": time.perf_counter() - t}
        else:
            result = build_graph(extra, reason=reason)
            g, timings = result.graph, result.timings
        nt = g.serialize(format="nt", encoding="utf-8")
        nt = b"".join(sorted(set(nt.splitlines(keepends=True))))
        store = OxigraphStore()
        try:  # Oxigraph reads the N-Triples before any file is written: what it refuses is never written
            store.load_ntriples(nt)
        except (SyntaxError, ValueError, OSError) as e:
            from medspa_graph.errors import InvalidDataError, Violation

            raise InvalidDataError([Violation("the built graph", f"not valid N-Triples: {str(e).splitlines()[0]}")]) \
                from None
        outputs = {
            "medspa-graph.ttl": g.serialize(format="turtle", encoding="utf-8"),
            "medspa-graph.nt": nt,
            "medspa-graph.jsonld": g.serialize(format="json-ld", encoding="utf-8", indent=1),
        }
    if hit is None:
        try:  # the questions asked next read the graph from here instead of building it again
            store_graph(package_version(), key, nt)
        except OSError:
            pass  # an unwritable cache only costs speed
    out = Path(out_dir)
    temps = {}
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in outputs.items():
            with _signals_held():  # so that a temporary file is never made and not recorded
                fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
                temps[name] = tmp
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, file_mode())
        with _signals_held():
            for name, tmp in temps.items():
                os.replace(tmp, out / name)
    except OSError as e:
        raise UnwritableOutputError(out, e.strerror or str(e)) from None
    finally:
        for tmp in temps.values():
            Path(tmp).unlink(missing_ok=True)
    return {
        "counts": summary_counts(store),
        "triples": len(store),
        "files": [str(out / n) for n in outputs],
        "timings": timings,
    }
