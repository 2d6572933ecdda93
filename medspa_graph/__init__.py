"""medspa-graph: a sourced knowledge graph of who may do what in a medical spa.

>>> import medspa_graph
>>> kb = medspa_graph.load()
"""

from __future__ import annotations


def _package_version() -> str:
    """The installed distribution's version: ``pyproject.toml`` is the one place it is written."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medspa-graph")
    except PackageNotFoundError:  # a source tree on sys.path, never installed
        return "0+unknown"


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

from .errors import (  # noqa: E402 - after the version helper, which __getattr__ below uses
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
        globals()["__version__"] = value = _package_version()
        return value
    if name in ("load", "KnowledgeBase"):
        from . import kb

        return getattr(kb, name)
    raise AttributeError(name)
