"""The knowledge base: one loaded graph behind a store, and the questions asked of it."""

from __future__ import annotations

__all__ = ["KnowledgeBase", "load"]

import os
from pathlib import Path

from medspa_graph.knowledge.catalog import Catalog
from medspa_graph.knowledge.loading import build_graph, fingerprint
from medspa_graph.sparql.store import KB_GRAPH, EndpointStore, OxigraphStore, Store
from medspa_graph.utils.files import atomic_write
from medspa_graph.utils.paths import curated_files

_KEY_FILE = "medspa-graph.key"


def built_ntriples(extra=(), *, reason=True, validate=True, cache=True) -> tuple[Path | bytes, str]:
    """The validated, reasoned graph as N-Triples: a cached file's path, or bytes.

    The cache key hashes the package version, the options and every input file's content,
    so any change to the ontology, the data or ``extra`` files rebuilds it. Without a cache
    entry the graph comes from the one the wheel ships (when it was built from these very
    files), else it is built (parse, validate, reason), saying so on a terminal.
    Each cached graph is written with its SHA-256 and length beside it
    (``<entry>.nt.sha256``) and checked against them before use: a cached graph that was cut
    short, altered, replaced by something that is not a file, or has no checksum, is rebuilt,
    never answered from (:func:`medspa_graph.knowledge.cache.cached_graph`).
    """
    from medspa_graph.knowledge.cache import cached_graph, graph_key, shipped_graph, store_graph
    from medspa_graph.version import package_version

    files = [*curated_files(), *map(Path, extra)]
    key = graph_key(files, package_version(), reason=reason, validate=validate)
    if cache:
        hit = cached_graph(package_version(), key)
        if hit is not None:
            return hit, key
    data = shipped_graph(key)
    if data is None:
        from medspa_graph.utils.status import status

        with status("building the knowledge graph (parse, validate, reason); later runs reuse it"):
            result = build_graph(extra, validate=validate, reason=reason)
            data = result.graph.serialize(format="nt", encoding="utf-8")
    if cache:
        try:
            return store_graph(package_version(), key, data), key
        except OSError:
            pass  # an unwritable cache only costs speed
    return data, key


def load(*extra, reason: bool = True, validate: bool = True, cache: bool = True,
         store: str | os.PathLike | None = None, endpoint: str | None = None,
         graph: str | None = KB_GRAPH, engine: str = "auto", timeout: float = 60.0) -> KnowledgeBase:
    """Load the knowledge base: parse, validate and reason once, then answer from a store.

    Parameters
    ----------
    *extra : path
        Extra Turtle, N-Triples or JSON-LD files added to the curated data.
    reason : bool
        Materialise OWL 2 RL inferences (a Dermatologist is a Physician).
    validate : bool
        Check SHACL shapes and integrity; invalid data raises.
    cache : bool
        Reuse the built graph from the cache folder when no input changed.
    store : path, optional
        An Oxigraph database folder to hold the graph (default: in memory).
    endpoint : str, optional
        Answer from a remote SPARQL 1.1 endpoint that already holds the graph
        (see ``medspa-graph push``); nothing is loaded locally.
    graph : str, optional
        With ``endpoint``: the named graph holding the knowledge base (default:
        the graph ``push`` writes); ``None`` reads the endpoint's default graph.
    engine : str
        With ``endpoint``: the server's engine (``oxigraph``, ``virtuoso``, ``fuseki``,
        ``sparql`` for plain SPARQL 1.1); ``"auto"`` asks the server on first use.
    timeout : float
        With ``endpoint``: seconds each request may take, the whole answer included.

    Returns
    -------
    KnowledgeBase

    Raises
    ------
    UnreadableInputError, InvalidDataError, EndpointError

    Examples
    --------
    >>> kb = load()
    >>> kb.count() > 1000
    True
    """
    if endpoint:
        return KnowledgeBase(EndpointStore(endpoint, graph=graph, engine=engine, timeout=timeout))
    source, key = built_ntriples(extra, reason=reason, validate=validate, cache=cache)
    digest = fingerprint([*curated_files(), *map(Path, extra)])
    if store is not None:
        ox = OxigraphStore(store)
        marker = Path(store) / _KEY_FILE
        current = marker.read_text().strip() if marker.is_file() else None
        if current != key:
            ox.load_ntriples(source)
            ox.store.flush()
            atomic_write(marker, key.encode())
    else:
        ox = OxigraphStore()
        ox.load_ntriples(source)
    return KnowledgeBase(ox, data_hash=digest)


class KnowledgeBase:
    """A loaded knowledge graph and the questions analysts ask of it.

    Build one with :func:`medspa_graph.load`. Every answer comes from SPARQL on
    :attr:`store`; table answers are pandas DataFrames.
    """

    def __init__(self, store: Store, *, data_hash: str | None = None):
        self.store = store
        #: hash of the ontology and data files the graph was built from (None for an endpoint)
        self.data_hash = data_hash
        #: the derived indexes (hierarchy, rules, sources, ...): see :class:`~medspa_graph.knowledge.catalog.Catalog`
        self.catalog = Catalog(store)

    def __repr__(self) -> str:
        return f"<KnowledgeBase on {self.store.description}>"

    # -- raw access -----------------------------------------------------------

    def count(self) -> int:
        """Number of triples in the graph."""
        return self.store.count()

    def select(self, sparql: str, **bindings) -> list[dict]:
        """Run a SELECT query with bound variables; rows as dicts.

        The text runs as :meth:`query` runs text: behind the fence, within the default
        time and memory limits (:mod:`medspa_graph.sparql.sandbox`).
        """
        return self.store.select(sparql, bindings or None, untrusted=True)

    @property
    def graph(self):
        """The knowledge base as an rdflib ``Graph`` (built on first use, then kept).

        For rdflib, kglab, rdflib-endpoint and every tool that takes a Graph; the
        questions themselves never need it.

        >>> kb = load()
        >>> len(kb.graph) == kb.count()
        True
        """
        def make():
            import rdflib

            result = self.store.run("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
            return rdflib.Graph().parse(data=result.ntriples.decode("utf-8"), format="nt")

        return self.catalog.memo(("rdflib-graph",), make)

    def map(self, role: str, procedure: str, *, as_of: str | None = None):
        """A map of the 50 states and DC coloured by who may ``role`` perform ``procedure`` there.

        Each colour is the answer :meth:`who_can` gives in that state; see :mod:`medspa_graph.viz.usmap`.
        Shown inline in Jupyter; ``.write("map.html")`` or ``.write("map.svg")`` for a file;
        ``.colours`` maps each state code to its category.

        >>> m = load().map("registered nurse", "botox")
        >>> len(m.colours), m.colours["US-FL"] != "not-in-graph"
        (51, True)
        """
        from medspa_graph.viz.usmap import us_map

        return us_map(self, role, procedure, as_of=_as_of(as_of))

    def supervision_graph(self, procedure: str, jurisdiction: str = "US"):
        """Who supervises whom for ``procedure`` in ``jurisdiction``, by the names people type.

        A networkx ``DiGraph`` (see :func:`medspa_graph.questions.projections.supervision_graph`).

        >>> g = load().supervision_graph("botox", "US-TX")
        >>> g.graph["jurisdiction"].endswith("US-TX") and g.number_of_nodes() > 0
        True
        """
        from medspa_graph.questions.projections import supervision_graph

        return supervision_graph(self, self.resolve(procedure, "procedure"), self.jurisdiction(jurisdiction))

    def referral_graph(self, condition: str | None = None):
        """Who refers to whom (only for ``condition``, a name, if given): a networkx ``MultiDiGraph``.

        >>> load().referral_graph(condition="melasma").number_of_edges() > 0
        True
        """
        from medspa_graph.questions.projections import referral_graph

        return referral_graph(self, self.resolve(condition, "condition") if condition else None)

    def version(self) -> dict:
        """What this knowledge base is, so that an answer can be cited.

        Returns
        -------
        dict
            ``package`` (medspa-graph's version), ``scope_rules``, ``referral_rules``, ``sources``
            (counts in the graph), ``newest_source`` (the latest dated source, ``YYYY-MM-DD`` or
            ``YYYY-MM``; undated sources are skipped) and ``data_hash`` (a hash of the ontology and
            data files the graph was built from; ``None`` for a remote endpoint). The same as
            ``medspa-graph --version``.

        Examples
        --------
        >>> v = load().version()
        >>> v["scope_rules"] > 100 and v["sources"] > 10 and len(v["data_hash"]) == 32
        True
        """
        from medspa_graph.version import package_version

        counts = {r["kind"]: int(r["count"]) for r in self.catalog.named("summary")}
        dates = sorted(s["date"] for s in self.catalog.sources().values() if (s["date"] or "")[:4].isdigit())
        return {"package": package_version(), "scope_rules": counts.get("scope rules", 0),
                "referral_rules": counts.get("referral rules", 0), "sources": counts.get("sources", 0),
                "newest_source": dates[-1] if dates else None, "data_hash": self.data_hash}

    # -- terms and the catalogue ----------------------------------------------------

    @property
    def names(self):
        """The :class:`~medspa_graph.knowledge.names.NameIndex` of every term's names."""
        from medspa_graph.knowledge.names import NameIndex

        return self.catalog.memo("names", lambda: NameIndex(self.catalog.named("terms")))

    def label(self, iri) -> str:
        """The English label of a term, concept or rule."""
        iri = str(iri)
        label = self.names.labels.get(iri)
        if label is None:
            concept = self.catalog.concepts().get(iri)
            label = concept["label"] if concept else None
        return label or self.names.label(iri)

    def resolve(self, name: str, kind: str):
        """The IRI of the ``kind`` term a person named (label, synonym, code, local name or IRI).

        A role name that is a marketing title, not a licence, raises
        :class:`~medspa_graph.errors.NotALicenceError` saying so.

        >>> kb = load()
        >>> kb.label(kb.resolve("aesthetician", "role"))
        'esthetician'
        >>> kb.resolve("medical aesthetician", "role")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        medspa_graph.errors.NotALicenceError: 'medical aesthetician' is a marketing title, not a licence: ...
        """
        from medspa_graph.errors import NotALicenceError, UnknownTermError

        try:
            return self.names.resolve(name, kind)
        except UnknownTermError as unknown:
            if kind != "role":
                raise
            try:
                title = str(self.names.resolve(name, "title"))
            except UnknownTermError:
                raise unknown from None
            details = self.catalog.term_details().get(title, {})
            what = str(details.get("definition") or "a marketing title, not a licence")
            raise NotALicenceError(name, what) from None

    def jurisdiction(self, code: str):
        """The IRI of a jurisdiction given its ISO 3166-2 code (``US-TX``) or name."""
        return self.names.resolve(code, "jurisdiction")

    def resolution_context(self, jurisdiction, date: str | None = None):
        """The :class:`~medspa_graph.questions.rules.Context` the resolution policy reads for ``jurisdiction``.

        Parameters
        ----------
        jurisdiction : str
            A jurisdiction IRI (see :meth:`jurisdiction`).
        date : str, optional
            The ISO date the question is asked for (default: today).

        Returns
        -------
        medspa_graph.questions.rules.Context

        Examples
        --------
        >>> kb = load()
        >>> ctx = kb.resolution_context(kb.jurisdiction("US-WA"))
        >>> ctx.authority.label, ctx.authority.supervision
        ('full practice', 'independent')
        """
        return self.catalog.resolution_context(jurisdiction, date, label=self.label)

    def resolution(self, role, procedure, jurisdiction, date: str | None = None):
        """Resolve who governs ``role`` performing ``procedure`` in ``jurisdiction`` (IRIs).

        Returns the :class:`~medspa_graph.questions.rules.Resolution` of the policy in
        :mod:`medspa_graph.questions.rules`: the governing answers and every candidate's verdict.
        """
        from medspa_graph.questions.rules import resolve

        ctx = self.resolution_context(jurisdiction, date)
        return resolve(self.catalog.rules(jurisdiction), str(role), str(procedure), ctx)

    def source(self, iri) -> dict:
        """A source as ``{"id", "url", "date", "retrieved", "confidence", "title"}``.

        ``date`` is the date the page shows, or ``"n.d."``; ``retrieved`` the day an undated page
        was read (``None`` where not recorded).
        """
        return self.catalog.source(iri)

    def jurisdictions(self) -> list[str]:
        """The known jurisdiction codes, baseline (``US``) first."""
        return sorted((self.names.code(j) for j in self.names.terms("jurisdiction")), key=lambda c: (c != "US", c))

    # -- questions ------------------------------------------------------------

    def who_can(self, procedure: str, jurisdiction: str = "US", *, as_of: str | None = None):
        """Who may perform ``procedure`` in ``jurisdiction``, with supervision and sources.

        Parameters
        ----------
        procedure : str
            A procedure name, synonym or IRI ("botox", "laser hair removal").
        jurisdiction : str
            An ISO 3166-2 code ("US-CA"); "US" for the general baseline alone.
        as_of : str, optional
            The day asked about (ISO date, default today): rules not yet in force do not apply.

        Returns
        -------
        pandas.DataFrame
            One row per role and governing rule: ``role``, ``procedure``, ``permission``,
            ``supervision``, ``supervisors``, ``prior_exam_by``, ``conditions``,
            ``requirements``, ``limits``, ``effective_date``, ``basis`` (``"jurisdiction"`` or
            ``"baseline"``), ``practice_authority``, ``conflict``, ``rule``, ``sources``,
            ``confidence``. A category is answered for its parts (see :func:`medspa_graph.questions.answers.parts`).

        Raises
        ------
        UnknownTermError, UnknownJurisdictionError

        Examples
        --------
        >>> kb = load()
        >>> df = kb.who_can("botox", jurisdiction="US-FL")
        >>> df.loc[df.role == "registered nurse", "supervision"].iloc[0]
        'onsite/direct'
        """
        from medspa_graph.questions.answers import who_can

        ans = who_can(self, procedure, jurisdiction, _as_of(as_of))
        return _frame(ans["practitioners"], ans["searched"])

    def scope(self, role: str, jurisdiction: str = "US", *, as_of: str | None = None):
        """What ``role`` may and may not do in ``jurisdiction`` (its scope), one row per rule.

        Examples
        --------
        >>> kb = load()
        >>> df = kb.scope("esthetician", jurisdiction="US-CA")
        >>> df.loc[df.procedure == "energy-based procedure", "permission"].iloc[0]
        'not-permitted'
        """
        from medspa_graph.questions.answers import scope

        ans = scope(self, role, jurisdiction, _as_of(as_of))
        return _frame(ans["procedures"], ans["searched"])

    def compare(self, term: str, jurisdictions):
        """A procedure's (or a role's) rules side by side across ``jurisdictions``.

        Returns
        -------
        pandas.DataFrame
            One row per role (or procedure), one column per jurisdiction, each
            cell ``"permission (supervision)"``; ``differs`` says whether they differ.

        Examples
        --------
        >>> kb = load()
        >>> t = kb.compare("botox", ["US-CA", "US-FL"])
        >>> list(t.columns[:2])
        ['US-CA', 'US-FL']
        """
        import pandas as pd

        from medspa_graph.questions.answers import compare

        ans = compare(self, term, jurisdictions)
        axis = "role" if ans["kind"] == "procedure" else "procedure"
        data = {}
        for row in ans["rows"]:
            cells = {c: "; ".join(f"{x['permission']} ({x['supervision']})" + (" [baseline]" if x["basis"] == "baseline" else "")
                                  + (" [conflict]" if x["conflict"] else "") for x in cell) or None
                     for c, cell in row["cells"].items()}
            cells["differs"] = row["differs"]
            data[row[axis]["label"]] = cells
        df = pd.DataFrame.from_dict(data, orient="index", columns=[*ans["jurisdictions"], "differs"])
        df.index.name = axis
        return df

    def supervision_chains(self, role: str, procedure: str, jurisdiction: str = "US", *, frame: bool = False):
        """Supervision chains from ``role`` up to an independent practitioner, shortest first.

        Each chain is a list of steps ``{"id", "label"}`` from the performer up. With
        ``frame=True``, a DataFrame with one row per hop instead: ``chain``, ``hop``,
        ``performer``, ``supervisor``, ``supervision``, ``rule``.

        Raises
        ------
        MedspaGraphError
            When there is no chain: the role is not permitted, no rule covers it,
            the supervision relation has a cycle, or no route reaches an
            independent practitioner. The message says which.

        Examples
        --------
        >>> kb = load()
        >>> [s["label"] for s in kb.supervision_chains("RN", "botox", "US-FL")[0]]
        ['registered nurse', 'physician']
        """
        from medspa_graph.errors import NoChainError
        from medspa_graph.questions.answers import supervision_chains

        ans = supervision_chains(self, role, procedure, jurisdiction)
        if ans["status"] != "ok":
            raise NoChainError(ans["status"], ans["problem"])
        if frame:
            import pandas as pd

            rows = [{"chain": i, "hop": k, "performer": h["from"]["label"], "supervisor": h["to"]["label"],
                     "supervision": h.get("supervision"), "rule": h.get("rule")}
                    for i, hops in enumerate(ans["steps"]) for k, h in enumerate(hops)]
            return pd.DataFrame(rows, columns=["chain", "hop", "performer", "supervisor", "supervision", "rule"])
        return ans["chains"]

    def referral_paths(self, from_role: str, to_role: str | None = None, condition: str | None = None, *,
                       frame: bool = False):
        """Referral paths from ``from_role`` (to ``to_role``, for ``condition``), shortest first.

        With ``frame=True``, a DataFrame with one row per hop: ``path``, ``hop``, ``from``, ``to``,
        ``conditions`` (those the hop serves), ``inferred``, ``inherited``, ``rules``.

        Examples
        --------
        >>> kb = load()
        >>> path = kb.referral_paths("esthetician", "dermatologist")[0]
        >>> [s["label"] for s in path]
        ['esthetician', 'dermatologist']
        """
        from medspa_graph.questions.answers import referral_paths

        ans = referral_paths(self, from_role, to_role, condition)
        if frame:
            import pandas as pd

            rows = [{"path": i, "hop": k, "from": h["from"]["label"], "to": h["to"]["label"],
                     "conditions": ", ".join(sorted({c["label"] for r in h["rules"] for c in r["conditions"]})),
                     "inferred": h["inferred"], "inherited": h["inherited"],
                     "rules": " ".join(r["rule"] for r in h["rules"])}
                    for i, hops in enumerate(ans["hops"]) for k, h in enumerate(hops)]
            return pd.DataFrame(rows, columns=["path", "hop", "from", "to", "conditions", "inferred", "inherited",
                                               "rules"])
        return ans["paths"]

    def contest(self, role: str, procedure: str, jurisdiction: str = "US", date: str | None = None):
        """Every candidate rule for one question and why it governs, lost or was excluded.

        Parameters
        ----------
        role, procedure : str
            Names people type ("NP", "botox") or IRIs.
        jurisdiction : str
            An ISO 3166-2 code.
        date : str, optional
            The ISO date asked for (default: today).

        Returns
        -------
        pandas.DataFrame
            One row per candidate, winners first: the answer columns of :meth:`who_can`
            plus ``outcome`` (governs, conflict, lost, excluded), ``reason``, ``why`` and
            ``beaten_by``.

        Examples
        --------
        >>> kb = load()
        >>> c = kb.contest("NP", "botox", "US-CO")
        >>> c.iloc[0][["outcome", "supervision", "practice_authority"]].tolist()
        ['governs', 'independent', 'full practice']
        """
        from medspa_graph.questions.answers import contest

        ans = contest(self, role, procedure, jurisdiction, date)
        df = _frame(ans["candidates"])
        for k in ("outcome", "reason", "why", "beaten_by"):
            df[k] = [c[k] for c in ans["candidates"]]
        return df

    def explain(self, rules):
        """The rules and sources behind an answer: one row per (rule, source).

        ``rules`` is a rule IRI, a list of them, or a DataFrame with a ``rule`` column.
        """
        import pandas as pd

        if hasattr(rules, "columns"):
            rules = list(rules["rule"])
        elif isinstance(rules, str):
            rules = [rules]
        wanted = [str(r) for r in rules]
        rows = self.catalog.named("explain-rules")
        by_rule = {}
        for r in rows:
            by_rule.setdefault(str(r["rule"]), []).append(r)
        out = []
        for iri in wanted:
            if iri not in by_rule:
                from medspa_graph.errors import UnknownTermError

                raise UnknownTermError(iri, "rule")
            for r in by_rule[iri]:
                src = self.source(r["source"])
                out.append({"rule": iri, "label": r.get("label"), "jurisdiction": self.names.code(r["jurisdiction"]),
                            "role": self.label(r["role"]), "procedure": self.label(r["procedure"]),
                            "permission": self.catalog.code(r["permission"]), "supervision": self.catalog.code(r["supervision"]),
                            "conditions": r.get("conditions"), "url": src["url"], "date": src["date"],
                            "confidence": src["confidence"], "title": src["title"]})
        return pd.DataFrame(out)

    def audit(self, roster, clinics, appointments, *, progress=None):
        """Audit a roster, clinic list and appointment log (CSV paths) against the scope rules.

        Returns an :class:`~medspa_graph.audit.check.AuditResult`: ``findings`` (a DataFrame, one
        row per finding: appointment, check, severity, explanation, rule, sources, and the
        log's extra columns), ``rejected`` (rows that could not be read, with file, line
        and reason) and ``summary``. ``progress(fraction, what)``, if given, is called as
        the work advances (the CLI draws a bar with it).
        """
        from medspa_graph.audit.check import audit

        return audit(self, roster, clinics, appointments, progress=progress)

    def show(self, *, focus=None, jurisdiction=None, chain=None, refer=None, to=None, condition=None,
             max_nodes: int = 2500):
        """An interactive picture (pyvis, offline); shown inline in Jupyter, ``.write(path)`` for a file.

        ``chain=(role, procedure)`` highlights a supervision chain, ``refer=role``
        (with ``to``, ``condition``) a referral path; see :func:`medspa_graph.viz.network.picture`.
        """
        from medspa_graph.viz.network import picture

        return picture(self, focus=focus, jurisdiction=jurisdiction, chain=chain, refer=refer, to=to,
                       condition=condition, max_nodes=max_nodes)

    def query(self, name_or_sparql: str, *, timeout: float | None = None, base_iri: str | None = None, **params):
        """Run a named query, a ``.rq`` file or SPARQL text, with parameters.

        Returns a DataFrame for SELECT (one column per variable, kept when there are
        no rows; IRIs as strings, numbers and booleans as Python values), a ``bool``
        for ASK, and an rdflib ``Graph`` for CONSTRUCT and DESCRIBE. The project's
        prefixes (``ms:``, ``rdfs:``, ``skos:``, ... :data:`medspa_graph.sparql.text.QUERY_PREFIXES`)
        are predeclared, and relative IRIs resolve against
        :data:`medspa_graph.sparql.text.BASE_IRI` (or ``base_iri``, on the embedded store).

        Parameters of kind role, procedure, condition, product and jurisdiction
        accept the names people type; they are bound, never pasted into the text.
        Text that is not one of the named queries (a ``.rq`` file, a string) runs in
        a child process cut off from the network, within ``timeout`` seconds
        (default :data:`medspa_graph.sparql.sandbox.QUERY_TIMEOUT`) and a memory limit; a
        query that passes either, or crashes the engine, raises :class:`QueryError`.

        Examples
        --------
        >>> kb = load()
        >>> int(kb.query("summary").set_index("kind").loc["jurisdictions", "count"]) >= 14
        True
        >>> kb.query("ASK { ?r a ms:ScopeRule }")
        True
        >>> len(kb.query("CONSTRUCT { ?j a ms:Jurisdiction } WHERE { ?j a ms:Jurisdiction }")) >= 14
        True
        """
        import pandas as pd

        from medspa_graph.sparql.queries import as_query, prepare

        q = as_query(name_or_sparql)
        sparql, bindings = prepare(self, q, params)
        result = self.store.run(sparql, bindings or None, untrusted=not q.trusted, timeout=timeout, base_iri=base_iri)
        if result.form == "ASK":
            return result.boolean
        if result.form in ("CONSTRUCT", "DESCRIBE"):
            import rdflib

            return rdflib.Graph().parse(data=result.ntriples.decode("utf-8"), format="nt")
        return pd.DataFrame(result.rows, columns=result.variables)


def _as_of(value) -> str | None:
    """An ``as_of`` argument checked: an ISO date (a ``datetime.date`` or text), or None for today."""
    import datetime

    from medspa_graph.errors import MedspaGraphError

    if value is None:
        return None
    if isinstance(value, datetime.date):
        return value.isoformat()
    try:
        return datetime.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise MedspaGraphError(f"as_of takes a date YYYY-MM-DD, got {str(value)[:40]!r}") from None


def searched_text(s) -> str:
    """A search record in words: ``no state rule found (searched DAY: WHAT); FALLBACK``."""
    return f"no state rule found (searched {s['searched_on']}: {s['searched']}); {s['fallback']}"


def _frame(records, searched=()):
    """Flatten answer records into a DataFrame (labels for terms, IRIs kept in *_id).

    ``searched`` (the answer's search records) fills the ``searched`` column of the rows the
    baseline answers where the state's law was searched and found silent; every search record,
    including those of cells no rule answers, is kept in ``DataFrame.attrs["searched"]``.
    """
    import pandas as pd

    silent: dict = {}
    for s in searched:
        silent.setdefault((s["role"]["id"], s["procedure"]["id"]), []).append(searched_text(s))
    rows = []
    for rec in records:
        rows.append({
            "role": rec["role"]["label"],
            "procedure": rec["procedure"]["label"],
            "jurisdiction": rec["jurisdiction"],
            "permission": rec["permission"],
            "supervision": rec["supervision"],
            "supervisors": ", ".join(s["label"] for s in rec["supervisors"]),
            "prior_exam_by": ", ".join(s["label"] for s in rec["prior_exam_by"]),
            "requires_order": rec["requires_order"],
            "conditions": rec["conditions"],
            "requirements": "; ".join(rec.get("requirements", ())),
            "limits": "; ".join(rec.get("limits", ())),
            "effective_date": rec.get("effective_date"),
            "basis": rec["basis"],
            "practice_authority": rec.get("practice_authority"),
            "conflict": rec["conflict"],
            "rule": rec["rule"],
            "sources": "; ".join(s["url"] or s["id"] for s in rec["sources"]),
            "confidence": ", ".join(sorted({s["confidence"] or "?" for s in rec["sources"]})),
            "searched": "; ".join(silent.get((rec["role"]["id"], rec["procedure"]["id"]), ()))
                        if rec["basis"] == "baseline" else "",
            "role_id": rec["role"]["id"],
            "procedure_id": rec["procedure"]["id"],
        })
    df = pd.DataFrame(rows, columns=["role", "procedure", "jurisdiction", "permission", "supervision",
                                     "supervisors", "prior_exam_by", "requires_order", "conditions",
                                     "requirements", "limits", "effective_date", "basis", "practice_authority",
                                     "conflict", "rule", "sources", "confidence", "searched", "role_id",
                                     "procedure_id"])
    df.attrs["searched"] = list(searched)
    return df
