"""Named SPARQL queries: the ``.rq`` files of ``ontology/queries/``."""

from __future__ import annotations

__all__ = ["named_query", "named_queries", "resolve_query", "as_query"]

from functools import cache
from pathlib import Path

from medspa_graph.errors import QueryError
from medspa_graph.sparql.text import NamedQuery, read_named_query
from medspa_graph.utils.paths import ontology_dir


@cache
def _folder_queries(folder: str) -> dict[str, NamedQuery]:
    queries = {p.stem: read_named_query(p) for p in sorted(Path(folder).glob("*.rq"))}
    for q in queries.values():
        q.trusted = True  # the package's own text; anything else runs behind the fence
    return queries


def named_queries() -> dict[str, NamedQuery]:
    """Every named query, by name."""
    return _folder_queries(str(ontology_dir() / "queries"))


def named_query(name: str) -> NamedQuery:
    """The named query ``name``; raises :class:`QueryError` listing the known ones."""
    queries = named_queries()
    if name not in queries:
        raise QueryError(f"unknown query {name!r}; known: {', '.join(sorted(queries))}")
    return queries[name]


def resolve_query(name_or_file: str) -> NamedQuery:
    """A named query, or a ``.rq`` file given by path."""
    p = Path(name_or_file)
    if name_or_file.endswith(".rq") or p.is_file():
        if not p.is_file():
            raise QueryError(f"{name_or_file}: no such query file")
        return read_named_query(p)
    return named_query(name_or_file)


def as_query(query) -> NamedQuery:
    """A named query, a ``.rq`` file, or SPARQL text, as a :class:`NamedQuery`.

    A bare word is a named query's name (an unknown one is an error listing the known);
    a path (no space, no brace) is a query file; anything else is text.

    >>> as_query("summary").trusted, as_query("DESCRIBE <urn:x>").name
    (True, 'adhoc')
    """
    import re

    from medspa_graph.sparql.text import NamedQuery

    if isinstance(query, NamedQuery):
        return query
    text = str(query)
    if re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return named_query(text)
    if not re.search(r"[\s{]", text):  # a name or a path: SPARQL text has a space or a brace
        return resolve_query(text)
    return NamedQuery("adhoc", text)


_TERM_KINDS = {"role", "procedure", "jurisdiction", "condition", "product", "treatment"}


def prepare(kb, query, params: dict):
    """The SPARQL text and typed bindings for ``query`` (a name, a file, a NamedQuery or text).

    Only the package's own named queries are trusted (``NamedQuery.trusted``); files
    and text run behind the fence (see :mod:`medspa_graph.sparql.sandbox`).

    Term parameters are resolved from the names people type; ``iri`` parameters must
    be absolute IRIs; the rest bind as strings. Unknown parameter names are errors.
    """
    from medspa_graph.sparql.text import IRI

    q = as_query(query)
    bindings = {}
    for name, value in params.items():
        if q.params and name not in q.params:
            raise QueryError(f"query {q.name!r} has no parameter {name!r}; it takes: {', '.join(q.params) or 'none'}")
        kind = q.params.get(name, ("string", ""))[0]
        if kind == "jurisdiction":
            bindings[name] = kb.jurisdiction(value)
        elif kind in _TERM_KINDS:
            bindings[name] = kb.resolve(value, kind)
        elif kind == "iri":
            if not str(value).startswith(("http://", "https://", "urn:")):
                raise QueryError(f"parameter {name!r} needs an absolute IRI, got {value!r}")
            bindings[name] = IRI(value)
        else:
            bindings[name] = str(value)
    return q.sparql, bindings
