"""SPARQL text handling: binding parameters safely, and reading named-query files."""

from __future__ import annotations

__all__ = ["bind", "term_to_sparql", "IRI", "NamedQuery", "read_named_query", "query_form", "tokens", "spans",
           "lex_one", "Unterminated", "QUERY_PREFIXES", "BASE_IRI", "declare_prefixes"]

import re
from dataclasses import dataclass, field
from pathlib import Path

from medspa_graph.errors import QueryError


class IRI(str):
    """An IRI, as distinct from a plain string literal, in bindings and results."""

    __slots__ = ()


_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')

# The SPARQL lexer shared by bind(), query_form(), the engine adapters and the guard.
# It reads the text the way Oxigraph's scannerless parser does: comments, IRIs,
# strings, variables and prefixed names are single tokens, so a keyword or a brace
# inside one of them is never mistaken for syntax; whitespace is only space, tab,
# CR and LF; ``\\u`` escapes count only inside IRIs and strings. Every token is
# matched once from its start, so lexing is linear in the length of the text.
# The one place where the grammar, not the characters, decides is ``<`` after a
# term (an IRI, or the less-than operator): :func:`tokens` takes the IRI, and the
# guard follows both readings (see :mod:`medspa_graph.sparql.guard`).
_NAME = re.compile(r"[A-Za-z0-9_\-\u00B7\u00C0-\U000EFFFF]+")
_LOCAL = re.compile(r"(?:[A-Za-z0-9_\-\u00B7\u00C0-\U000EFFFF.:]|%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%])*")
_VARNAME = re.compile(r"[A-Za-z0-9_\u00B7\u00C0-\U000EFFFF]+")
_IRIREF = re.compile(r"<(?:[^<>\"{}|^`\\\x00-\x20]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8})*>")
_STRINGS = {
    '"""': re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""', re.S),
    "'''": re.compile(r"'''(?:[^'\\]|\\.|'(?!''))*'''", re.S),
    '"': re.compile(r'"(?:[^"\\\n\r]|\\[^\n\r])*"'),
    "'": re.compile(r"'(?:[^'\\\n\r]|\\[^\n\r])*'"),
}
_LANGTAG = re.compile(r"@[A-Za-z]+(?:-[A-Za-z0-9]+)*")
_DIGITS = re.compile(r"[0-9]+")
_EOL = re.compile(r"[\n\r]")
_WS = frozenset(" \t\r\n")


class Unterminated(ValueError):
    """A string that never closes (the engine cannot parse the text either)."""


def lex_one(text: str, pos: int, iri: bool = True):
    """The token starting at or after ``pos``: ``(kind, start, end)``, or None at the end.

    Kinds: ``iri``, ``string``, ``var``, ``pname``, ``word``, ``number``, ``other``
    (one character). Comments and whitespace are skipped. ``iri=False`` reads ``<``
    as an operator even where an IRI could start.
    """
    n = len(text)
    while pos < n:
        c = text[pos]
        if c in _WS:
            pos += 1
        elif c == "#":
            m = _EOL.search(text, pos)
            pos = m.start() if m else n
        else:
            break
    else:
        return None
    c = text[pos]
    if c == "<" and iri:
        m = _IRIREF.match(text, pos)
        if m:
            return "iri", pos, m.end()
    elif c in "\"'":
        opener = text[pos:pos + 3] if text.startswith(c * 3, pos) else c
        m = _STRINGS[opener].match(text, pos)
        if not m:
            raise Unterminated(pos)
        end = m.end()
        tag = _LANGTAG.match(text, end)
        return "string", pos, tag.end() if tag else end
    elif c in "?$":
        m = _VARNAME.match(text, pos + 1)
        if m:
            return "var", pos, m.end()
    elif c == ":":
        return "pname", pos, _pname_end(text, pos + 1)
    elif "0" <= c <= "9":
        return "number", pos, _DIGITS.match(text, pos).end()
    else:
        m = _NAME.match(text, pos)
        if m:
            end = m.end()
            if end < n and text[end] == ":":
                return "pname", pos, _pname_end(text, end + 1)
            return "word", pos, end
    return "other", pos, pos + 1


def _pname_end(text: str, pos: int) -> int:
    end = _LOCAL.match(text, pos).end()
    while end > pos and text[end - 1] == "." and not text[end - 2:end] == "\\.":
        end -= 1  # a local name does not end with a dot
    return end


def tokens(text: str):
    """``(kind, token)`` pairs of ``text``, comments skipped, ``<`` after a term read as an IRI.

    >>> [t for _, t in tokens("SELECT ?x { ?x a <urn:C> } # done")]
    ['SELECT', '?x', '{', '?x', 'a', '<urn:C>', '}']
    """
    for kind, start, end in spans(text):
        yield kind, text[start:end]


def spans(text: str):
    """``(kind, start, end)`` for each token of ``text``, as :func:`tokens` reads them."""
    pos = 0
    while True:
        try:
            tok = lex_one(text, pos)
        except Unterminated as e:
            raise QueryError(f"SPARQL syntax error: a string opened at character {e.args[0] + 1} never closes") \
                from None
        if tok is None:
            return
        yield tok
        pos = tok[2]


#: Prefixes every query may use without declaring them (a query's own PREFIX wins).
QUERY_PREFIXES = {
    "ms": "https://w3id.org/medspa-graph/ontology#",
    "jur": "https://w3id.org/medspa-graph/jurisdiction/",
    "rule": "https://w3id.org/medspa-graph/rule/",
    "src": "https://w3id.org/medspa-graph/source/",
    "search": "https://w3id.org/medspa-graph/search/",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "prov": "http://www.w3.org/ns/prov#",
    "dcterms": "http://purl.org/dc/terms/",
    "schema": "https://schema.org/",
    "org": "http://www.w3.org/ns/org#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "obo": "http://purl.obolibrary.org/obo/",
}
#: The base IRI relative IRIs in a query resolve against (CLI and Python API; the server uses its own URL).
BASE_IRI = "https://w3id.org/medspa-graph/"

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


def declare_prefixes(sparql: str, prefixes: dict | None = None) -> str:
    """``sparql`` with ``PREFIX`` lines for the predeclared prefixes it does not declare itself.

    For engines that take no prefixes of their own (a remote endpoint); the embedded
    store is given them as an argument, so its error positions stay the query's own.

    >>> declare_prefixes("PREFIX ms: <urn:x#> ASK { ?s a rdfs:Class }", {"ms": "urn:m#", "rdfs": "urn:r#"})
    'PREFIX rdfs: <urn:r#>\\nPREFIX ms: <urn:x#> ASK { ?s a rdfs:Class }'
    """
    prefixes = QUERY_PREFIXES if prefixes is None else prefixes
    toks = list(tokens(sparql))
    declared = {toks[i + 1][1].rstrip(":") for i, (k, t) in enumerate(toks[:-1])
                if k == "word" and t.upper() == "PREFIX" and toks[i + 1][0] == "pname"}
    lines = [f"PREFIX {p}: <{iri}>\n" for p, iri in prefixes.items() if p not in declared]
    return "".join(lines) + sparql


def query_form(sparql: str) -> str:
    """The query form keyword (SELECT, ASK, CONSTRUCT, DESCRIBE) or an update keyword."""
    for kind, tok in tokens(sparql):
        if kind == "word":
            w = tok.upper()
            if w in QUERY_FORMS or w in UPDATE_WORDS:
                return w
    raise QueryError("not a SPARQL query: no SELECT, ASK, CONSTRUCT or DESCRIBE")


def bind(sparql: str, bindings: dict | None) -> str:
    """Bind variables by inserting a ``VALUES`` block at the top of the WHERE clause.

    Values are escaped with :func:`term_to_sparql`, never pasted raw, so a binding
    cannot change the query's shape. Works the same on every SPARQL 1.1 engine.

    The embedded store binds this way too, not with pyoxigraph's ``Store.query(substitutions=)``
    (SEP-0007, in pyoxigraph 0.4.9 to 0.5.13 at least): Oxigraph substitutes only a variable of
    the query's projection and refuses any other ("does not contains variable ?jurisdiction in its
    SELECT projection", also for ``SELECT *`` and CONSTRUCT), while the parameterised named queries
    (scope-rules, who-can, baseline-only, prescription-products) and people's own ``.rq`` files bind
    variables they only filter or join on. One way for every store also keeps the embedded answers
    the reference the remote ones are compared with (tests/test_queries.py pins the refusal).

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
    for kind, start, end in spans(sparql):
        text = sparql[start:end]
        if kind == "word":
            w = text.upper()
            if form is None and w in QUERY_FORMS:
                form = w
            elif w == "WHERE":
                saw_where = True
        elif text == "{" and form is not None and (saw_where or form in {"SELECT", "ASK"}):
            return sparql[:end] + block + sparql[end:]
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
    trusted: bool = False  # one of the package's own named queries (runs in-process, unfenced)


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
