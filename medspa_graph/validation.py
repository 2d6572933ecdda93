"""Validation: SHACL shapes, check queries, and integrity checks SHACL cannot express."""

from __future__ import annotations

__all__ = ["validate_graph", "run_shapes", "run_checks", "supervision_cycles", "raise_for_violations"]

from pathlib import Path

from .errors import InvalidDataError, Violation
from .paths import ontology_dir, shape_files


def _short(iri: str) -> str:
    from .namespaces import PREFIXES

    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns):]}"
    return iri


def run_shapes(graph, origin=None, *, root=None) -> list[Violation]:
    """Validate ``graph`` against the SHACL shapes in ``ontology/shapes/``."""
    import rdflib
    from pyshacl import validate

    origin = origin or {}
    shapes = rdflib.Graph()
    for f in shape_files(root):
        shapes.parse(f)
    _conforms, results, _text = validate(
        graph, shacl_graph=shapes, inference="none", allow_warnings=True
    )
    SH = rdflib.Namespace("http://www.w3.org/ns/shacl#")
    out = []
    for r in results.subjects(rdflib.RDF.type, SH.ValidationResult):
        node = str(results.value(r, SH.focusNode))
        msg = str(results.value(r, SH.resultMessage) or "does not conform")
        sev = str(results.value(r, SH.resultSeverity)).rsplit("#", 1)[-1]
        out.append(Violation(_short(node), msg, origin.get(node, ""), sev))
    return sorted(out, key=lambda v: (v.file, v.node, v.message))


def check_queries(root=None) -> dict[str, str]:
    """The check queries: ``{name: sparql}`` from ``queries/checks/*-violation.rq``."""
    folder = Path(root or ontology_dir()) / "queries" / "checks"
    return {p.stem: p.read_text() for p in sorted(folder.glob("*-violation.rq"))}


def run_checks(graph, origin=None, *, root=None) -> list[Violation]:
    """Run every check query on ``graph``; each row is a violation."""
    origin = origin or {}
    out = []
    for name, sparql in check_queries(root).items():
        for row in graph.query(sparql):
            node = str(row.node)
            out.append(Violation(_short(node), f"{row.message} [{name}]", origin.get(node, "")))
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
    for row in graph.query(q):
        g = graphs.setdefault((str(row.proc), str(row.jur)), nx.DiGraph())
        g.add_edge(str(row.role), str(row.sup), rule=str(row.rule))
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
    return [
        *run_shapes(graph, origin, root=root),
        *run_checks(graph, origin, root=root),
        *supervision_cycles(graph, origin),
    ]


def raise_for_violations(found) -> list[Violation]:
    """Raise :class:`InvalidDataError` if any finding is a violation; return the warnings."""
    violations = [v for v in found if v.severity == "Violation"]
    if violations:
        raise InvalidDataError(violations)
    return [v for v in found if v.severity != "Violation"]
