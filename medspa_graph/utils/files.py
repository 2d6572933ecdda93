"""Reading and writing files: regular files only, never more than a limit, nothing half-written.

Every file medspa-graph reads on a user's behalf (RDF data, audit CSVs, the build
cache) goes through :func:`read_file` or :func:`open_regular`. A named pipe nobody
writes to would hang a plain ``read``, and a link to ``/dev/zero`` would read until
memory runs out; both are refused before a byte is read.
"""

from __future__ import annotations

__all__ = ["read_file", "open_regular", "max_file_bytes", "MAX_FILE_BYTES", "atomic_write", "atomic_output",
           "write_output", "file_mode"]

import os
import stat
from contextlib import contextmanager
from pathlib import Path

from medspa_graph.errors import UnreadableInputError

#: The largest input file read (4 GiB); ``$MEDSPA_GRAPH_MAX_FILE_BYTES`` changes it.
MAX_FILE_BYTES = 4 << 30

_KINDS = [(stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")]


def max_file_bytes() -> int:
    """The limit in force: ``$MEDSPA_GRAPH_MAX_FILE_BYTES`` if set to a positive whole number, else 4 GiB."""
    value = os.environ.get("MEDSPA_GRAPH_MAX_FILE_BYTES", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_FILE_BYTES


def open_regular(path, limit: int | None = None):
    """Open ``path`` for reading in binary, if it is a regular file of at most ``limit`` bytes.

    The file is opened without blocking (a named pipe with no writer does not hang the
    open) and checked on the opened descriptor, so a link is judged by what it points to.

    Raises
    ------
    OSError
        The file is missing or cannot be opened (the caller words the message).
    UnreadableInputError
        It is not a regular file (a pipe, a device, a folder), or it is larger than the limit.
    """
    limit = max_file_bytes() if limit is None else limit
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise UnreadableInputError(path, f"not a regular file ({kind}); medspa-graph reads only files")
        if info.st_size > limit:
            raise UnreadableInputError(path, f"file of {info.st_size} bytes is over the {limit}-byte limit "
                                             "(MEDSPA_GRAPH_MAX_FILE_BYTES)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_file(path, limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them (see :func:`open_regular`).

    A file that grows past the limit while it is read is refused too.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.ttl"
    >>> _ = p.write_bytes(b"hello")
    >>> read_file(p)
    b'hello'
    >>> read_file("/dev/null")
    Traceback (most recent call last):
    ...
    medspa_graph.errors.UnreadableInputError: /dev/null: not a regular file (a character device); medspa-graph reads only files
    """
    limit = max_file_bytes() if limit is None else limit
    with open_regular(path, limit) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise UnreadableInputError(path, f"file is over the {limit}-byte limit (MEDSPA_GRAPH_MAX_FILE_BYTES)")
    return data


# -- writing: a temporary file renamed into place ---------------------------------

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
    from medspa_graph.errors import UnwritableOutputError

    try:
        return atomic_write(path, data)
    except OSError as e:
        raise UnwritableOutputError(path, e.strerror or str(e)) from None
