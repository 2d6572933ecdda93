"""Parse, validate and reason: turn Turtle files into one checked, inferred graph.

The pipeline is ``parse -> validate (SHACL + integrity checks) -> infer (OWL 2 RL)``.
Every step either completes or raises; nothing partial is returned or written.
"""

from __future__ import annotations

__all__ = ["parse_files", "build_graph", "BuildResult", "fingerprint"]

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from medspa_graph.errors import UnreadableInputError
from medspa_graph.utils.paths import curated_files


def _rdflib():
    import logging

    import rdflib

    # rdflib logs a warning, with a traceback, for each value it cannot make a Python object
    # of (a 100,000-digit integer, a year 99999999999); the literal is kept as text, which is
    # right, and a traceback reaching a user is a bug: keep them out of an unconfigured stderr
    logger = logging.getLogger("rdflib")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())
    return rdflib


def fingerprint(paths, *extra: str) -> str:
    """A hash of the files' names and contents (and extra strings): the cache key."""
    from medspa_graph.utils.files import open_regular

    h = hashlib.sha256()
    for s in extra:
        h.update(s.encode())
    for p in paths:
        p = Path(p)
        h.update(p.name.encode())
        try:
            with open_regular(p) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
        except OSError as e:
            raise UnreadableInputError(p, e.strerror or str(e)) from None
    return h.hexdigest()[:32]


_LINE_RE = re.compile(r"line (\d+)")
# rdflib keeps IRIs that RDF forbids (it logs a warning); the reasoner and Oxigraph then fail on them
_IRI_BAD = re.compile(r'[\x00-\x20<>"{}|^`\\]')
_IRI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


def _term(term) -> str:
    """How an error names a term that RDF does not allow where N3 put it."""
    from medspa_graph.errors import _shown

    rdflib = _rdflib()
    if isinstance(term, rdflib.Literal):
        return f"the literal {_shown(str(term))}"
    if isinstance(term, rdflib.Variable):
        return f"the variable ?{str(term)[:80]}"
    if isinstance(term, rdflib.Graph):
        return "a formula { ... }"
    return f"a {type(term).__name__}"


def _check_terms(g, path: Path, text: str) -> None:
    """Raise UnreadableInputError for the first triple that is not RDF (N3 allows literal and
    variable subjects, variables and formulas anywhere) or IRI that is not a valid absolute IRI.

    Such triples parse, and would then break the reasoner, a serialiser or Oxigraph.
    """
    rdflib = _rdflib()
    resource, value = (rdflib.URIRef, rdflib.BNode), (rdflib.URIRef, rdflib.BNode, rdflib.Literal)
    seen = set()
    for triple in g:
        s, p, o = triple
        for term, allowed, place in ((s, resource, "subject"), (p, rdflib.URIRef, "predicate"), (o, value, "object")):
            if not isinstance(term, allowed) or isinstance(term, rdflib.Graph):
                raise UnreadableInputError(path, f"not RDF: {_term(term)} is a {place}")
        for term in triple:
            iri = term.datatype if isinstance(term, rdflib.Literal) else term
            if not isinstance(iri, rdflib.URIRef) or iri in seen:
                continue
            seen.add(iri)
            bad = _IRI_BAD.search(iri)
            if bad or not _IRI_SCHEME.match(iri):
                at = text.find(str(iri))
                from medspa_graph.errors import _shown

                why = f"contains {bad.group()!r}" if bad else "is not absolute"
                raise UnreadableInputError(path, f"not a valid IRI: {_shown(iri)} {why}",
                                           text.count("\n", 0, at) + 1 if at >= 0 else None)


def _parse_one(path: Path):
    """Parse one RDF file into its own graph, turning parser errors into one line."""
    rdflib = _rdflib()
    from medspa_graph.utils.formats import by_suffix

    known = by_suffix(path.suffix)
    if known is None or known.name not in ("ttl", "nt", "n3", "jsonld"):
        raise UnreadableInputError(path, f"unsupported file type {path.suffix!r} (use .ttl, .nt or .jsonld)")
    fmt = known.rdflib
    from medspa_graph.utils.files import read_file

    try:
        data = read_file(path)
    except OSError as e:
        raise UnreadableInputError(path, e.strerror or str(e)) from None
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark, as some editors write, is not content
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UnreadableInputError(path, "not valid UTF-8", line) from None
    if fmt == "json-ld":
        from medspa_graph.knowledge.safety import check_jsonld_offline

        check_jsonld_offline(text, path)
    g = rdflib.Graph()
    try:
        g.parse(data=text, format=fmt, publicID=path.resolve().as_uri())
    except RecursionError:
        raise UnreadableInputError(path, f"{fmt} syntax error: nested too deeply") from None
    except Exception as e:  # rdflib raises many types; all mean "unreadable"
        line = getattr(e, "lines", None)
        line = line + 1 if isinstance(line, int) else None
        msg = str(e).strip()
        reason = getattr(e, "_why", None) or (msg.splitlines()[-1] if msg else type(e).__name__)
        if line is None:
            m = _LINE_RE.search(str(e))
            line = int(m.group(1)) if m else None
        raise UnreadableInputError(path, f"{fmt} syntax error: {reason}", line) from None
    _check_terms(g, path, text)
    return g


@dataclass
class BuildResult:
    """The outcome of :func:`build_graph`: the graph and what it took."""

    graph: object
    origin: dict = field(default_factory=dict)  # subject IRI -> file it is described in
    timings: dict = field(default_factory=dict)


def parse_files(paths):
    """Parse files into one rdflib graph; return it and a map subject -> first file.

    Raises
    ------
    UnreadableInputError
        For the first file that cannot be read or parsed (with its line).
    """
    rdflib = _rdflib()
    merged = rdflib.Graph()
    origin: dict[str, str] = {}
    for p in paths:
        p = Path(p)
        g = _parse_one(p)
        for s in set(g.subjects()):
            origin.setdefault(str(s), str(p))
        merged += g
    _bind_prefixes(merged)
    return merged, origin


def _bind_prefixes(g) -> None:
    from medspa_graph.namespaces import PREFIXES

    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns, replace=True)


def build_graph(extra=(), *, validate: bool = True, reason: bool = True, root=None) -> BuildResult:
    """Parse the curated files (and ``extra`` files), validate, and infer.

    Parameters
    ----------
    extra : iterable of path
        User Turtle/N-Triples/JSON-LD files to add to the curated knowledge.
    validate : bool
        Run SHACL shapes and integrity checks; raise on any violation.
    reason : bool
        Materialise OWL 2 RL inferences.

    Raises
    ------
    UnreadableInputError, InvalidDataError
    """
    t0 = time.perf_counter()
    files = [*curated_files(root), *map(Path, extra)]
    graph, origin = parse_files(files)
    timings = {"parse": time.perf_counter() - t0}
    if validate:
        from medspa_graph.knowledge.validation import raise_for_violations, validate_graph

        t = time.perf_counter()
        raise_for_violations(validate_graph(graph, origin, root=root))
        timings["validate"] = time.perf_counter() - t
    if reason:
        from medspa_graph.knowledge.reasoning import materialize

        t = time.perf_counter()
        graph = materialize(graph)
        _bind_prefixes(graph)
        timings["reason"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return BuildResult(graph, origin, timings)
