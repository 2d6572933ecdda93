"""SHACL Core, the part ``ontology/shapes/`` uses, checked over indexed triples.

pySHACL took 5-14 s of a build on the curated 10,000 triples, most of it building and discarding
reports inside ``sh:or`` (bench/package.py). This module reads the same shapes and gives the same
results (focus node, message, severity; one per failing value, as pySHACL) in tens of
milliseconds, by indexing the data graph once. It covers node shapes with ``sh:targetClass`` and
property shapes with an IRI ``sh:path``, and the constraints ``sh:minCount``, ``sh:maxCount``,
``sh:class``, ``sh:datatype``, ``sh:nodeKind``, ``sh:in``, ``sh:pattern`` (``sh:flags``),
``sh:or``, ``sh:and``, ``sh:not`` and ``sh:node``, with ``sh:message`` and ``sh:severity``. A shape
using anything else raises :class:`Unsupported`, and :func:`medspa_graph.knowledge.validation.run_shapes`
hands the whole validation to pySHACL instead, so a new shape is never silently skipped.
``tests/test_validation.py`` compares both engines on the curated data and every invalid example.
"""

from __future__ import annotations

__all__ = ["validate", "Unsupported", "compile_shapes"]

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal


class Unsupported(Exception):
    """A shape uses a SHACL feature this module does not evaluate."""


def _ns():
    from rdflib import RDF, RDFS, XSD, Namespace

    return RDF, RDFS, XSD, Namespace("http://www.w3.org/ns/shacl#")


# what a shape may say besides constraints: documentation and the shape's own type
_IGNORED = {"name", "description", "order", "group"}
_NODE_KINDS = {
    "IRI": ("iri",), "BlankNode": ("bnode",), "Literal": ("literal",),
    "BlankNodeOrIRI": ("bnode", "iri"), "BlankNodeOrLiteral": ("bnode", "literal"),
    "IRIOrLiteral": ("iri", "literal"),
}


@dataclass
class Shape:
    """One compiled shape: its value-node checks, property shapes, cardinality and report text."""

    node: object
    path: object = None
    targets: list = field(default_factory=list)
    min_count: int | None = None
    max_count: int | None = None
    checks: list = field(default_factory=list)  # callables (value, data) -> bool (conforms)
    properties: list = field(default_factory=list)
    message: str | None = None
    severity: str = "Violation"

    def results(self, focus, data) -> list[tuple]:
        """``(focus, message, severity)`` for each failure of ``focus`` against this shape."""
        out = []
        report = (focus, self.message, self.severity)
        if self.path is not None:
            values = data.values(focus, self.path)
            if self.min_count is not None and len(values) < self.min_count:
                out.append(report)
            if self.max_count is not None and len(values) > self.max_count:
                out.append(report)
        else:
            values = [focus]
        for v in values:
            for conforms in self.checks:
                if not conforms(v, data):
                    out.append(report)
        if self.path is None:
            for p in self.properties:
                out.extend(p.results(focus, data))
        return out

    def conforms(self, node, data) -> bool:
        return not self.results(node, data)


class _Data:
    """The data graph indexed once: values by (predicate, subject), and SHACL class instances."""

    def __init__(self, graph):
        RDF, RDFS, _XSD, _SH = _ns()
        self.by_pred: dict = {}
        for s, p, o in graph:
            self.by_pred.setdefault(p, {}).setdefault(s, []).append(o)
        self._types = self.by_pred.get(RDF.type, {})
        self._supers: dict = {}
        self._sub = self.by_pred.get(RDFS.subClassOf, {})
        self._instances: dict = {}

    def values(self, node, path) -> list:
        return list(dict.fromkeys(self.by_pred.get(path, {}).get(node, ())))

    def _up(self, cls) -> set:
        if cls not in self._supers:
            seen, todo = {cls}, [cls]
            while todo:
                for sup in self._sub.get(todo.pop(), ()):
                    if sup not in seen:
                        seen.add(sup)
                        todo.append(sup)
            self._supers[cls] = seen
        return self._supers[cls]

    def is_instance(self, node, cls) -> bool:
        return any(cls in self._up(t) for t in self._types.get(node, ()))

    def instances(self, cls) -> list:
        if cls not in self._instances:
            self._instances[cls] = [s for s in self._types if self.is_instance(s, cls)]
        return self._instances[cls]


def _literal_value_ok(v, dt, XSD) -> bool:
    """pySHACL's check that a literal's value is of its datatype (types it knows; others pass)."""
    value = v.value
    expected = {XSD.string: (str, bytes), XSD.integer: int, XSD.float: float, XSD.decimal: Decimal,
                XSD.boolean: bool, XSD.date: date, XSD.time: time, XSD.dateTime: datetime}.get(dt)
    return expected is None or isinstance(value, expected)


def compile_shapes(sg) -> list[Shape]:
    """The node shapes of shapes graph ``sg`` that have targets, compiled.

    Raises
    ------
    Unsupported
        A shape uses a feature outside the subset this module evaluates.
    """
    from rdflib import BNode, Literal, URIRef
    from rdflib.collection import Collection

    RDF, RDFS, XSD, SH = _ns()
    compiled: dict = {}

    def shape(node) -> Shape:
        if node in compiled:
            return compiled[node]
        s = compiled[node] = Shape(node)
        msgs = list(sg.objects(node, SH.message))
        if len(msgs) > 1:
            raise Unsupported(f"{node}: more than one sh:message")
        s.message = str(msgs[0]) if msgs else None
        for p, o in sg.predicate_objects(node):
            if p in (RDF.type, RDFS.label, RDFS.comment, SH.message):
                continue
            if not str(p).startswith(str(SH)):
                continue
            name = str(p)[len(str(SH)):]
            if name in _IGNORED:
                continue
            if name == "targetClass":
                s.targets.append(o)
            elif name == "path":
                if not isinstance(o, URIRef):
                    raise Unsupported(f"{node}: a sh:path that is not one IRI")
                s.path = o
            elif name == "severity":
                s.severity = str(o).rsplit("#", 1)[-1]
            elif name == "minCount":
                s.min_count = int(o)
            elif name == "maxCount":
                s.max_count = int(o)
            elif name == "property":
                s.properties.append(shape(o))
            elif name == "class":
                s.checks.append(lambda v, data, c=o: data.is_instance(v, c))
            elif name == "nodeKind":
                kinds = _NODE_KINDS[str(o)[len(str(SH)):]]
                s.checks.append(lambda v, data, k=kinds: (
                    "iri" if isinstance(v, URIRef) else "bnode" if isinstance(v, BNode) else "literal") in k)
            elif name == "in":
                allowed = list(Collection(sg, o))
                s.checks.append(lambda v, data, a=allowed: v in a)
            elif name == "datatype":
                def datatype(v, data, d=o):
                    if not isinstance(v, Literal):
                        return False
                    if v.datatype == d:
                        return getattr(v, "ill_typed", None) is not True and _literal_value_ok(v, d, XSD)
                    if d == RDFS.Literal or (d == RDFS.Datatype and v.datatype):
                        return True
                    if v.datatype is None and v.language is None and d == XSD.string:
                        return isinstance(v.value, (str, bytes))
                    return d == RDF.langString and bool(v.language)
                s.checks.append(datatype)
            elif name == "pattern":
                flags = sg.value(node, SH.flags)
                f = 0
                for ch in str(flags or ""):
                    f |= {"i": re.I, "m": re.M, "s": re.S, "x": re.X}.get(ch, 0)
                rx = re.compile(str(o), f)
                s.checks.append(lambda v, data, r=rx: not isinstance(v, BNode) and r.search(str(v)) is not None)
            elif name == "flags":
                continue
            elif name == "or":
                members = [shape(m) for m in Collection(sg, o)]
                s.checks.append(lambda v, data, ms=members: any(m.conforms(v, data) for m in ms))
            elif name == "and":
                members = [shape(m) for m in Collection(sg, o)]
                s.checks.append(lambda v, data, ms=members: all(m.conforms(v, data) for m in ms))
            elif name == "not":
                inner = shape(o)
                s.checks.append(lambda v, data, m=inner: not m.conforms(v, data))
            elif name == "node":
                inner = shape(o)
                s.checks.append(lambda v, data, m=inner: m.conforms(v, data))
            else:
                raise Unsupported(f"{node}: sh:{name}")
        return s

    roots = sorted({n for n in sg.subjects(SH.targetClass, None)}, key=str)
    for extra in ("targetNode", "targetSubjectsOf", "targetObjectsOf", "target"):
        if any(True for _ in sg.subjects(SH[extra], None)):
            raise Unsupported(f"sh:{extra}")
    if any(True for _ in sg.subjects(SH.deactivated, None)):
        raise Unsupported("sh:deactivated")
    shapes = [shape(n) for n in roots]
    for s in [*shapes, *(p for r in shapes for p in r.properties)]:  # what is reported needs words
        if s.message is None and (s.checks or s.min_count is not None or s.max_count is not None):
            raise Unsupported(f"{s.node}: a constraint without sh:message")
    return shapes


def validate(data_graph, shapes_graph) -> list[tuple]:
    """Every ``(focus node, message, severity)`` of ``data_graph`` against ``shapes_graph``.

    Raises
    ------
    Unsupported
        The shapes use a feature outside this module's subset (use pySHACL).
    """
    shapes = compile_shapes(shapes_graph)
    data = _Data(data_graph)
    out = []
    for s in shapes:
        focus_nodes = dict.fromkeys(f for cls in s.targets for f in data.instances(cls))
        for focus in focus_nodes:
            out.extend(s.results(focus, data))
    return out
