"""Guards that keep medspa-graph from fetching anything while it reads data."""

from __future__ import annotations

__all__ = ["check_jsonld_offline"]

import json

from .errors import UnreadableInputError


def _remote_contexts(doc):
    """Every context URL in a JSON document, depth-first, without recursion (documents can nest deeply)."""
    todo = [doc]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "@context":
                    yield from _context_urls(value)
                todo.append(value)
        elif isinstance(node, list):
            todo.extend(node)


def _context_urls(ctx):
    if isinstance(ctx, str):
        yield ctx
    elif isinstance(ctx, list):
        for c in ctx:
            yield from _context_urls(c)
    elif isinstance(ctx, dict) and "@import" in ctx:
        yield str(ctx["@import"])


def check_jsonld_offline(text: str, path) -> None:
    """Refuse JSON-LD whose ``@context`` (or ``@import``) names a document to fetch.

    Raises
    ------
    UnreadableInputError
        If the JSON is malformed or a context is remote.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise UnreadableInputError(path, f"json-ld syntax error: {e.msg}", e.lineno) from None
    except RecursionError:
        raise UnreadableInputError(path, "json-ld syntax error: nested too deeply") from None
    try:
        url = next(_remote_contexts(doc), None)
    except RecursionError:
        raise UnreadableInputError(path, "json-ld syntax error: nested too deeply") from None
    if url is not None:
        raise UnreadableInputError(path, f"remote JSON-LD context {url!r} refused: inline the context instead")
