"""The closed namespace stays in sync with the declared terms."""

import pytest
import rdflib
from rdflib import RDF

from medspa_graph.namespaces import MS
from medspa_graph.utils.paths import curated_files


def test_closed_namespace_matches_declared_terms():
    g = rdflib.Graph()
    for f in curated_files():
        g.parse(f)
    ns = str(MS)
    declared = {str(s)[len(ns):] for s in g.subjects(RDF.type, None) if str(s).startswith(ns)}
    listed = set(MS.__annotations__)
    assert declared == listed, "run: python tools/gen_namespace.py"


def test_misspelt_term_fails_at_use():
    with pytest.raises(AttributeError):
        MS.RegisteredNures  # noqa: B018
