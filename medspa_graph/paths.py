"""Where the curated ontology, shapes, queries and the build cache live."""

from __future__ import annotations

__all__ = ["ontology_dir", "curated_files", "shape_files", "cache_dir", "atomic_write", "atomic_output",
           "write_output", "file_mode"]

import os
from contextlib import contextmanager
from pathlib import Path


def ontology_dir() -> Path:
    """The folder holding ``medspa.ttl``, ``data/``, ``shapes/`` and ``queries/``.

    ``$MEDSPA_GRAPH_ONTOLOGY`` overrides it; otherwise the installed package data,
    which in a source checkout is the repository's ``ontology/`` folder.
    """
    env = os.environ.get("MEDSPA_GRAPH_ONTOLOGY")
    if env:
        return Path(env)
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "ontology", here / "ontology"):
        if (candidate / "medspa.ttl").is_file():
            return candidate
    from importlib.resources import files

    return Path(str(files("medspa_graph") / "ontology"))


def curated_files(root: Path | None = None) -> list[Path]:
    """The ontology file and every data file, in a stable order."""
    root = root or ontology_dir()
    return [root / "medspa.ttl", *sorted((root / "data").rglob("*.ttl"))]


def shape_files(root: Path | None = None) -> list[Path]:
    """The SHACL shape files."""
    root = root or ontology_dir()
    return sorted((root / "shapes").glob("*.ttl"))


def cache_dir() -> Path:
    """Where built graphs are cached (see :func:`medspa_graph.cache.cache_dir`)."""
    from .cache import cache_dir

    return cache_dir()


def file_mode() -> int:
    """The mode a new file gets here (0o666 less the umask); temp files start at 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_output(path, *, own: bool = False):
    """A temporary path beside ``path`` to write to; renamed onto ``path`` when the block
    ends, removed if it raises: readers see the old file or the whole new one.

    A symbolic link is kept and the file it points to replaced; a path that is not a
    regular file (``/dev/stdout``, a named pipe, a device) is written to, never replaced.
    With ``own=True`` (a file medspa-graph owns, such as a cache entry) whatever is at
    ``path`` (a link, a device) is replaced by the new file, never written through.
    """
    import stat
    import tempfile

    path = Path(path)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None
    if not own and mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        yield path
        return
    target = Path(os.path.realpath(path)) if path.is_symlink() and not own else path
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path, data: bytes | str, *, own: bool = False) -> Path:
    """Write ``data`` to ``path`` through a temporary file and a rename: all of it, or nothing
    (see :func:`atomic_output` for links, pipes and devices, and ``own``)."""
    with atomic_output(path, own=own) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


def write_output(path, data: bytes | str) -> Path:
    """:func:`atomic_write` for a file a person asked for (``--out``): a failure is one clear error.

    Raises
    ------
    UnwritableOutputError
        The folder is missing and cannot be made, a folder is in the way, the disk is full, ...;
        nothing is written and an existing file is left as it was.
    """
    from .errors import UnwritableOutputError

    try:
        return atomic_write(path, data)
    except OSError as e:
        raise UnwritableOutputError(path, e.strerror or str(e)) from None
