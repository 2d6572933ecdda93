"""Pictures that work offline: pyvis networks of the supervision, referral and class graphs
(:mod:`~medspa_graph.viz.network`) and the US map of who may do a procedure where
(:mod:`~medspa_graph.viz.usmap`)."""
