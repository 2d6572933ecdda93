"""The build cache: where built graphs are kept, their keys, and the graph shipped in the wheel.

A built graph is an N-Triples file ``graph-<version>-<key>.nt`` in :func:`cache_dir`. The key
hashes the package version, the build options and every input file's name and content, so a
changed ontology, data file or release never reads a stale graph. Writing an entry removes the
entries of other versions and all but the newest few of this one.

A wheel carries the graph built from its own data (``medspa_graph/prebuilt/``, gzip, made by
``setup.py`` at package-build time); the first question after an install copies it into the cache
instead of building.
"""

from __future__ import annotations

__all__ = ["cache_dir", "graph_key", "cached_graph", "store_graph", "shipped_graph", "prune",
           "clear", "entries", "PREBUILT", "KEEP"]

import gzip
import os
from pathlib import Path

#: Where the wheel's prebuilt graph lives, relative to the package folder.
PREBUILT = Path("prebuilt")
#: How many entries of the running version the cache keeps (other versions' are removed).
KEEP = 4


def cache_dir() -> Path:
    """Where built graphs are cached.

    ``$MEDSPA_GRAPH_CACHE`` if set, else the platform's user cache folder for
    ``medspa-graph`` (``$XDG_CACHE_HOME/medspa-graph``, ``~/.cache/medspa-graph`` on Linux,
    ``~/Library/Caches/medspa-graph`` on macOS, ``%LOCALAPPDATA%\\medspa-graph\\Cache`` on Windows).
    """
    env = os.environ.get("MEDSPA_GRAPH_CACHE")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("medspa-graph", appauthor=False))


def graph_key(files, version: str, *, reason: bool = True, validate: bool = True) -> str:
    """The cache key of a build: package version, options, and the files' names and contents."""
    from medspa_graph.knowledge.loading import fingerprint

    return fingerprint(files, version, f"reason={reason}", f"validate={validate}")


def _prefix(version: str) -> str:
    return "graph-" + "".join(c if c.isalnum() or c in ".+_" else "_" for c in version) + "-"


def _name(version: str, key: str) -> str:
    return f"{_prefix(version)}{key}.nt"


def entries(folder: Path | None = None) -> list[Path]:
    """The cache's graph files, newest first."""
    folder = folder or cache_dir()
    found = []
    try:
        for p in folder.glob("graph-*.nt"):
            try:
                found.append((p.stat().st_mtime, p))
            except OSError:  # removed meanwhile by another process
                continue
    except OSError:
        return []
    return [p for _, p in sorted(found, key=lambda t: t[0], reverse=True)]


def cached_graph(version: str, key: str) -> Path | None:
    """The cached graph for ``key`` if it is whole (its SHA-256 and length match), or ``None``."""
    path = cache_dir() / _name(version, key)
    return path if _whole(path) else None


def store_graph(version: str, key: str, data: bytes) -> Path:
    """Write ``data`` as the entry for ``key`` (atomically), then :func:`prune`; return its path.

    Raises
    ------
    OSError
        The cache folder cannot be written (callers treat this as "no cache").
    """
    path = cache_dir() / _name(version, key)
    _write_cached(path, data)
    prune(version, keep=path)
    return path


def prune(version: str, keep: Path | None = None) -> list[Path]:
    """Remove other versions' entries (and unversioned ``graph-<key>.nt`` ones, written before
    this layout) and all but the :data:`KEEP` newest of ``version``'s."""
    prefix = _prefix(version)
    found = [p for p in entries() if p != keep]
    mine = [p for p in found if p.name.startswith(prefix)]
    stale = [p for p in found if not p.name.startswith(prefix)] + mine[KEEP - (keep is not None):]
    removed = []
    for p in stale:
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
        _checksum_file(p).unlink(missing_ok=True)
    return removed


def clear() -> tuple[int, int]:
    """Remove every cached graph (and left-over temporary files); return (files, bytes) freed.

    Only the cache's own files are removed, never the folder's other contents.
    """
    folder = cache_dir()
    n = size = 0
    try:
        victims = [*folder.glob("graph-*.nt"), *folder.glob("graph-*.nt.sha256"), *folder.glob(".graph-*.tmp")]
    except OSError:
        return 0, 0
    for p in victims:
        try:
            s = p.stat().st_size
            p.unlink()
        except OSError:
            continue
        n, size = n + 1, size + s
    return n, size


def shipped_graph(key: str) -> bytes | None:
    """The wheel's prebuilt graph as N-Triples if it was built for ``key``, else ``None``."""
    from medspa_graph.utils.paths import PACKAGE_DIR

    folder = PACKAGE_DIR / PREBUILT
    try:
        if (folder / "graph.key").read_text().strip() != key:
            return None
        return gzip.decompress((folder / "graph.nt.gz").read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile):
        return None


def _checksum_file(graph: Path) -> Path:
    return graph.with_name(graph.name + ".sha256")


def _whole(graph: Path) -> bool:
    """Whether the cached ``graph`` is a regular file with the length and SHA-256 written with it."""
    import hashlib

    from medspa_graph.errors import MedspaGraphError
    from medspa_graph.utils.files import open_regular, read_file

    try:
        digest, size = read_file(_checksum_file(graph), limit=200).decode("ascii").split()
        with open_regular(graph, limit=1 << 62) as f:  # our own file: the input limit is not for it
            if os.fstat(f.fileno()).st_size != int(size):
                return False
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest() == digest
    except (OSError, ValueError, MedspaGraphError):
        return False


def _write_cached(graph: Path, data: bytes) -> None:
    """Write ``data`` as the cached ``graph``, then its checksum file, each through a temporary
    file renamed over the old entry (a link or a device there is replaced, never written through)."""
    import hashlib

    from medspa_graph.utils.files import atomic_write

    graph.parent.mkdir(parents=True, exist_ok=True)
    checksum = f"{hashlib.sha256(data).hexdigest()} {len(data)}\n".encode("ascii")
    atomic_write(graph, data, own=True)
    atomic_write(_checksum_file(graph), checksum, own=True)
