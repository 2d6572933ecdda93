"""The catalogue: every index derived from one loaded graph, built once and kept.

A :class:`Catalog` answers what the questions, pictures, audit and synthetic data read over and
over (the class hierarchy, the rules of a jurisdiction, sources, referral rules, concept codes,
term details) from one SPARQL query each, then from memory. It is the only object that reads the
store for them: :class:`~medspa_graph.kb.KnowledgeBase` is a front over a store, a catalogue and
the DataFrame methods, and every other module uses the methods below.

The class hierarchy is a networkx ``DiGraph`` with an edge from each class to each of its
superclasses (``rdfs:subClassOf`` as the reasoner closed it): ancestors are
``networkx.descendants`` and the direct superclasses its ``transitive_reduction``.
"""

from __future__ import annotations

__all__ = ["Catalog"]


class Catalog:
    """The derived indexes of one knowledge base's graph.

    Parameters
    ----------
    store : medspa_graph.sparql.store.Store
        Where the graph is; read through the package's named queries only.

    Examples
    --------
    >>> from medspa_graph import load
    >>> cat = load().catalog
    >>> ms = "https://w3id.org/medspa-graph/ontology#"
    >>> ms + "Procedure" in cat.ancestors(ms + "NeurotoxinInjection")
    True
    >>> sorted(cat.parents(ms + "NeurotoxinInjection")) == [ms + "InjectableProcedure"]
    True
    """

    def __init__(self, store):
        self.store = store
        self._memo: dict = {}

    def memo(self, key, make):
        """``make()``, computed once per ``key`` and kept for this catalogue's life.

        For views other modules derive from the graph (a picture's term details): the same
        lifetime as the catalogue's own indexes, so they never outlive the data they came from.
        """
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]

    def named(self, name: str, **bindings) -> list[dict]:
        """The rows of the package's named query ``name`` with ``bindings`` (not cached)."""
        from medspa_graph.sparql.queries import named_query

        return self.store.select(named_query(name).sparql, bindings or None)

    # -- terms ----------------------------------------------------------------

    def concepts(self) -> dict:
        """Concept IRI -> its row (``code``, ``label``, ...) from the ``concepts`` query."""
        return self.memo("concepts", lambda: {str(r["concept"]): r for r in self.named("concepts")})

    def code(self, iri) -> str:
        """A concept's code (``skos:notation``: ``permitted``, ``onsite/direct``); the IRI otherwise."""
        c = self.concepts().get(str(iri))
        return str(c["code"]) if c else str(iri)

    def term_details(self) -> dict:
        """Term IRI -> its row of the ``term-details`` query (definition, synonyms, codes)."""
        return self.memo("term-details", lambda: {str(r["term"]): r for r in self.named("term-details")})

    # -- the class hierarchy ----------------------------------------------------

    def hierarchy(self):
        """The class hierarchy as a networkx ``DiGraph``: an edge from each class to each superclass."""
        def make():
            import networkx as nx

            g = nx.DiGraph()
            for r in self.named("class-hierarchy"):
                if str(r["class"]) != str(r["super"]):
                    g.add_edge(str(r["class"]), str(r["super"]))
            return g

        return self.memo("hierarchy", make)

    def ancestors(self, term) -> frozenset:
        """``term`` and all its superclasses."""
        import networkx as nx

        found = self.memo("ancestors", dict)
        term = str(term)
        if term not in found:
            g = self.hierarchy()
            found[term] = frozenset({term} | (nx.descendants(g, term) if term in g else set()))
        return found[term]

    def parents(self, term) -> frozenset:
        """``term``'s direct superclasses (the hierarchy's transitive reduction)."""
        return frozenset(self.direct_parents().get(str(term), ()))

    def direct_parents(self) -> dict:
        """Each class with superclasses -> its direct superclasses (the transitive reduction)."""
        def make():
            import networkx as nx

            g = self.hierarchy()
            if not nx.is_directed_acyclic_graph(g):  # equivalent classes: keep every edge
                reduced = g
            else:
                reduced = nx.transitive_reduction(g)
            return {c: set(reduced.successors(c)) for c in g if g.out_degree(c)}

        return self.memo("direct-parents", make)

    # -- rules, sources, referrals ----------------------------------------------

    def rules(self, jurisdiction) -> list:
        """The :class:`~medspa_graph.questions.rules.Rule` list of a jurisdiction and of the US baseline."""
        from medspa_graph.questions.rules import Rule
        from medspa_graph.sparql.text import IRI

        def make():
            out = []
            for r in self.named("scope-rules", jurisdiction=IRI(str(jurisdiction))):
                out.append(Rule(
                    iri=str(r["rule"]), role=str(r["role"]), procedure=str(r["procedure"]),
                    jurisdiction=str(r["ruleJurisdiction"]),
                    permission=self.code(r["permission"]), supervision=self.code(r["supervision"]),
                    supervisors=tuple(sorted(str(r.get("supervisors", "")).split())),
                    examiners=tuple(sorted(str(r.get("examiners", "")).split())),
                    sources=tuple(sorted(str(r.get("sources", "")).split())),
                    conditions=r.get("conditions"), effective_date=r.get("effective") and str(r["effective"]),
                    invalidated=r.get("invalidated") and str(r["invalidated"]),
                    requires_order=r.get("requiresOrder"),
                    baseline=str(r["ruleJurisdiction"]) != str(jurisdiction),
                    max_depth=r.get("maxSkinDepth") and str(r["maxSkinDepth"]),
                    devices=tuple(sorted(str(r.get("devices", "")).split())),
                    certificates=tuple(sorted(c for c in str(r.get("certificates", "")).split("|") if c)),
                    training_hours=None if r.get("minTrainingHours") is None else int(r["minTrainingHours"]),
                ))
            return out

        return self.memo(("rules", str(jurisdiction)), make)

    def searches(self, jurisdiction) -> list[dict]:
        """The search records of a jurisdiction: where its law was searched and found silent."""
        from medspa_graph.sparql.text import IRI

        def make():
            return [{"record": str(r["record"]), "role": str(r["role"]), "procedure": str(r["procedure"]),
                     "searched": str(r["searched"]), "date": str(r["date"]),
                     "sources": sorted(str(r["sources"]).split())}
                    for r in self.named("search-records", jurisdiction=IRI(str(jurisdiction)))]

        return self.memo(("searches", str(jurisdiction)), make)

    def sources(self) -> dict:
        """Source IRI -> ``{"id", "url", "date", "retrieved", "confidence", "title"}``."""
        def make():
            return {str(r["source"]): {"id": str(r["source"]), "url": str(r["url"]), "date": str(r["date"]),
                                       "retrieved": r.get("retrieved") and str(r["retrieved"]),
                                       "confidence": str(r["confidence"]), "title": r.get("title")}
                    for r in self.named("sources")}

        return self.memo("sources", make)

    def source(self, iri) -> dict:
        """One source (see :meth:`sources`); every field ``None`` but ``id`` for an unknown one."""
        return self.sources().get(str(iri), {"id": str(iri), "url": None, "date": None, "retrieved": None,
                                             "confidence": None, "title": None})

    def referral_rules(self) -> list[dict]:
        """Every referral rule: ``rule``, ``fromRole``, ``toRole``, ``jurisdiction``, ``conditions``, ``sources``."""
        def make():
            return [{"rule": str(r["rule"]), "fromRole": str(r["fromRole"]), "toRole": str(r["toRole"]),
                     "jurisdiction": r.get("jurisdiction") and str(r["jurisdiction"]),
                     "conditions": sorted(str(r["conditions"]).split()),
                     "sources": sorted(str(r["sources"]).split())}
                    for r in self.named("referral-rules")]

        return self.memo("referrals", make)

    # -- what the resolution policy reads ------------------------------------------

    def resolution_facts(self) -> dict:
        """Depths, depth order, products used and practice authorities, by kind and subject."""
        def make():
            facts: dict = {}
            for r in self.named("resolution-facts"):
                facts.setdefault(str(r["kind"]), {}).setdefault(str(r["subject"]), set()).add(str(r["object"]))
            return facts

        return self.memo("resolution-facts", make)

    def resolution_context(self, jurisdiction, date: str | None = None, *, label=None):
        """The :class:`~medspa_graph.questions.rules.Context` the resolution policy reads for ``jurisdiction``.

        ``label(iri)`` names the practice authority (default: its code).
        """
        from medspa_graph.questions.rules import Authority, Context

        def make():
            facts = self.resolution_facts()
            deeper = facts.get("deeper", {})
            rank: dict = {}

            def depth_rank(c, seen=()):
                if c not in rank:
                    ups = [u for u in deeper.get(c, ()) if u not in seen]
                    rank[c] = 1 + max((depth_rank(u, (*seen, c)) for u in ups), default=-1)
                return rank[c]

            for c in {*deeper, *(u for ups in deeper.values() for u in ups)}:
                depth_rank(c)
            depth = {p: max(depth_rank(d) for d in ds) for p, ds in facts.get("depth", {}).items()}
            uses = {p: frozenset(ps) for p, ps in facts.get("uses", {}).items()}
            authority = None
            for a in sorted(facts.get("authority", {}).get(str(jurisdiction), ())):
                roles = sorted(facts.get("authority-role", {}).get(a, ()))
                if roles:
                    sup = sorted(facts.get("authority-supervision", {}).get(a, ()))
                    authority = Authority(iri=a, label=(label or self.code)(a), role=roles[0],
                                          supervision=self.code(sup[0]) if sup else None,
                                          supervisors=tuple(sorted(facts.get("authority-supervisor", {}).get(a, ()))))
            licences = frozenset(facts.get("licence", {}))
            return depth, dict(rank), uses, authority, licences

        depth, rank, uses, authority, licences = self.memo(("context", str(jurisdiction)), make)
        return Context(self.ancestors, depth=depth, depth_rank=rank, uses=uses, authority=authority, date=date,
                       licences=licences)
