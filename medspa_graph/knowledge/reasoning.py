"""OWL 2 RL materialisation of the graph.

Measured on the curated graph (see bench/): ``reasonable`` (Rust) is the default;
``owlrl`` (pure Python) is the fallback when ``reasonable`` is not installed.
"""

from __future__ import annotations

__all__ = ["materialize", "ENGINE"]

ENGINE = "reasonable"


def materialize(graph, engine: str | None = None):
    """Return a new graph with ``graph``'s triples plus their OWL 2 RL inferences.

    Parameters
    ----------
    graph : rdflib.Graph
    engine : {"reasonable", "owlrl"}, optional

    Returns
    -------
    rdflib.Graph
    """
    import rdflib

    engine = engine or ENGINE
    out = rdflib.Graph()
    for prefix, ns in graph.namespaces():
        out.bind(prefix, ns)
    if engine == "reasonable":
        try:
            import reasonable
        except ImportError:  # pragma: no cover - the dependency is declared
            engine = "owlrl"
        else:
            r = reasonable.PyReasoner()
            r.from_graph(graph)
            out += graph
            for t in r.reason():
                out.add(t)
            return _drop_noise(out)
    import owlrl

    out += graph
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(out)
    return _drop_noise(out)


def _drop_noise(g):
    """Remove inferences that carry no information for users (literal subjects, sameAs self),
    and fold ``"x"^^xsd:string`` into ``"x"`` (the same term in RDF 1.1; rdflib keeps both)."""
    from rdflib import OWL, XSD, Literal

    for s, p, o in [t for t in g if isinstance(t[2], Literal) and t[2].datatype == XSD.string]:
        g.remove((s, p, o))
        g.add((s, p, Literal(str(o))))

    for s, p, o in list(g.triples((None, OWL.sameAs, None))):
        if s == o:
            g.remove((s, p, o))
    for t in [t for t in g if isinstance(t[0], Literal)]:
        g.remove(t)
    return g
