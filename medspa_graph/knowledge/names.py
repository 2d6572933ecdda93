"""Names people type: resolve "botox", "RN", "aesthetician" or an IRI to one term."""

from __future__ import annotations

__all__ = ["NameIndex", "normalize"]

import difflib
import re
from collections import defaultdict

from medspa_graph.errors import UnknownJurisdictionError, UnknownTermError
from medspa_graph.sparql.text import IRI

_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize(name: str) -> str:
    """Fold case and punctuation: ``"Neurotoxin-injection"`` -> ``"neurotoxininjection"``.

    >>> normalize("  Laser Hair-Removal ")
    'laserhairremoval'
    >>> normalize("US-CA")
    'usca'
    """
    return _NON_ALNUM.sub("", str(name).casefold())


def _local_name(iri: str) -> str:
    return re.split(r"[#/]", iri)[-1]


class NameIndex:
    """An index of every term's names, built from the ``terms`` named query."""

    def __init__(self, rows):
        self.labels: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self._keys: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._display: dict[str, dict[str, str]] = defaultdict(dict)
        for r in rows:
            term, kind = str(r["term"]), str(r["kind"])
            self.labels.setdefault(term, str(r["label"]))
            self.kinds[term] = kind
            for name in (str(r["name"]), _local_name(term), term):
                key = normalize(name) if name != term else term
                self._keys[kind][key].add(term)
                self._display[kind].setdefault(key, name)

    def label(self, iri: str) -> str:
        """The English label of ``iri`` (its local name if it has none)."""
        return self.labels.get(str(iri)) or _local_name(str(iri))

    def terms(self, kind: str) -> list[str]:
        return sorted(t for t, k in self.kinds.items() if k == kind)

    def resolve(self, name: str, kind: str) -> IRI:
        """The one term of ``kind`` that ``name`` names.

        Raises
        ------
        UnknownTermError
            No term matches (the closest names are listed), or several do.
        UnknownJurisdictionError
            For kind ``"jurisdiction"``, a code that is not known.
        """
        keys = self._keys.get(kind, {})
        text = str(name).strip()
        found = keys.get(text) or keys.get(normalize(text)) or set()
        if len(found) == 1:
            return IRI(next(iter(found)))
        if kind == "jurisdiction" and not found:
            codes = [self._display[kind][k] for k in keys if re.fullmatch(r"US(-[A-Z]{2})?", self._display[kind][k])]
            raise UnknownJurisdictionError(text, codes)
        if len(found) > 1:
            raise UnknownTermError(text, kind, sorted(self.label(t) for t in found), ambiguous=True)
        close = difflib.get_close_matches(normalize(text), list(keys), n=5, cutoff=0.6)
        suggestions = []
        for k in close:
            for t in sorted(keys[k]):
                lab = self.label(t)
                if lab not in suggestions:
                    suggestions.append(lab)
        raise UnknownTermError(text, kind, suggestions[:5])

    def code(self, iri: str) -> str:
        """The ISO code of a jurisdiction IRI."""
        return _local_name(str(iri))
