"""Small shared parts with no knowledge of the graph: output formats, atomic files, terminal
escaping, the spinner, and where the ontology lives. Every other subpackage may use them; they
use nothing of the package but :mod:`medspa_graph.errors`."""
