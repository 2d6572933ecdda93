"""Guards that keep medspa-graph from fetching anything while it reads data."""

from __future__ import annotations

__all__ = ["check_jsonld_offline"]

import json
import sys

from medspa_graph.errors import UnreadableInputError

#: The most digits a JSON whole number may have: Python's own limit on turning text into an int.
_DIGITS = sys.get_int_max_str_digits() or 4300


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
    def whole_number(digits: str) -> int:
        if len(digits.lstrip("-")) > _DIGITS:  # int() would refuse it, from deep inside the parser
            at = text.find(digits)
            raise UnreadableInputError(path, f"json-ld: a number of {len(digits.lstrip('-'))} digits; "
                                             "write it as a typed string", text.count("\n", 0, max(at, 0)) + 1)
        return int(digits)

    try:
        doc = json.loads(text, parse_int=whole_number)
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
