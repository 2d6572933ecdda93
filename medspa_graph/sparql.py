"""SPARQL text handling: binding parameters safely, and reading named-query files."""

from __future__ import annotations

__all__ = ["bind", "term_to_sparql", "IRI", "NamedQuery", "read_named_query", "query_form"]

import re
from dataclasses import dataclass, field
from pathlib import Path

from .errors import QueryError


class IRI(str):
    """An IRI, as distinct from a plain string literal, in bindings and results."""

    __slots__ = ()


_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')

# The SPARQL lexer shared by bind(), query_form() and the server's guard: comments,
# IRIs, strings, variables and prefixed names are single tokens, so a keyword or a
# brace inside one of them is never mistaken for syntax.
_PN_CHARS = r"A-Za-z0-9_\-\u00B7\u00C0-\U000EFFFF"
LEX = re.compile(
    r"(?P<comment>\#[^\n\r]*)"
    r"|(?P<iri><[^<>\"{}|^`\\\x00-\x20]*>)"
    r"|(?P<string>\"\"\"(?:[^\"\\]|\\.|\"(?!\"\"))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r"|\"(?:[^\"\\\n\r]|\\.)*\"|'(?:[^'\\\n\r]|\\.)*')"
    r"|(?P<var>[?$][" + _PN_CHARS + r"]+)"
    r"|(?P<pname>(?:[A-Za-z\u00C0-\U000EFFFF][" + _PN_CHARS + r".]*)?:(?:[" + _PN_CHARS + r".:%]|\\.)*)"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<other>\S)",
    re.S,
)

QUERY_FORMS = {"SELECT", "ASK", "CONSTRUCT", "DESCRIBE"}
UPDATE_WORDS = {"INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH"}


def term_to_sparql(value) -> str:
    """Serialise a Python value as a SPARQL term, escaping so it cannot break out.

    >>> term_to_sparql(IRI("https://example.org/a"))
    '<https://example.org/a>'
    >>> term_to_sparql('say "hi"\\n')
    '"say \\\\"hi\\\\"\\\\n"'
    >>> term_to_sparql(True)
    'true'
    """
    if isinstance(value, IRI):
        if _IRI_BAD.search(value):
            raise QueryError(f"not a valid IRI: {value!r}")
        return f"<{value}>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f'"{value}"^^<http://www.w3.org/2001/XMLSchema#integer>'
    if isinstance(value, float):
        return f'"{value!r}"^^<http://www.w3.org/2001/XMLSchema#double>'
    s = str(value)
    s = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{s}"'


def query_form(sparql: str) -> str:
    """The query form keyword (SELECT, ASK, CONSTRUCT, DESCRIBE) or an update keyword."""
    for m in LEX.finditer(sparql):
        if m.lastgroup == "word":
            w = m.group().upper()
            if w in QUERY_FORMS or w in UPDATE_WORDS:
                return w
    raise QueryError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE")


def bind(sparql: str, bindings: dict | None) -> str:
    """Bind variables by inserting a ``VALUES`` block at the top of the WHERE clause.

    Values are escaped with :func:`term_to_sparql`, never pasted raw, so a binding
    cannot change the query's shape. Works the same on every SPARQL 1.1 engine.

    >>> bind("SELECT ?x WHERE { ?x ?p ?o }", {"o": IRI("urn:a")})
    'SELECT ?x WHERE { VALUES (?o) { (<urn:a>) } ?x ?p ?o }'
    """
    if not bindings:
        return sparql
    names = list(bindings)
    for n in names:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", n):
            raise QueryError(f"not a valid variable name: {n!r}")
    values = " ".join(term_to_sparql(bindings[n]) for n in names)
    block = f" VALUES ({' '.join('?' + n for n in names)}) {{ ({values}) }}"
    form = None
    saw_where = False
    for m in LEX.finditer(sparql):
        kind, text = m.lastgroup, m.group()
        if kind == "word":
            w = text.upper()
            if form is None and w in QUERY_FORMS:
                form = w
            elif w == "WHERE":
                saw_where = True
        elif text == "{" and form is not None and (saw_where or form in {"SELECT", "ASK"}):
            return sparql[: m.end()] + block + sparql[m.end():]
    raise QueryError("cannot bind parameters: the query has no WHERE clause")


_PARAM = re.compile(r"^#\s+\?(?P<name>\w+)\s+(?P<kind>\w+)\s*(?P<doc>.*)$")


@dataclass
class NamedQuery:
    """A query from ``ontology/queries/NAME.rq`` with its header parsed."""

    name: str
    sparql: str
    question: str = ""
    params: dict = field(default_factory=dict)  # name -> (kind, description)
    path: str = ""


def read_named_query(path) -> NamedQuery:
    """Read a ``.rq`` file whose header states the question and its parameters.

    Header lines: ``# Question: ...`` and, under ``# Parameters:``, one
    ``#   ?name kind description`` per parameter (kind: role, procedure,
    jurisdiction, condition, product, iri or string).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise QueryError(f"{path}: cannot read query: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise QueryError(f"{path}:{line}: cannot read query: not valid UTF-8") from None
    q = NamedQuery(path.stem, text, path=str(path))
    in_question = False
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        if line.lower().startswith("# question:"):
            q.question, in_question = line.split(":", 1)[1].strip(), True
            continue
        if line.lower().startswith("# parameters"):
            in_question = False
        elif in_question and line[1:].strip():
            q.question += " " + line[1:].strip()
        m = _PARAM.match(line)
        if m:
            q.params[m["name"]] = (m["kind"], m["doc"].strip())
    return q
