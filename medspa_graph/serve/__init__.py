"""The SPARQL 1.1 endpoint (:mod:`~medspa_graph.serve.server`: protocol, pages and pictures) and
the pool of worker processes (:mod:`~medspa_graph.serve.pool`, :mod:`~medspa_graph.serve.worker`)
that run each query under a time and memory limit and can be killed when pyoxigraph cannot
cancel."""
