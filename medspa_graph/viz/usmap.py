"""A map of the United States for one role and one procedure: each state coloured by its answer.

The colour of a state is the answer the questions API gives there (:func:`medspa_graph.questions.answers.who_can`,
the same records as ``medspa-graph who-can ... --format json``), read through one table,
:data:`CATEGORIES`, by :func:`category`. Shapes are the Census Bureau's state boundaries as
projected by the ``us-atlas`` package (Albers USA, Alaska and Hawaii inset; vendored in
``static/us-atlas-3.0.1``), drawn here as SVG paths. The page has no script at all: hovering a
state shows its answer (an SVG ``<title>``), clicking it opens the rule with its sources (a
CSS ``:target`` panel), so it works offline, in any browser, and from a file.
"""

from __future__ import annotations

__all__ = ["USMap", "us_map", "category", "http_pages", "CATEGORIES", "STATES", "MAP_CSP"]

import html
import json
from dataclasses import dataclass, field
from functools import lru_cache

#: category -> (legend text, fill colour), in legend order
CATEGORIES = {
    "independent": ("permitted, independent", "#1a9850"),
    "onsite": ("permitted, supervisor on site", "#91cf60"),
    "available": ("permitted, supervisor available", "#d9ef8b"),
    "protocol": ("permitted under a protocol or standing order", "#74add1"),
    "supervised": ("permitted, supervised (level not stated)", "#abd9e9"),
    "conditional": ("conditional", "#fee08b"),
    "not-permitted": ("not permitted", "#d73027"),
    "conflict": ("sources conflict", "#762a83"),
    "searched-baseline": ("no state rule found when searched (US baseline answers)", "#969696"),
    "no-state-rule": ("no state rule (US baseline answers)", "#bdbdbd"),
    "searched-no-rule": ("no state rule found when searched, no baseline rule", "#d9d9d9"),
    "no-rule": ("no rule for this role", "#f0f0f0"),
    "not-in-graph": ("state not in the graph yet", "#ffffff"),
}
_SUPERVISION = {"independent": "independent", "onsite/direct": "onsite", "available/indirect": "available",
                "protocol/standing-order": "protocol", "supervised": "supervised"}

#: FIPS code -> ISO 3166-2 code, for the 50 states and DC
STATES = {
    "01": "US-AL", "02": "US-AK", "04": "US-AZ", "05": "US-AR", "06": "US-CA", "08": "US-CO", "09": "US-CT",
    "10": "US-DE", "11": "US-DC", "12": "US-FL", "13": "US-GA", "15": "US-HI", "16": "US-ID", "17": "US-IL",
    "18": "US-IN", "19": "US-IA", "20": "US-KS", "21": "US-KY", "22": "US-LA", "23": "US-ME", "24": "US-MD",
    "25": "US-MA", "26": "US-MI", "27": "US-MN", "28": "US-MS", "29": "US-MO", "30": "US-MT", "31": "US-NE",
    "32": "US-NV", "33": "US-NH", "34": "US-NJ", "35": "US-NM", "36": "US-NY", "37": "US-NC", "38": "US-ND",
    "39": "US-OH", "40": "US-OK", "41": "US-OR", "42": "US-PA", "44": "US-RI", "45": "US-SC", "46": "US-SD",
    "47": "US-TN", "48": "US-TX", "49": "US-UT", "50": "US-VT", "51": "US-VA", "53": "US-WA", "54": "US-WV",
    "55": "US-WI", "56": "US-WY",
}


def category(records: list, searched: list = ()) -> str:
    """The map category of one state's answer records for one role (see :data:`CATEGORIES`).

    ``searched`` are the answer's search records for the role: where the state's law was searched
    and found silent, a fallback says so (``searched-baseline``, ``searched-no-rule``).

    >>> category([])
    'no-rule'
    >>> category([{"permission": "permitted", "supervision": "onsite/direct", "basis": "jurisdiction",
    ...            "conflict": False}])
    'onsite'
    >>> category([{"permission": "permitted", "supervision": "independent", "basis": "baseline",
    ...            "conflict": False}])
    'no-state-rule'
    >>> category([], [{"searched_on": "2026-11-29", "searched": "the nurse practice act"}])
    'searched-no-rule'
    """
    if not records:
        return "searched-no-rule" if searched else "no-rule"
    if any(r["conflict"] for r in records) or len({(r["permission"], r["supervision"]) for r in records}) > 1:
        return "conflict"
    r = records[0]
    if r["basis"] != "jurisdiction":
        return "searched-baseline" if searched else "no-state-rule"
    if r["permission"] == "not-permitted":
        return "not-permitted"
    if r["permission"] == "conditional":
        return "conditional"
    return _SUPERVISION.get(r["supervision"], "supervised")


@lru_cache(maxsize=1)
def _shapes() -> dict:
    """ISO code -> (name, SVG path data, label point), decoded from the vendored TopoJSON."""
    from importlib.resources import files

    topo = json.loads(files("medspa_graph").joinpath("static", "us-atlas-3.0.1", "states-albers-10m.json")
                      .read_text(encoding="utf-8"))
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)

    def ring(indexes):
        points = []
        for i in indexes:
            part = arcs[i] if i >= 0 else arcs[~i][::-1]
            points.extend(part if not points else part[1:])
        return points

    out = {}
    for geom in topo["objects"]["states"]["geometries"]:
        polygons = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        d, biggest = [], (0.0, (0.0, 0.0))
        for polygon in polygons:
            for k, indexes in enumerate(polygon):
                pts = ring(indexes)
                d.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + "Z")
                if k == 0:
                    area = abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))) / 2
                    if area > biggest[0]:
                        cx = sum(p[0] for p in pts) / len(pts)
                        cy = sum(p[1] for p in pts) / len(pts)
                        biggest = (area, (cx, cy))
        out[STATES[geom["id"]]] = (geom["properties"]["name"], "".join(d), biggest[1])
    return out


@dataclass
class StateAnswer:
    code: str
    name: str
    category: str
    records: list = field(default_factory=list)
    searched: list = field(default_factory=list)

    def summary(self) -> str:
        """One line for the hover text."""
        label = CATEGORIES[self.category][0]
        if self.searched:
            label += f" (searched {self.searched[0]['searched_on']})"
        if not self.records:
            return f"{self.name}: {label}"
        r = self.records[0]
        bits = [f"{self.name}: {label}"]
        if r["supervisors"]:
            bits.append("supervisors: " + ", ".join(s["label"] for s in r["supervisors"]))
        if r["prior_exam_by"]:
            bits.append("prior exam by: " + ", ".join(s["label"] for s in r["prior_exam_by"]))
        bits.append("basis: " + ("the state's own rule" if r["basis"] == "jurisdiction" else "US baseline"))
        return "; ".join(bits)


@dataclass
class USMap:
    """The answers for one role and procedure in every state and DC, and their picture."""

    role: dict
    procedure: dict
    states: dict  # ISO code -> StateAnswer
    as_of: str | None = None  # the day asked about; None for today

    @property
    def colours(self) -> dict:
        """ISO code -> category, for every state and DC."""
        return {code: s.category for code, s in self.states.items()}

    def svg(self, *, links: bool = True, legend: bool = True) -> str:
        """The map as an SVG element (links to the detail panels when ``links``)."""
        shapes = _shapes()
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 975 {640 if legend else 610}" '
                 f'role="img" aria-label="{html.escape(self.title())}" class="medspa-map">']
        for code in sorted(shapes):
            name, d, _ = shapes[code]
            s = self.states[code]
            path = (f'<path class="state" id="shape-{code}" data-state="{code}" data-category="{s.category}" '
                    f'fill="{CATEGORIES[s.category][1]}" stroke="#555" stroke-width="0.6" d="{d}">'
                    f'<title>{html.escape(s.summary())}</title></path>')
            parts.append(f'<a href="#{code}">{path}</a>' if links else path)
        x, y = shapes["US-DC"][2]  # DC is a few pixels wide: a marker and a label beside it
        s = self.states["US-DC"]
        marker = (f'<circle class="dc-marker" data-state="US-DC" data-category="{s.category}" cx="{x + 28:.1f}" '
                  f'cy="{y + 18:.1f}" r="7" fill="{CATEGORIES[s.category][1]}" stroke="#555">'
                  f'<title>{html.escape(s.summary())}</title></circle>'
                  f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x + 22:.1f}" y2="{y + 14:.1f}" stroke="#555"/>'
                  f'<text x="{x + 38:.1f}" y="{y + 22:.1f}" font-size="11">DC</text>')
        parts.append(f'<a href="#US-DC">{marker}</a>' if links else marker)
        if legend:
            used = [c for c in CATEGORIES if c in set(self.colours.values())]
            for i, c in enumerate(used):
                lx, ly = 10 + (i % 4) * 240, 612 + (i // 4) * 14
                parts.append(f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{CATEGORIES[c][1]}" '
                             f'stroke="#555" stroke-width="0.5"/><text x="{lx + 14}" y="{ly}" font-size="10">'
                             f'{html.escape(CATEGORIES[c][0])}</text>')
        parts.append("</svg>")
        return "".join(parts)

    def title(self) -> str:
        when = f", as of {self.as_of}" if self.as_of else ""
        return f"{self.role['label']} × {self.procedure['label']}: who may, state by state{when}"

    def _details(self) -> str:
        out = []
        for code, s in sorted(self.states.items()):
            rows = []
            for r in s.records:
                sources = "".join(
                    f'<li><a href="{html.escape(src["url"])}" rel="noopener noreferrer">{html.escape(src["url"])}</a>'
                    f' ({html.escape(str(src["date"] or "undated"))}, {html.escape(str(src["confidence"] or "?"))})</li>'
                    for src in r["sources"] if (src.get("url") or "").startswith(("https://", "http://")))
                rows.append(
                    f"<p><b>{html.escape(r['permission'])}</b>, supervision {html.escape(r['supervision'])}"
                    + (f"; supervisors: {html.escape(', '.join(x['label'] for x in r['supervisors']))}"
                       if r["supervisors"] else "")
                    + (f"; prior exam by: {html.escape(', '.join(x['label'] for x in r['prior_exam_by']))}"
                       if r["prior_exam_by"] else "")
                    + f"; basis: {html.escape(r['basis'])}"
                    + (f"<br>conditions: {html.escape(r['conditions'])}" if r.get("conditions") else "")
                    + f"<br>rule: <code>{html.escape(r['rule'])}</code></p><ul>{sources}</ul>")
            rows.extend(f"<p>No state rule found: searched {html.escape(x['searched_on'])}: "
                        f"{html.escape(x['searched'])}</p>" for x in s.searched)
            body = "".join(rows) or f"<p>{html.escape(CATEGORIES[s.category][0])}.</p>"
            out.append(f'<section class="detail" id="{code}"><h3>{html.escape(s.name)}: '
                       f'{html.escape(CATEGORIES[s.category][0])}</h3>{body}</section>')
        return "".join(out)

    def fragment(self) -> str:
        """The map, its legend and the detail panels, to embed in a page (or a notebook)."""
        return (f"<div class='medspa-usmap'><style>.medspa-usmap .detail{{display:none}}"
                f".medspa-usmap .detail:target{{display:block;border-top:1px solid #ccc}}"
                f".medspa-usmap svg{{max-width:60em;width:100%}}.medspa-usmap .state:hover{{stroke-width:2}}</style>"
                f"<h2>{html.escape(self.title())}</h2>"
                f"<p>Each state is coloured by the answer of <code>who-can</code> there. Hover for the answer, "
                f"click for the rule and its sources. Not legal advice.</p>{self.svg()}{self._details()}</div>")

    def html(self) -> str:
        """A self-contained page: no script, no request to anywhere."""
        csp = MAP_CSP
        return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
                f"<title>{html.escape(self.title())}</title>"
                f"<style>body{{font-family:system-ui,sans-serif;margin:1.5em}}</style></head>"
                f"<body>{self.fragment()}</body></html>\n")

    def _repr_html_(self) -> str:
        return self.fragment()

    def write(self, path) -> str:
        """Write ``.html`` (the page) or ``.svg`` (the map with its legend, for reports); return the path."""
        from pathlib import Path

        from medspa_graph.errors import MedspaGraphError
        from medspa_graph.utils.files import atomic_write

        path = Path(path)
        if path.suffix.lower() == ".svg":
            text = '<?xml version="1.0" encoding="utf-8"?>\n' + self.svg(links=False) + "\n"
        elif path.suffix.lower() in (".html", ".htm"):
            text = self.html()
        else:
            raise MedspaGraphError(f"{path}: a map is written as .html or .svg")
        atomic_write(path, text.encode("utf-8"))
        return str(path)


def us_map(kb, role: str, procedure: str, as_of: str | None = None) -> USMap:
    """The answers of ``who-can PROCEDURE`` for ``role`` in every state and DC, as a :class:`USMap`.

    ``as_of`` (ISO date, default today) is the day asked about, as ``who-can --as-of``.
    """
    from medspa_graph.errors import UnknownJurisdictionError
    from medspa_graph.questions.answers import who_can

    role_iri = kb.resolve(role, "role")
    proc_iri = kb.resolve(procedure, "procedure")
    states = {}
    for code, (name, _d, _c) in _shapes().items():
        try:
            answer = who_can(kb, proc_iri, code, as_of)
        except UnknownJurisdictionError:
            states[code] = StateAnswer(code, name, "not-in-graph")
            continue
        records = [r for r in answer["practitioners"] if r["role"]["id"] == str(role_iri)]
        silent = [s for s in answer["searched"] if s["role"]["id"] == str(role_iri)]
        states[code] = StateAnswer(code, name, category(records, silent), records, silent)
    return USMap({"id": str(role_iri), "label": kb.label(role_iri)},
                 {"id": str(proc_iri), "label": kb.label(proc_iri)}, states, as_of)


#: The map page runs no script and loads nothing: styles inline, that is all.
MAP_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def http_pages(get_kb) -> dict:
    """``/map?role=ROLE&procedure=PROCEDURE`` for :class:`~medspa_graph.serve.server.SparqlServer`."""
    from medspa_graph.errors import HttpError, MedspaGraphError

    def page(params: dict):
        unknown = sorted(set(params) - {"role", "procedure", "as_of"})
        if unknown:
            raise HttpError(400, f"unknown parameter {unknown[0]!r}; known: as_of, procedure, role")
        if "role" not in params or "procedure" not in params:
            raise HttpError(400, "/map needs role= and procedure=")
        try:
            m = get_kb().map(params["role"], params["procedure"], as_of=params.get("as_of"))
        except MedspaGraphError as e:
            raise HttpError(400, str(e)) from None
        return 200, "text/html; charset=utf-8", m.html().encode("utf-8"), {"Content-Security-Policy": MAP_CSP}

    return {"/map": ("Maps", page)}
