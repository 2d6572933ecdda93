"""Validation: SHACL shapes, check queries, and integrity checks SHACL cannot express.

The check queries and the supervision-cycle query run on an embedded Oxigraph copy of the
graph (loaded once per validation, well under a second): the same SPARQL on rdflib's engine
took 23 s of a 30 s build on the curated 10,000 triples (bench/package.py).
"""

from __future__ import annotations

__all__ = ["validate_graph", "run_shapes", "run_checks", "supervision_cycles", "raise_for_violations"]

from pathlib import Path

from medspa_graph.errors import InvalidDataError, Violation
from medspa_graph.utils.paths import ontology_dir, shape_files


def _short(iri: str) -> str:
    from medspa_graph.namespaces import PREFIXES

    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def run_shapes(graph, origin=None, *, root=None, engine: str = "auto") -> list[Violation]:
    """Validate ``graph`` against the SHACL shapes in ``ontology/shapes/``.

    Parameters
    ----------
    engine : {"auto", "core", "pyshacl"}
        ``core`` is :mod:`medspa_graph.knowledge.shacl` (the SHACL Core subset the shapes use, in tens of
        milliseconds); ``pyshacl`` the full engine (seconds); ``auto`` uses ``core`` unless a
        shape needs more, then pySHACL. Both give the same results on the shapes as they are
        (``tests/test_validation.py``).
    """
    import rdflib

    origin = origin or {}
    shapes = rdflib.Graph()
    for f in shape_files(root):
        shapes.parse(f)
    found, why = None, ""
    if engine in ("auto", "core"):
        from medspa_graph.knowledge.shacl import Unsupported, validate

        try:
            found = [(str(node), msg, sev) for node, msg, sev in validate(graph, shapes)]
        except Unsupported as e:
            if engine == "core":
                raise
            why = str(e)
    if found is None:
        found = _pyshacl(graph, shapes, why)
    out = [Violation(_short(node), msg, origin.get(node, ""), sev) for node, msg, sev in found]
    return sorted(out, key=lambda v: (v.file, v.node, v.message))


def _pyshacl(graph, shapes, why: str = "") -> list[tuple[str, str, str]]:
    import rdflib

    try:
        from pyshacl import validate
    except ImportError:
        from medspa_graph.errors import MedspaGraphError

        raise MedspaGraphError(f"a shape needs pySHACL ({why}): pip install 'medspa-graph[shacl]'") from None

    _conforms, results, _text = validate(graph, shacl_graph=shapes, inference="none", allow_warnings=True)
    SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    out = []
    for r in results.subjects(rdflib.RDF.type, SH.ValidationResult):
        node = str(results.value(r, SH.focusNode))
        msg = str(results.value(r, SH.resultMessage) or "does not conform")
        sev = str(results.value(r, SH.resultSeverity)).rsplit("#", 1)[-1]
        out.append((node, msg, sev))
    return out


def check_queries(root=None) -> dict[str, str]:
    """The check queries: ``{name: sparql}`` from ``queries/checks/*-violation.rq``."""
    folder = Path(root or ontology_dir()) / "queries" / "checks"
    return {p.stem: p.read_text() for p in sorted(folder.glob("*-violation.rq"))}


def _oxigraph(graph):
    """An in-memory Oxigraph store holding ``graph`` (an rdflib graph), or ``graph`` if it is one."""
    import pyoxigraph as ox

    if isinstance(graph, ox.Store):
        return graph
    store = ox.Store()
    store.bulk_load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES)
    return store


def run_checks(graph, origin=None, *, root=None) -> list[Violation]:
    """Run every check query on ``graph`` (rdflib graph or pyoxigraph store); each row is a violation."""
    origin = origin or {}
    store = _oxigraph(graph)
    out = []
    for name, sparql in check_queries(root).items():
        for sol in store.query(sparql):
            node = sol["node"].value
            out.append(Violation(_short(node), f"{sol['message'].value} [{name}]", origin.get(node, "")))
    return out


def supervision_cycles(graph, origin=None) -> list[Violation]:
    """Cycles in the declared supervision relation, per (procedure, jurisdiction).

    A cycle (a role supervising itself, or A supervised by B supervised by A) means
    no chain can ever reach an independent practitioner.
    """
    import networkx as nx

    origin = origin or {}
    q = """
    PREFIX ms: <https://w3id.org/medspa-graph/ontology#>
    SELECT ?rule ?role ?sup ?proc ?jur WHERE {
      ?rule a ms:ScopeRule ; ms:role ?role ; ms:supervisor ?sup ;
            ms:procedure ?proc ; ms:jurisdiction ?jur .
    }"""
    graphs: dict[tuple, nx.DiGraph] = {}
    for s in _oxigraph(graph).query(q):
        g = graphs.setdefault((s["proc"].value, s["jur"].value), nx.DiGraph())
        g.add_edge(s["role"].value, s["sup"].value, rule=s["rule"].value)
    out = []
    for (proc, jur), g in sorted(graphs.items()):
        for cycle in nx.simple_cycles(g):
            edges = list(zip(cycle, cycle[1:] + cycle[:1]))
            rule = g.edges[edges[0]]["rule"]
            path = " -> ".join(_short(n) for n in [*cycle, cycle[0]])
            out.append(Violation(
                _short(rule),
                f"supervision cycle {path} for {_short(proc)} in {_short(jur)}",
                origin.get(rule, ""),
            ))
    return out


def validate_graph(graph, origin=None, *, root=None) -> list[Violation]:
    """All violations and warnings of ``graph``: shapes, check queries, integrity."""
    store = _oxigraph(graph)
    return [
        *run_shapes(graph, origin, root=root),
        *run_checks(store, origin, root=root),
        *supervision_cycles(store, origin),
    ]


def raise_for_violations(found) -> list[Violation]:
    """Raise :class:`InvalidDataError` if any finding is a violation; return the warnings."""
    violations = [v for v in found if v.severity == "Violation"]
    if violations:
        raise InvalidDataError(violations)
    return [v for v in found if v.severity != "Violation"]
