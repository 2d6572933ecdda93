"""Every serialisation the package reads or writes, in one registry.

A :class:`Format` says what the command line calls it (``--format nt``), its media type (what
the server negotiates and the stores are asked for), the media types clients send for it, the
file suffixes it goes by, and its names in rdflib and pyoxigraph. The CLI's query output, the
server's content negotiation, the stores' requests, ``build``'s files, the audit's RDF output and
the file reader all look formats up here; adding a format is adding a row.

The answers of the questions (``who-can`` ...) have their own three forms, ``table``, ``json``
(the answer record) and ``csv`` (:data:`ANSWER_FORMATS`, printed by :mod:`medspa_graph.cli.output`).

>>> media_type("nt")
'application/n-triples'
>>> by_media_type("application/json").name
'json'
>>> by_suffix(".jsonld").rdflib
'json-ld'
>>> names("graph")
['ttl', 'nt', 'jsonld', 'rdfxml']
"""

from __future__ import annotations

__all__ = ["Format", "FORMATS", "ANSWER_FORMATS", "by_name", "by_media_type", "by_suffix", "media_type",
           "media_types", "names"]

from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    """One serialisation.

    ``kind`` is ``"results"`` (SPARQL SELECT/ASK results) or ``"graph"`` (RDF). ``written``
    is false for a format only read (N3). ``oxigraph`` names the ``pyoxigraph.RdfFormat``
    member, where pyoxigraph reads and writes it.
    """

    name: str
    media_type: str
    kind: str
    suffixes: tuple = ()
    aliases: tuple = ()
    rdflib: str | None = None
    oxigraph: str | None = None
    written: bool = True


#: In order of preference: the server offers them in this order.
FORMATS = (
    Format("json", "application/sparql-results+json", "results", (".srj",), ("application/json",)),
    Format("xml", "application/sparql-results+xml", "results", (".srx",), ("application/xml", "text/xml")),
    Format("csv", "text/csv", "results", (".csv",)),
    Format("tsv", "text/tab-separated-values", "results", (".tsv",)),
    Format("ttl", "text/turtle", "graph", (".ttl",), ("application/x-turtle",), "turtle", "TURTLE"),
    Format("nt", "application/n-triples", "graph", (".nt",), ("text/plain",), "nt", "N_TRIPLES"),
    Format("jsonld", "application/ld+json", "graph", (".jsonld", ".json"), (), "json-ld"),
    Format("rdfxml", "application/rdf+xml", "graph", (".rdf", ".owl"), (), "xml", "RDF_XML"),
    Format("n3", "text/n3", "graph", (".n3",), (), "n3", written=False),
)

#: The forms of a question's answer: a table for people, the answer record as JSON, CSV rows.
ANSWER_FORMATS = ("table", "json", "csv")

_BY_NAME = {f.name: f for f in FORMATS}
_BY_MEDIA = {m: f for f in FORMATS for m in (f.media_type, *f.aliases)}


def by_name(name: str) -> Format:
    """The format the command line calls ``name``; ``KeyError`` for an unknown one."""
    return _BY_NAME[name]


def media_type(name: str) -> str:
    """The media type of the format called ``name``."""
    return _BY_NAME[name].media_type


def by_media_type(media: str) -> Format | None:
    """The format a media type (or an alias clients send, such as ``application/json``) means."""
    return _BY_MEDIA.get(media.strip().lower())


def by_suffix(suffix: str, kind: str = "graph") -> Format | None:
    """The ``kind`` format a file suffix (``.ttl``) means, or ``None``."""
    suffix = suffix.lower()
    return next((f for f in FORMATS if f.kind == kind and suffix in f.suffixes), None)


def names(kind: str, *, written: bool = True) -> list[str]:
    """The names of the ``kind`` formats (only those written, by default), in preference order."""
    return [f.name for f in FORMATS if f.kind == kind and (f.written or not written)]


def media_types(kind: str) -> list[str]:
    """The media types of the written ``kind`` formats, in preference order."""
    return [f.media_type for f in FORMATS if f.kind == kind and f.written]
