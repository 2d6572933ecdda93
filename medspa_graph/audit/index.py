"""What the audit asks of the knowledge base, built once per knowledge base and kept.

The first audit of a process used to spend most of its time in lookups that do not depend
on the roster or the log: one SPARQL query per jurisdiction for its scope rules (about
55 ms each, 51 jurisdictions), then the governing rules of each (jurisdiction, role,
procedure), name resolution and source URLs. :func:`audit_index` keeps all of them for
the life of the knowledge base, and the jurisdictions' rules also on disk, in the cache
folder beside the built graph (keyed by the package version and the hash of the data
files, so any change to the data rebuilds it): a fresh ``medspa-graph audit`` process
reads them back in milliseconds instead of querying again.

Rules are cached, never answers: which rule governs depends on the date asked, so the
governing rules are cached per day.
"""

from __future__ import annotations

__all__ = ["AuditIndex", "audit_index"]

from medspa_graph.questions.rules import today

_FORMAT = 3  # of the file on disk: bump when Rule's fields change
_MAX_NAMES = 100_000  # distinct (name, kind) resolutions kept; a hostile log cannot grow it without bound


def audit_index(kb) -> AuditIndex:
    """The :class:`AuditIndex` of ``kb``, made on first use and kept in its catalogue
    (:meth:`~medspa_graph.knowledge.catalog.Catalog.memo`), so it lives as long as the
    catalogue's own indexes and never outlives the graph it was read from.

    >>> from medspa_graph import load
    >>> kb = load()
    >>> audit_index(kb) is audit_index(kb)
    True
    """
    return kb.catalog.memo("audit-index", lambda: AuditIndex(kb))


class AuditIndex:
    """The audit's lookups in one knowledge base: rules by jurisdiction and role, the governing
    rules of a (jurisdiction, role, procedure), names resolved, source URLs, labels and codes.

    Every method answers from memory after its first call for the same arguments.
    """

    def __init__(self, kb):
        self.kb = kb
        self.code = kb.names.code
        self.ancestors = kb.catalog.ancestors
        self._rules: dict = {}  # jurisdiction IRI -> [Rule]
        self._by_role: dict = {}  # jurisdiction IRI -> {role IRI: [Rule]}
        self._governing: dict = {}
        self._names: dict = {}
        self._urls: dict = {}
        self._independent: dict = {}
        self._info: dict = {}
        self._loaded = False
        self._labels: dict = {}
        self._dirty = False

    # -- rules, from the store once, then from disk ------------------------------------------

    def _ready(self) -> None:
        if not self._loaded:
            self._load()

    def _file(self):
        from medspa_graph.knowledge.cache import cache_dir
        from medspa_graph.version import package_version

        if not self.kb.data_hash:  # a remote endpoint: its data may change under us; keep nothing on disk
            return None
        tag = "".join(c if c.isalnum() or c in ".+_" else "_" for c in package_version())
        return cache_dir() / f"audit-rules-{tag}-{self.kb.data_hash}.json"

    def _load(self) -> None:
        """Read the rules kept on disk, if any and if whole; anything unexpected is ignored."""
        import json

        from medspa_graph.questions.rules import Rule

        self._loaded = True
        path = self._file()
        if path is None or not path.is_file():
            return
        try:
            from medspa_graph.utils.files import read_file

            doc = json.loads(read_file(path, 64 << 20))
            if doc.get("format") != _FORMAT or doc.get("data_hash") != self.kb.data_hash:
                return
            table = [Rule(**{k: tuple(v) if isinstance(v, list) else v for k, v in r.items()}) for r in doc["rules"]]
            rules = {str(jur): [table[i] for i in members] for jur, members in doc["jurisdictions"].items()}
            governing = {}
            if doc.get("day") == today():  # the answers of the day the file was written, if that is today
                for key, members in doc["governing"].items():
                    jur, role, proc = key.split(" ")
                    governing[(doc["day"], jur, role, proc)] = [table[i] for i in members]
        except Exception:  # noqa: BLE001 - a damaged or foreign file only costs the queries
            return
        self._rules.update(rules)
        self._governing.update(governing)

    def save(self) -> None:
        """Keep the jurisdictions' rules read so far on disk (all or nothing), if new ones were read.

        An unwritable cache only costs speed."""
        import dataclasses
        import json

        path = self._file()
        if path is None or not self._dirty:
            return
        table, seen = [], {}

        def members(rules) -> list:  # each distinct rule is kept once, and named by its place
            out = []
            for r in rules:
                row = dataclasses.asdict(r)
                key = json.dumps(row, sort_keys=True)
                if key not in seen:
                    seen[key] = len(table)
                    table.append(row)
                out.append(seen[key])
            return out

        day = today()
        jurs = {jur: members(rules) for jur, rules in sorted(self._rules.items())}
        governing = {" ".join(key[1:]): members(rules) for key, rules in self._governing.items() if key[0] == day}
        doc = {"format": _FORMAT, "data_hash": self.kb.data_hash, "rules": table, "jurisdictions": jurs,
               "day": day, "governing": governing}
        try:
            from medspa_graph.utils.files import atomic_write

            atomic_write(path, json.dumps(doc, separators=(",", ":")), own=True)
            self._dirty = False
        except OSError:
            pass

    def rules(self, jur: str) -> list:
        """The scope rules of jurisdiction ``jur`` (an IRI) and of the baseline."""
        self._ready()
        jur = str(jur)
        if jur not in self._rules:
            self._rules[jur] = list(self.kb.catalog.rules(jur))
            self._dirty = True
        return self._rules[jur]

    def by_role(self, jur: str) -> dict:
        """The rules of ``jur`` by their role, so a lookup scans only its own."""
        if jur not in self._by_role:
            index: dict = {}
            for r in self.rules(jur):
                index.setdefault(r.role, []).append(r)
            self._by_role[jur] = index
        return self._by_role[jur]

    # -- answers --------------------------------------------------------------------------------

    def governing(self, jur: str, role: str, proc: str, day: str | None = None) -> list:
        """The rules that govern ``role`` performing ``proc`` in ``jur`` on ``day`` (default: today;
        IRIs), the precedence of :func:`~medspa_graph.questions.rules.effective_rules`."""
        from medspa_graph.questions.rules import effective_rules

        self._ready()
        key = (day or today(), jur, role, proc)
        if key not in self._governing:
            anc = self.ancestors
            cands = [r for up in anc(role) for r in self.by_role(jur).get(up, ())]
            self._dirty = True
            self._governing[key] = effective_rules(cands, role, proc, anc, self.kb.resolution_context(jur, key[0]))
        return self._governing[key]

    def info(self, jur: str, role: str, proc: str, day: str) -> dict:
        """What the appointment checks read about one (jurisdiction, role, procedure) on ``day``: the
        governing rules, their permissions, the one that sets supervision and examination, and words."""
        key = (day, jur, role, proc)
        if key not in self._info:
            rules = self.governing(jur, role, proc, day)
            head = rules[0] if rules else None
            sup_kind = None
            if head and head.supervision not in ("independent", "not-permitted") and head.supervisors:
                sup_kind = "onsite" if head.supervision == "onsite/direct" else "roster"
            label = self.label
            self._info[key] = {
                "rules": rules, "perms": {x.permission for x in rules}, "head": head, "sup_kind": sup_kind,
                "iris": " ".join(x.iri for x in rules), "src": " ".join(self.urls(rules)),
                "what": f"{label(proc)} by {_a(label(role))} in {self.code(jur)}", "role": label(role),
                "proc": label(proc), "code": self.code(jur),
            }
        return self._info[key]

    def label(self, iri: str) -> str:
        """The English label of a term (the knowledge base's, kept)."""
        label = self._labels.get(iri)
        if label is None:
            label = self._labels[iri] = self.kb.label(iri)
        return label

    def accepts(self, allowed, role: str) -> bool:
        """Whether a person of ``role`` is one of the ``allowed`` roles (or below one)."""
        return bool(set(allowed) & self.ancestors(role))

    def urls(self, rules) -> list:
        """The sorted source URLs of ``rules``."""
        key = tuple(r.iri for r in rules)
        if key not in self._urls:
            self._urls[key] = sorted({self.kb.source(s)["url"] or s for r in rules for s in r.sources})
        return self._urls[key]

    def resolve(self, name: str, kind: str):
        """``(iri, None)`` for a name the resolver accepts, ``(None, reason)`` otherwise."""
        from medspa_graph.errors import UnknownJurisdictionError, UnknownTermError

        key = (name, kind)
        hit = self._names.get(key)
        if hit is None:
            try:
                hit = (str(self.kb.jurisdiction(name) if kind == "jurisdiction" else self.kb.resolve(name, kind)), None)
            except (UnknownTermError, UnknownJurisdictionError) as e:
                hit = (None, str(e))
            if len(self._names) >= _MAX_NAMES:
                self._names.clear()
            self._names[key] = hit
        return hit

    def independent_somewhere(self, role: str, jur: str) -> bool:
        """Whether ``role`` may act independently in some procedure in ``jur``."""
        from medspa_graph.questions.rules import effective_rules

        key = (today(), role, jur)
        if key not in self._independent:
            rules, anc = self.rules(jur), self.ancestors
            ctx = self.kb.resolution_context(jur)
            self._independent[key] = any(
                r.independent for p in {x.procedure for x in rules if x.role in anc(role)}
                for r in effective_rules(rules, role, p, anc, ctx))
        return self._independent[key]


def _a(label: str) -> str:
    """``label`` with its indefinite article: "an esthetician", "a physician"."""
    return ("an " if label[:1].lower() in "aeio" else "a ") + label
