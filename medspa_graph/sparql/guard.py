"""Read a SPARQL request before any engine runs it, and refuse what could reach outside.

Both rdflib's engine and Oxigraph follow ``SERVICE <url>`` to any address, and
rdflib fetches ``FROM <url>`` and ``LOAD <url>``: a server that passes queries
through is a server-side request forgery tool. The guard is the first of two
barriers; the second, which does not depend on reading SPARQL at all, is the
operating-system fence of :mod:`medspa_graph.sparql.fence` around every process that runs
a query.

How the guard reads
-------------------
A guard is only as good as its agreement with the engine, so it reads the text the
way Oxigraph's scannerless parser does (:func:`medspa_graph.sparql.text.lex_one`), and
where the characters alone do not decide, it follows every reading:

- ``<`` after a term is an IRI in a triple pattern and the less-than operator in an
  expression. The guard follows both: the reading that takes the IRI, and the one
  that takes the operator and lexes the IRI's characters as tokens (so the
  ``FILTER(?a<?b)SERVICE#>`` trick, where ``#`` starts a comment in one reading and
  not in the other, shows ``SERVICE`` in the second). Readings that reach the same
  point in the same state merge again, so this costs little.
- The W3C grammar expands ``\\u`` escapes everywhere before parsing; Oxigraph only
  inside IRIs and strings. The guard reads the text both ways.
- Oxigraph matches keywords as prefixes of a word (``ASKFROM``, ``trueSERVICE``,
  ``SERVICE:x`` all parse). So a word or prefix name that merely *contains*
  ``SERVICE`` or ``LOAD`` is refused, and one that contains ``FROM``, ``USING`` or
  ``WITH`` is refused unless it is exactly that keyword.

It refuses, with :class:`RefusedQuery`:

- ``SERVICE`` anywhere, in any reading (federation makes the engine fetch a URL);
- ``LOAD`` (the engine would fetch a document);
- text past the limits that keep the engine from crashing or stalling before any
  time limit applies: :data:`MAX_CHARS` characters, :data:`MAX_TOKENS` tokens and
  brackets nested :data:`MAX_DEPTH` deep (measured: about 10,000 flat terms such as
  ``1+1+...`` or ``{} UNION {} ...``, or 5,000 ``BIND``/``MINUS`` clauses, overflow the
  8 MiB stack of a thread; queries run on a :data:`ENGINE_STACK` stack, and the
  limits keep well below what that holds);
- a dataset clause (``FROM``, ``FROM NAMED``, ``USING``, ``WITH``) or protocol
  parameter naming a graph the store does not hold (checked by the caller with
  :attr:`Inspection.graphs`, which lists the graphs of every reading), since some
  engines fetch such graphs.

:func:`check_offline` applies the same reading to any SPARQL text, so the CLI and the
Python API refuse the same queries the server does.
"""

from __future__ import annotations

__all__ = ["Inspection", "RefusedQuery", "inspect", "check_offline", "MAX_DEPTH", "MAX_TOKENS", "MAX_CHARS",
           "ENGINE_STACK", "QUERY_FORMS", "UPDATE_WORDS"]

import heapq
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

from medspa_graph.errors import QueryError
from medspa_graph.sparql.text import QUERY_FORMS, QUERY_PREFIXES, UPDATE_WORDS, Unterminated, lex_one


class RefusedQuery(QueryError):
    """A query the server will not run because it would fetch or read something outside."""


class _Impossible(Exception):
    """A reading the engine cannot take (a syntax error in it): dropped, not refused."""


_ESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

#: How deep ``{``, ``(`` and ``[`` may nest; the named queries use fewer than ten levels.
MAX_DEPTH = 128
#: How many tokens a query may have (the named queries have fewer than 1,000).
MAX_TOKENS = 20_000
#: How many characters a query may have.
MAX_CHARS = 1 << 20
#: The stack of the thread that runs a query (reserved address space; only what is used is memory).
ENGINE_STACK = 256 << 20
#: How many readings of one text the guard follows at once before it gives up and refuses.
MAX_READINGS = 32

_FETCHING = ("SERVICE", "LOAD")
_DATASET = ("FROM", "USING", "WITH")
_OPERAND_WORDS = frozenset({"TRUE", "FALSE"})


@dataclass
class Inspection:
    """What a request is: its form and the graphs its dataset clauses name (in any reading)."""

    form: str
    is_update: bool
    graphs: list = field(default_factory=list)  # (clause, iri) pairs


def _unescape(text: str) -> str:
    def repl(m):
        code = int(m.group(1) or m.group(2), 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise QueryError(f"invalid \\u escape in query: {m.group(0)}")
        return chr(code)

    return _ESCAPE.sub(repl, text)


def _ascii_upper(word: str) -> str:
    """Upper-case ASCII letters only, as the engine compares keywords (no look-alike letters)."""
    return word.encode("ascii", "replace").decode().upper()


@dataclass(order=True)
class _Reading:
    pos: int
    after_term: bool = False    # the last token ends a term: a following ``<`` may be an operator
    decl: str = ""              # "PREFIX", "PREFIX name:" or "BASE": the IRI that follows is declared
    pending: str = ""           # a dataset clause waiting for its graph
    stack: tuple = ()           # open brackets: "G" group {, "B" [, "E" expression (, "C" other (
    prev: str = ""              # the last token's kind, or the upper-case word
    primary: bool = True        # the reading that takes every ``<`` it can as an IRI

    def key(self):
        return (self.pos, self.after_term, self.decl, self.pending, self.stack, self.prev)


class _Reader:
    """Every reading of one text, advanced together; what any reading finds counts."""

    def __init__(self, text: str):
        self.text = text
        self.steps = 0
        self.primary_steps = 0
        self.form: str | None = None
        self.graphs: list = []
        self.prefixes: dict[str, set] = {p: {iri} for p, iri in QUERY_PREFIXES.items()}  # predeclared
        self.bases: set = set()

    def run(self) -> None:
        heap = [_Reading(0)]
        while heap:
            r = heapq.heappop(heap)
            while heap and heap[0].key() == r.key():  # the same point in the same state: one reading
                r.primary = r.primary or heapq.heappop(heap).primary
            if len(heap) >= MAX_READINGS:
                raise RefusedQuery("query refused: too many ways to read it; put spaces around < and > "
                                   "where they compare values")
            for nxt in self.step(r):
                heapq.heappush(heap, nxt)

    def step(self, r: _Reading):
        """Read one token of reading ``r``; return the readings that follow (none at the end)."""
        self.steps += 1
        self.primary_steps += r.primary
        if self.primary_steps > MAX_TOKENS or self.steps > MAX_TOKENS * 4:
            raise RefusedQuery(f"query refused: more than {MAX_TOKENS} tokens")
        text = self.text
        # ``<`` is the less-than operator only after a term inside an expression's brackets
        iri_only = r.decl != "" or not r.after_term or not r.stack or r.stack[-1] != "E"
        try:
            tok = lex_one(text, r.pos)
        except Unterminated as e:
            if r.primary:
                raise QueryError(f"SPARQL syntax error: a string opened at character {e.args[0] + 1} "
                                 "never closes") from None
            return []  # the engine cannot read the text this way either
        if tok is None:
            if r.primary and r.pending:
                raise QueryError(f"{r.pending} must be followed by a graph IRI")
            return []
        out = []
        if tok[0] == "iri" and not iri_only:
            # ``<`` after a term: also read it as the less-than operator
            out.append(_Reading(tok[1] + 1, False, "", r.pending, r.stack, "<", False))
        kind, start, end = tok
        nxt = _Reading(end, False, "", "", r.stack, kind, r.primary)
        try:
            self.token(r, nxt, kind, text[start:end])
        except _Impossible:
            return out
        out.append(nxt)
        return out

    def token(self, r: _Reading, nxt: _Reading, kind: str, tok: str) -> None:
        if r.pending:
            if kind == "word" and r.pending == "FROM" and _ascii_upper(tok) == "NAMED":
                nxt.pending = "FROM NAMED"
                return
            if kind not in ("iri", "pname"):
                self.syntax(r, f"{r.pending} must be followed by a graph IRI")
            for iri in self.resolve(r, kind, tok):
                self.graphs.append((r.pending, iri))
            nxt.after_term = True
            return
        if r.decl:
            if r.decl == "PREFIX":
                if kind != "pname" or not tok.endswith(":"):
                    self.syntax(r, "PREFIX must be followed by a prefix name and an IRI")
                nxt.decl = "PREFIX " + tok
                return
            if kind != "iri":
                self.syntax(r, f"{r.decl.split(' ')[0]} must be followed by an IRI")
            iri = self.iri(tok)
            if r.decl == "BASE":
                self.bases.add(iri)
            else:
                name = r.decl.split(" ", 1)[1].rstrip(":")
                self.prefixes.setdefault(name, set()).update(self.with_bases(iri))
            return
        if kind in ("word", "pname"):
            name = tok.split(":", 1)[0] if kind == "pname" else tok
            word = _ascii_upper(name)
            for bad in _FETCHING:
                if bad in word:
                    what = "from other endpoints" if bad == "SERVICE" else "documents"
                    raise RefusedQuery(f"{bad} refused: medspa-graph never fetches {what}" if bad == word else
                                       f"{bad} refused: {tok[:40]!r} reads as {bad} to the engine, and "
                                       f"medspa-graph never fetches {what}")
            for clause in _DATASET:
                if clause in word and (kind == "pname" or clause != word):
                    raise RefusedQuery(f"query refused: {tok[:40]!r} reads as {clause} to the engine; "
                                       f"put a space after {clause}")
            if kind == "word":
                if word in _DATASET:
                    nxt.pending = word
                elif word in ("PREFIX", "BASE"):
                    nxt.decl = word
                if r.primary and self.form is None and (word in QUERY_FORMS or word in UPDATE_WORDS):
                    self.form = word
                nxt.after_term = word in _OPERAND_WORDS
                nxt.prev = word
            else:
                nxt.after_term = True
        elif kind == "other":
            if tok in "{([":
                nxt.stack = r.stack + (self.opened(r, tok),)
                if len(nxt.stack) > MAX_DEPTH:
                    raise RefusedQuery(f"query refused: brackets nested more than {MAX_DEPTH} levels deep")
            elif tok in "})]":
                nxt.stack = r.stack[:-1]
            nxt.after_term = tok in ")]}"
            nxt.prev = tok
        else:
            nxt.after_term = True

    @staticmethod
    def opened(r: _Reading, tok: str) -> str:
        """What a bracket opens: a group, a property list, an expression, or a collection/list."""
        if tok == "{":
            return "G"
        if tok == "[":
            return "B"
        if not r.stack or r.stack[-1] == "E":
            return "E"  # a projection, GROUP BY or ORDER BY at the top, or brackets inside an expression
        if r.prev in ("iri", "pname") or (r.prev.isalpha() and r.prev.isupper() and r.prev != "VALUES"):
            return "E"  # FILTER(, BIND(, STR(, a function call <f>( (or a collection after a predicate)
        return "C"  # a collection in a triple pattern, or VALUES rows

    @staticmethod
    def syntax(r: _Reading, message: str) -> None:
        """A syntax error: refused in the main reading; in another, that reading is impossible."""
        raise QueryError("SPARQL syntax error: " + message) if r.primary else _Impossible()

    def iri(self, tok: str) -> str:
        return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), tok[1:-1])

    def with_bases(self, iri: str) -> set:
        return {iri} | {urljoin(b, iri) for b in self.bases}

    def resolve(self, r: _Reading, kind: str, tok: str) -> set:
        if kind == "iri":
            return self.with_bases(self.iri(tok))
        prefix, _, local = tok.partition(":")
        if prefix not in self.prefixes:
            self.syntax(r, f"undeclared prefix {prefix!r}:")
        local = re.sub(r"\\(.)", r"\1", local)
        return {p + local for p in self.prefixes[prefix]}


def _read(text: str) -> _Reader:
    """Read ``text`` as Oxigraph does and as the W3C grammar does; the first reader has the form."""
    if len(text) > MAX_CHARS:
        raise RefusedQuery(f"query refused: longer than {MAX_CHARS} characters")
    first = _Reader(text)
    first.run()
    spec = _unescape(text)
    if spec != text:
        second = _Reader(spec)
        second.run()
        first.graphs += second.graphs
        first.form = first.form or second.form
    return first


def check_offline(text: str) -> None:
    """Refuse SPARQL text that would fetch (SERVICE, LOAD) or is too large to run safely.

    >>> check_offline("SELECT * WHERE { ?s ?p 'SERVICE' }")
    >>> check_offline("SELECT * WHERE { SERVICE <http://169.254.169.254/> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    medspa_graph.sparql.guard.RefusedQuery: SERVICE refused: medspa-graph never fetches from other endpoints
    >>> check_offline("SELECT * WHERE { FILTER(?a<?b)SERVICE#>\\n <http://127.0.0.1/> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    medspa_graph.sparql.guard.RefusedQuery: SERVICE refused: medspa-graph never fetches from other endpoints
    """
    _read(text)


def inspect(text: str, *, update: bool = False) -> Inspection:
    """Read ``text`` and return its form and named graphs, or raise :class:`RefusedQuery`.

    >>> inspect("SELECT * WHERE { ?s ?p 'SERVICE' }").form
    'SELECT'
    >>> inspect("SELECT * WHERE { SERVICE <http://169.254.169.254/> { ?s ?p ?o } }")
    Traceback (most recent call last):
    ...
    medspa_graph.sparql.guard.RefusedQuery: SERVICE refused: medspa-graph never fetches from other endpoints
    >>> inspect("PREFIX g: <urn:g:> ASK FROM g:one { }").graphs
    [('FROM', 'urn:g:one')]
    """
    reader = _read(text)
    form = reader.form
    if form is None:
        raise QueryError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE"
                         if not update else "not a SPARQL update: no INSERT, DELETE, CLEAR, ...")
    is_update = form in UPDATE_WORDS
    if update and not is_update:
        raise QueryError(f"expected a SPARQL update, got a {form} query")
    if not update and is_update:
        raise QueryError(f"{form} is an update; send updates as application/sparql-update or update=")
    graphs = list(dict.fromkeys(reader.graphs))
    return Inspection(form, is_update, graphs)
