"""SPARQL: the text (prefixes, spans, query forms), the guard that reads every query before any
parser does, the named queries, the stores (embedded Oxigraph, remote endpoints) and their
engines, pushing a build to a triplestore, and the fenced process that runs a query with limits.

Depends on :mod:`medspa_graph.utils` only."""
