"""Compliance audits of rosters: read the CSV files (:mod:`~medspa_graph.audit.check`), index the
rules each jurisdiction needs once (:mod:`~medspa_graph.audit.index`), check every appointment,
write findings as they are found (:mod:`~medspa_graph.audit.findings`) or as RDF
(:mod:`~medspa_graph.audit.rdf`), split and merge national-scale files
(:mod:`~medspa_graph.audit.parts`), and synthesise test rosters (:mod:`~medspa_graph.audit.synth`)."""
