"""medspa-graph: a sourced knowledge graph of who may do what in a medical spa.

>>> import medspa_graph
>>> kb = medspa_graph.load()
"""

from __future__ import annotations

__all__ = [
    "__version__",
    "load",
    "KnowledgeBase",
    "MedspaGraphError",
    "UnreadableInputError",
    "InvalidDataError",
    "UnknownTermError",
    "UnknownJurisdictionError",
    "QueryError",
    "EndpointError",
]

from medspa_graph.errors import (
    EndpointError,
    InvalidDataError,
    MedspaGraphError,
    QueryError,
    UnknownJurisdictionError,
    UnknownTermError,
    UnreadableInputError,
)


def __getattr__(name):  # lazy: `medspa-graph --help` must not import rdflib (nor read metadata)
    if name == "__version__":
        from medspa_graph.version import package_version

        globals()["__version__"] = value = package_version()
        return value
    if name in ("load", "KnowledgeBase"):
        from medspa_graph import kb

        return getattr(kb, name)
    raise AttributeError(name)
