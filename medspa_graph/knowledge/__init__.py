"""From curated files to a graph the questions can read: load and parse, validate against the
shapes (a SHACL Core subset, or pySHACL), reason (OWL 2 RL), cache the result, export a build,
resolve the names people type, and the :class:`~medspa_graph.knowledge.catalog.Catalog` of
derived indexes (rules by jurisdiction, the class hierarchy, sources, term details)."""
