"""What a slow step says while it runs: a spinner on a terminal's stderr, nothing in pipes and logs."""

from __future__ import annotations

__all__ = ["status"]

import sys
from contextlib import contextmanager


@contextmanager
def status(message: str):
    """Show ``message`` with a spinner on stderr for the duration of the block, if stderr is a terminal.

    Nothing is written when stderr is a pipe or a file, so scripts and logs see only answers
    and errors. rich is imported only when there is a terminal to draw on.

    >>> with status("building"):
    ...     pass
    """
    if not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty()):
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(f"medspa-graph: {message}", spinner="dots"):
        yield
