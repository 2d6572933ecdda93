"""The knowledge base: one loaded graph behind a store, and the questions asked of it."""

from __future__ import annotations

__all__ = ["KnowledgeBase", "load"]

import os
from pathlib import Path

from .loading import build_graph, fingerprint
from .paths import atomic_write, cache_dir, curated_files
from .store import KB_GRAPH, EndpointStore, OxigraphStore, Store

_KEY_FILE = "medspa-graph.key"


def built_ntriples(extra=(), *, reason=True, validate=True, cache=True) -> tuple[Path | bytes, str]:
    """The validated, reasoned graph as N-Triples: a cached file's path, or bytes.

    The cache key is a hash of every input file's content and the options, so
    any change to the ontology, the data or ``extra`` files rebuilds it. Each cached
    graph is written with its SHA-256 and length beside it (``graph-KEY.nt.sha256``)
    and checked against them before use: a cached graph that was cut short, altered,
    replaced by something that is not a file, or has no checksum, is rebuilt, never
    answered from.
    """
    from . import __version__

    files = [*curated_files(), *map(Path, extra)]
    key = fingerprint(files, __version__, f"reason={reason}", f"validate={validate}")
    cached = cache_dir() / f"graph-{key}.nt"
    if cache and _whole(cached):
        return cached, key
    result = build_graph(extra, validate=validate, reason=reason)
    data = result.graph.serialize(format="nt", encoding="utf-8")
    if cache:
        try:
            _write_cached(cached, data)
            return cached, key
        except OSError:
            pass  # an unwritable cache only costs speed
    return data, key


def _checksum_file(graph: Path) -> Path:
    return graph.with_name(graph.name + ".sha256")


def _whole(graph: Path) -> bool:
    """Whether the cached ``graph`` is a regular file with the length and SHA-256 written with it."""
    import hashlib

    from .errors import MedspaGraphError
    from .files import open_regular, read_file

    try:
        digest, size = read_file(_checksum_file(graph), limit=200).decode("ascii").split()
        with open_regular(graph, limit=1 << 62) as f:  # our own file: the input limit is not for it
            if os.fstat(f.fileno()).st_size != int(size):
                return False
            h = hashlib.sha256()
            while chunk := f.read(1 << 20):
                h.update(chunk)
        return h.hexdigest() == digest
    except (OSError, ValueError, MedspaGraphError):
        return False


def _write_cached(graph: Path, data: bytes) -> None:
    """Write ``data`` as the cached ``graph``, then its checksum file, each through a temporary
    file renamed over the old entry (a link or a device there is replaced, never written through)."""
    import hashlib
    import tempfile

    from .paths import file_mode

    graph.parent.mkdir(parents=True, exist_ok=True)
    checksum = f"{hashlib.sha256(data).hexdigest()} {len(data)}\n".encode("ascii")
    for target, content in ((graph, data), (_checksum_file(graph), checksum)):
        fd, tmp = tempfile.mkstemp(dir=graph.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, file_mode())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def load(*extra, reason: bool = True, validate: bool = True, cache: bool = True,
         store: str | os.PathLike | None = None, endpoint: str | None = None,
         graph: str | None = KB_GRAPH, engine: str = "auto", timeout: float = 60.0) -> "KnowledgeBase":
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
    return KnowledgeBase(ox)


class KnowledgeBase:
    """A loaded knowledge graph and the questions analysts ask of it.

    Build one with :func:`medspa_graph.load`. Every answer comes from SPARQL on
    :attr:`store`; table answers are pandas DataFrames.
    """

    def __init__(self, store: Store):
        self.store = store
        self._names = None
        self._cache: dict = {}

    def __repr__(self) -> str:
        return f"<KnowledgeBase on {self.store.description}>"

    # -- raw access -----------------------------------------------------------

    def count(self) -> int:
        """Number of triples in the graph."""
        return self.store.count()

    def select(self, sparql: str, **bindings) -> list[dict]:
        """Run a SELECT query with bound variables; rows as dicts."""
        return self.store.select(sparql, bindings or None)

    # -- cached lookups (one SPARQL query each, then answered from memory) ---

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def _named(self, name: str, **bindings) -> list[dict]:
        from .queries import named_query

        return self.store.select(named_query(name).sparql, bindings or None)

    @property
    def names(self):
        """The :class:`~medspa_graph.names.NameIndex` of every term's names."""
        from .names import NameIndex

        return self._cached("names", lambda: NameIndex(self._named("terms")))

    def label(self, iri) -> str:
        """The English label of a term, concept or rule."""
        iri = str(iri)
        label = self.names.labels.get(iri)
        if label is None:
            concept = self._concepts().get(iri)
            label = concept["label"] if concept else None
        return label or self.names.label(iri)

    def resolve(self, name: str, kind: str):
        """The IRI of the ``kind`` term a person named (label, synonym, code, local name or IRI).

        >>> kb = load()
        >>> kb.label(kb.resolve("aesthetician", "role"))
        'esthetician'
        """
        return self.names.resolve(name, kind)

    def jurisdiction(self, code: str):
        """The IRI of a jurisdiction given its ISO 3166-2 code (``US-TX``) or name."""
        return self.names.resolve(code, "jurisdiction")

    def _concepts(self) -> dict:
        return self._cached("concepts", lambda: {str(r["concept"]): r for r in self._named("concepts")})

    def _code(self, iri) -> str:
        c = self._concepts().get(str(iri))
        return str(c["code"]) if c else str(iri)

    def _hierarchy(self) -> dict:
        def make():
            parents: dict[str, set] = {}
            for r in self._named("class-hierarchy"):
                parents.setdefault(str(r["class"]), set()).add(str(r["super"]))
            return parents

        return self._cached("hierarchy", make)

    def _direct_parents(self) -> dict:
        """Each class's direct superclasses (the transitive reduction of the hierarchy)."""
        def make():
            closure = {c: self._ancestors(c) - {c} for c in self._hierarchy()}
            direct = {}
            for c, ups in closure.items():
                direct[c] = {p for p in ups if not any(p in closure.get(q, ()) for q in ups if q != p)}
            return direct

        return self._cached("direct", make)

    def _ancestors(self, term) -> frozenset:
        """``term`` and all its superclasses."""
        anc = self._cached("ancestors", dict)
        term = str(term)
        if term not in anc:
            h = self._hierarchy()
            seen, todo = {term}, [term]
            while todo:
                for p in h.get(todo.pop(), ()):
                    if p not in seen:
                        seen.add(p)
                        todo.append(p)
            anc[term] = frozenset(seen)
        return anc[term]

    def _rules(self, jurisdiction) -> list:
        """The scope rules of a jurisdiction and of the baseline."""
        from .rules import Rule
        from .sparql import IRI

        def make():
            out = []
            for r in self._named("scope-rules", jurisdiction=IRI(str(jurisdiction))):
                out.append(Rule(
                    iri=str(r["rule"]), role=str(r["role"]), procedure=str(r["procedure"]),
                    jurisdiction=str(r["ruleJurisdiction"]),
                    permission=self._code(r["permission"]), supervision=self._code(r["supervision"]),
                    supervisors=tuple(sorted(str(r.get("supervisors", "")).split())),
                    examiners=tuple(sorted(str(r.get("examiners", "")).split())),
                    sources=tuple(sorted(str(r.get("sources", "")).split())),
                    conditions=r.get("conditions"), effective_date=r.get("effective") and str(r["effective"]),
                    requires_order=r.get("requiresOrder"),
                    baseline=str(r["ruleJurisdiction"]) != str(jurisdiction),
                ))
            return out

        return self._cached(("rules", str(jurisdiction)), make)

    def _sources(self) -> dict:
        def make():
            return {str(r["source"]): {"id": str(r["source"]), "url": str(r["url"]), "date": str(r["date"]),
                                       "confidence": str(r["confidence"]), "title": r.get("title")}
                    for r in self._named("sources")}

        return self._cached("sources", make)

    def source(self, iri) -> dict:
        """A source as ``{"id", "url", "date", "confidence", "title"}``."""
        return self._sources().get(str(iri), {"id": str(iri), "url": None, "date": None,
                                              "confidence": None, "title": None})

    def _referral_rules(self) -> list[dict]:
        def make():
            return [{"rule": str(r["rule"]), "fromRole": str(r["fromRole"]), "toRole": str(r["toRole"]),
                     "jurisdiction": r.get("jurisdiction") and str(r["jurisdiction"]),
                     "conditions": sorted(str(r["conditions"]).split()),
                     "sources": sorted(str(r["sources"]).split())}
                    for r in self._named("referral-rules")]

        return self._cached("referrals", make)

    def jurisdictions(self) -> list[str]:
        """The known jurisdiction codes, baseline (``US``) first."""
        return sorted((self.names.code(j) for j in self.names.terms("jurisdiction")), key=lambda c: (c != "US", c))

    # -- questions ------------------------------------------------------------

    def who_can(self, procedure: str, jurisdiction: str = "US"):
        """Who may perform ``procedure`` in ``jurisdiction``, with supervision and sources.

        Parameters
        ----------
        procedure : str
            A procedure name, synonym or IRI ("botox", "laser hair removal").
        jurisdiction : str
            An ISO 3166-2 code ("US-CA"); "US" for the general baseline alone.

        Returns
        -------
        pandas.DataFrame
            One row per role and governing rule: ``role``, ``permission``,
            ``supervision``, ``supervisors``, ``prior_exam_by``, ``basis``
            (``"jurisdiction"`` or ``"baseline"``), ``conflict``, ``rule``, ``sources``.

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
        from .questions import who_can

        return _frame(who_can(self, procedure, jurisdiction)["practitioners"])

    def scope(self, role: str, jurisdiction: str = "US"):
        """What ``role`` may and may not do in ``jurisdiction`` (its scope), one row per rule.

        Examples
        --------
        >>> kb = load()
        >>> df = kb.scope("esthetician", jurisdiction="US-CA")
        >>> df.loc[df.procedure == "energy-based procedure", "permission"].iloc[0]
        'not-permitted'
        """
        from .questions import scope

        return _frame(scope(self, role, jurisdiction)["procedures"])

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

        from .questions import compare

        ans = compare(self, term, jurisdictions)
        axis = "role" if ans["kind"] == "procedure" else "procedure"
        data = {}
        for row in ans["rows"]:
            cells = {c: "; ".join(f"{x['permission']} ({x['supervision']})" + (" [baseline]" if x["basis"] == "baseline" else "")
                                  for x in cell) or None
                     for c, cell in row["cells"].items()}
            cells["differs"] = row["differs"]
            data[row[axis]["label"]] = cells
        df = pd.DataFrame.from_dict(data, orient="index", columns=[*ans["jurisdictions"], "differs"])
        df.index.name = axis
        return df

    def supervision_chains(self, role: str, procedure: str, jurisdiction: str = "US") -> list[list[dict]]:
        """Supervision chains from ``role`` up to an independent practitioner, shortest first.

        Each chain is a list of steps ``{"id", "label"}`` from the performer up.

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
        from .errors import NoChainError
        from .questions import supervision_chains

        ans = supervision_chains(self, role, procedure, jurisdiction)
        if ans["status"] != "ok":
            raise NoChainError(ans["status"], ans["problem"])
        return ans["chains"]

    def referral_paths(self, from_role: str, to_role: str | None = None, condition: str | None = None):
        """Referral paths from ``from_role`` (to ``to_role``, for ``condition``), shortest first.

        Examples
        --------
        >>> kb = load()
        >>> path = kb.referral_paths("esthetician", "dermatologist")[0]
        >>> [s["label"] for s in path]
        ['esthetician', 'dermatologist']
        """
        from .questions import referral_paths

        return referral_paths(self, from_role, to_role, condition)["paths"]

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
        rows = self._named("explain-rules")
        by_rule = {}
        for r in rows:
            by_rule.setdefault(str(r["rule"]), []).append(r)
        out = []
        for iri in wanted:
            if iri not in by_rule:
                from .errors import UnknownTermError

                raise UnknownTermError(iri, "rule")
            for r in by_rule[iri]:
                src = self.source(r["source"])
                out.append({"rule": iri, "label": r.get("label"), "jurisdiction": self.names.code(r["jurisdiction"]),
                            "role": self.label(r["role"]), "procedure": self.label(r["procedure"]),
                            "permission": self._code(r["permission"]), "supervision": self._code(r["supervision"]),
                            "conditions": r.get("conditions"), "url": src["url"], "date": src["date"],
                            "confidence": src["confidence"], "title": src["title"]})
        return pd.DataFrame(out)

    def audit(self, roster, clinics, appointments, *, progress=None):
        """Audit a roster, clinic list and appointment log (CSV paths) against the scope rules.

        Returns an :class:`~medspa_graph.audit.AuditResult`: ``findings`` (a DataFrame, one
        row per finding: appointment, check, severity, explanation, rule, sources, and the
        log's extra columns), ``rejected`` (rows that could not be read, with file, line
        and reason) and ``summary``. ``progress(fraction, what)``, if given, is called as
        the work advances (the CLI draws a bar with it).
        """
        from .audit import audit

        return audit(self, roster, clinics, appointments, progress=progress)

    def show(self, *, focus=None, jurisdiction=None, chain=None, refer=None, to=None, condition=None,
             max_nodes: int = 2500):
        """An interactive picture (pyvis, offline); shown inline in Jupyter, ``.write(path)`` for a file.

        ``chain=(role, procedure)`` highlights a supervision chain, ``refer=role``
        (with ``to``, ``condition``) a referral path; see :func:`medspa_graph.viz.picture`.
        """
        from .viz import picture

        return picture(self, focus=focus, jurisdiction=jurisdiction, chain=chain, refer=refer, to=to,
                       condition=condition, max_nodes=max_nodes)

    def query(self, name_or_sparql: str, **params):
        """Run a named query (or SPARQL text) with parameters; return a DataFrame.

        Parameters of kind role, procedure, condition, product and jurisdiction
        accept the names people type; they are bound, never pasted into the text.

        Examples
        --------
        >>> kb = load()
        >>> int(kb.query("summary").set_index("kind").loc["jurisdictions", "count"]) >= 14
        True
        """
        import pandas as pd

        from .queries import prepare

        sparql, bindings = prepare(self, name_or_sparql, params)
        return pd.DataFrame(self.store.select(sparql, bindings or None))


def _frame(records):
    """Flatten answer records into a DataFrame (labels for terms, IRIs kept in *_id)."""
    import pandas as pd

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
            "basis": rec["basis"],
            "conflict": rec["conflict"],
            "rule": rec["rule"],
            "sources": "; ".join(s["url"] or s["id"] for s in rec["sources"]),
            "confidence": ", ".join(sorted({s["confidence"] or "?" for s in rec["sources"]})),
            "role_id": rec["role"]["id"],
            "procedure_id": rec["procedure"]["id"],
        })
    return pd.DataFrame(rows, columns=["role", "procedure", "jurisdiction", "permission", "supervision",
                                       "supervisors", "prior_exam_by", "requires_order", "conditions", "basis",
                                       "conflict", "rule", "sources", "confidence", "role_id", "procedure_id"])
