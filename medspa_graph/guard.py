"""Read a SPARQL request before any engine runs it, and refuse what could reach outside.

Both rdflib's engine and Oxigraph follow ``SERVICE <url>`` to any address, and
rdflib fetches ``FROM <url>`` and ``LOAD <url>``: a server that passes queries
through is a server-side request forgery tool. :func:`inspect` lexes the text the
way the SPARQL grammar does (after the ``\\u`` escapes the spec says to expand
first), so a keyword hidden in a string, an IRI, a comment, a variable or a
prefixed name is not one, and a keyword spelled with escapes still is.

It refuses, with :class:`RefusedQuery`:

- ``SERVICE`` anywhere (federation makes the server fetch a URL);
- ``LOAD`` (the server would fetch a document);
- brackets nested more than :data:`MAX_DEPTH` deep (the engines' parsers recurse, and a
  few thousand levels overflow a thread's stack and kill the process);
- a dataset clause (``FROM``, ``FROM NAMED``, ``USING``, ``WITH``) or protocol
  parameter naming a graph the store does not hold (checked by the caller with
  :attr:`Inspection.graphs`), since some engines fetch such graphs.

:func:`check_offline` applies the first three to any SPARQL text, so the CLI and the
Python API refuse the same queries the server does.
"""

from __future__ import annotations

__all__ = ["Inspection", "RefusedQuery", "inspect", "check_offline", "MAX_DEPTH", "QUERY_FORMS", "UPDATE_WORDS"]

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from .errors import QueryError
from .sparql import LEX, QUERY_FORMS, UPDATE_WORDS


class RefusedQuery(QueryError):
    """A query the server will not run because it would fetch or read something outside."""


_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

#: How deep ``{``, ``(`` and ``[`` may nest; the named queries use fewer than ten levels.
MAX_DEPTH = 128


@dataclass
class Inspection:
    """What a request is: its form and the graphs its dataset clauses name."""

    form: str
    is_update: bool
    graphs: list = field(default_factory=list)  # (clause, iri) pairs


def _unescape(text: str) -> str:
    def repl(m):
        code = int(m.group(1) or m.group(2), 16)
        try:
            return chr(code)
        except ValueError:
            raise QueryError(f"invalid \\u escape in query: {m.group(0)}") from None

    return _ESCAPE.sub(repl, text)


def _tokens(text: str):
    for m in LEX.finditer(text):
        kind = m.lastgroup
        if kind != "comment":
            yield kind, m.group()


def _checked_tokens(text: str) -> list:
    """The tokens of ``text`` (escapes expanded), or RefusedQuery for SERVICE, LOAD or deep nesting."""
    toks = list(_tokens(_unescape(text)))
    depth = 0
    for kind, tok in toks:
        if kind == "word":
            w = tok.upper()
            if w == "SERVICE":
                raise RefusedQuery("SERVICE refused: medspa-graph never fetches from other endpoints")
            if w == "LOAD":
                raise RefusedQuery("LOAD refused: medspa-graph never fetches documents")
        elif kind == "other":
            if tok in "{([":
                depth += 1
                if depth > MAX_DEPTH:
                    raise RefusedQuery(f"query refused: brackets nested more than {MAX_DEPTH} levels deep")
            elif tok in "})]":
                depth -= 1
    return toks


def check_offline(text: str) -> None:
    """Refuse SPARQL text that would fetch (SERVICE, LOAD) or nests too deeply to parse safely.

    >>> check_offline("SELECT * WHERE { ?s ?p 'SERVICE' }")
    >>> check_offline("SELECT * WHERE { SERVICE <http://169.254.169.254/> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    medspa_graph.guard.RefusedQuery: SERVICE refused: medspa-graph never fetches from other endpoints
    """
    _checked_tokens(text)


def inspect(text: str, *, update: bool = False) -> Inspection:
    """Lex ``text`` and return its form and named graphs, or raise :class:`RefusedQuery`.

    >>> inspect("SELECT * WHERE { ?s ?p 'SERVICE' }").form
    'SELECT'
    >>> inspect("SELECT * WHERE { SERVICE <http://169.254.169.254/> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    medspa_graph.guard.RefusedQuery: SERVICE refused: medspa-graph never fetches from other endpoints
    >>> inspect("PREFIX g: <urn:g:> ASK FROM g:one { }").graphs
    [('FROM', 'urn:g:one')]
    """
    toks = _checked_tokens(text)
    prefixes: dict[str, str] = {}
    base = ""
    form = None
    graphs: list = []
    i = 0
    while i < len(toks):
        kind, tok = toks[i]
        if kind == "word":
            w = tok.upper()
            if w == "PREFIX" and i + 2 < len(toks) and toks[i + 1][0] == "pname" and toks[i + 2][0] == "iri":
                prefixes[toks[i + 1][1].rstrip(":")] = urljoin(base, toks[i + 2][1][1:-1]) if base else toks[i + 2][1][1:-1]
                i += 3
                continue
            if w == "BASE" and i + 1 < len(toks) and toks[i + 1][0] == "iri":
                base = urljoin(base, toks[i + 1][1][1:-1]) if base else toks[i + 1][1][1:-1]
                i += 2
                continue
            if form is None and (w in QUERY_FORMS or w in UPDATE_WORDS):
                form = w
            if w in ("FROM", "USING", "WITH"):
                clause = w
                j = i + 1
                if j < len(toks) and toks[j][0] == "word" and toks[j][1].upper() == "NAMED":
                    clause += " NAMED"
                    j += 1
                if j >= len(toks) or toks[j][0] not in ("iri", "pname"):
                    raise QueryError(f"{clause} must be followed by a graph IRI")
                graphs.append((clause, _resolve(toks[j], prefixes, base)))
                i = j + 1
                continue
        i += 1
    if form is None:
        raise QueryError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE"
                         if not update else "not a SPARQL update: no INSERT, DELETE, CLEAR, ...")
    is_update = form in UPDATE_WORDS
    if update and not is_update:
        raise QueryError(f"expected a SPARQL update, got a {form} query")
    if not update and is_update:
        raise QueryError(f"{form} is an update; send updates as application/sparql-update or update=")
    return Inspection(form, is_update, graphs)


def _resolve(token, prefixes, base) -> str:
    kind, tok = token
    if kind == "iri":
        iri = tok[1:-1]
        return urljoin(base, iri) if base else iri
    prefix, _, local = tok.partition(":")
    if prefix not in prefixes:
        raise QueryError(f"undeclared prefix {prefix!r}:")
    return prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
