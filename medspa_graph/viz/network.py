"""Interactive pictures of the knowledge graph: pyvis networks written as offline HTML.

A :class:`Picture` is built with pyvis (nodes, edges, layout options) from the
same API the questions use, and written as one self-contained HTML file:
vis-network's script and style are inlined from the pyvis package, nothing is
loaded from a network, and a Content-Security-Policy forbids it. pyvis's own
template is not used: it links Bootstrap from a CDN in every mode, writes a
``lib/`` folder into the working directory and does not escape.

Every text shown comes from data files or user rosters and is treated as
hostile: the graph travels as JSON inside a ``<script type="application/json">``
element with ``<``, ``>`` and ``&`` escaped, labels are drawn on a canvas, and
tooltips are built with ``textContent``; links are made only for http(s) URLs.

>>> from medspa_graph import load
>>> kb = load()
>>> pic = picture(kb, chain=("medical assistant", "botox"), jurisdiction="US-TX")
>>> pic.highlighted_nodes[0] == kb.resolve("medical assistant", "role")
True
"""

from __future__ import annotations

__all__ = ["Picture", "picture", "KINDS", "RELATIONS"]

import html
import json
from dataclasses import dataclass, field
from pathlib import Path

#: Node kinds: colour, vis-network shape, legend text.
KINDS = {
    "role": ("#4e79a7", "dot", "practitioner role"),
    "procedure": ("#f28e2b", "diamond", "procedure"),
    "product": ("#59a14f", "triangle", "product"),
    "condition": ("#e15759", "star", "condition"),
    "treatment": ("#b07aa1", "triangleDown", "treatment"),
    "jurisdiction": ("#9c755f", "hexagon", "jurisdiction"),
    "rule": ("#bab0ac", "square", "scope rule"),
}
#: Edge relations: colour, dashed.
RELATIONS = {
    "performs": ("#f28e2b", False),
    "supervised by": ("#4e79a7", False),
    "refers to": ("#e15759", True),
    "uses product": ("#59a14f", False),
    "is a": ("#999999", True),
    "rule of": ("#bab0ac", False),
    "in": ("#9c755f", True),
    "referred to": ("#e15759", True),
}
HIGHLIGHT = "#d62728"


@dataclass
class Picture:
    """A network ready to draw: nodes, edges, the highlighted path and a note."""

    title: str
    nodes: dict = field(default_factory=dict)  # id -> attributes
    edges: list = field(default_factory=list)  # (source, target, relation, attributes)
    highlighted_nodes: list = field(default_factory=list)
    note: str = ""
    layout: str = "physics"  # or "hierarchical"
    _edge_index: dict = field(default_factory=dict, repr=False)

    # -- building -------------------------------------------------------------

    def add_node(self, iri: str, label: str, kind: str, definition=None, sources=()) -> None:
        if iri not in self.nodes:
            self.nodes[iri] = {"label": label, "kind": kind, "definition": definition, "sources": list(sources)}

    def add_edge(self, src: str, dst: str, relation: str, rule=None, sources=()) -> None:
        """One drawn edge per (source, target, relation); parallel rules merge into its tooltip."""
        key = (src, dst, relation)
        index = self._edge_index.get(key)
        if index is None:
            self._edge_index[key] = index = len(self.edges)
            self.edges.append((src, dst, relation, {"rules": [], "sources": []}))
        attrs = self.edges[index][3]
        if rule and rule not in attrs["rules"]:
            attrs["rules"].append(rule)
        known = {x.get("id") for x in attrs["sources"]}
        for x in sources:
            if x.get("id") not in known:
                known.add(x.get("id"))
                attrs["sources"].append(x)

    def keep_edges(self, keep) -> None:
        """Drop the edges with an end outside ``keep`` (after the nodes were narrowed to it)."""
        self.edges = [e for e in self.edges if e[0] in keep and e[1] in keep]
        self._edge_index = {(s, d, r): i for i, (s, d, r, _) in enumerate(self.edges)}

    def highlight(self, path) -> None:
        self.highlighted_nodes = list(path)

    def cap(self, max_nodes: int) -> None:
        """Keep the ``max_nodes`` best-connected nodes (and the highlighted ones), with a note."""
        if len(self.nodes) <= max_nodes:
            return
        degree = {n: 0 for n in self.nodes}
        for s, d, _, _ in self.edges:
            degree[s] = degree.get(s, 0) + 1
            degree[d] = degree.get(d, 0) + 1
        keep = set(self.highlighted_nodes)
        for n in sorted(self.nodes, key=lambda n: (-degree[n], n)):
            if len(keep) >= max_nodes:
                break
            keep.add(n)
        total = len(self.nodes)
        self.nodes = {n: a for n, a in self.nodes.items() if n in keep}
        self.keep_edges(keep)
        self.note = (f"Showing the {len(self.nodes)} best-connected of {total} nodes; "
                     "narrow the picture with a focus term or a jurisdiction to see the rest.")

    # -- pyvis ----------------------------------------------------------------

    def network(self):
        """The picture as a :class:`pyvis.network.Network` (nodes, edges and options)."""
        from pyvis.network import Network

        net = Network(directed=True, height="100%", width="100%", cdn_resources="in_line")
        seed = self._seed_positions() if self.layout == "physics" and len(self.nodes) > 300 else {}
        on_path = set(self.highlighted_nodes)
        path_edges = set(zip(self.highlighted_nodes, self.highlighted_nodes[1:]))
        for iri, a in self.nodes.items():
            colour, shape, _ = KINDS.get(a["kind"], ("#777777", "dot", a["kind"]))
            hot = iri in on_path
            net.add_node(iri, label=a["label"], shape=shape, size=22 if hot else 12,
                         color={"background": colour, "border": HIGHLIGHT if hot else colour},
                         borderWidth=4 if hot else 1, kind=a["kind"], highlight=hot,
                         info={"definition": a["definition"], "sources": a["sources"]}, **seed.get(iri, {}))
        for i, (s, d, rel, attrs) in enumerate(self.edges):
            colour, dashed = RELATIONS.get(rel, ("#777777", False))
            hot = (s, d) in path_edges
            net.add_edge(s, d, id=f"e{i}", label=rel, relation=rel, dashes=dashed,
                         color=HIGHLIGHT if hot else colour, width=4 if hot else 1, highlight=hot,
                         info={"rules": attrs["rules"], "sources": attrs["sources"]})
        net.set_options(json.dumps(self.options()))
        return net

    def _seed_positions(self) -> dict:
        """Starting positions for big graphs, in O(nodes + edges): hubs on a circle, every
        other node near the hubs it touches. The browser's physics then needs only a few
        dozen iterations to settle instead of hundreds from a random start."""
        import math
        import random

        rnd = random.Random(0)
        nbrs: dict = {n: set() for n in self.nodes}
        for s, d, _, _ in self.edges:
            nbrs[s].add(d)
            nbrs[d].add(s)
        n = len(self.nodes)
        hubs = sorted(self.nodes, key=lambda x: (-len(nbrs[x]), x))[: max(8, int(math.sqrt(n)))]
        hubs.sort(key=lambda x: (self.nodes[x]["kind"], x))
        radius = 25 * math.sqrt(n)
        pos = {h: (radius * math.cos(2 * math.pi * i / len(hubs)), radius * math.sin(2 * math.pi * i / len(hubs)))
               for i, h in enumerate(hubs)}
        for x in self.nodes:
            if x in pos:
                continue
            near = [pos[h] for h in nbrs[x] if h in pos]
            if near:
                cx, cy = sum(p[0] for p in near) / len(near), sum(p[1] for p in near) / len(near)
                cx, cy = cx * 0.8, cy * 0.8
            else:
                angle, r = rnd.uniform(0, 2 * math.pi), radius * math.sqrt(rnd.random())
                cx, cy = r * math.cos(angle), r * math.sin(angle)
            pos[x] = (cx + rnd.gauss(0, radius / 12), cy + rnd.gauss(0, radius / 12))
        return {x: {"x": round(p[0], 1), "y": round(p[1], 1)} for x, p in pos.items()}

    def options(self) -> dict:
        n = len(self.nodes)
        opts = {
            "interaction": {"hover": True, "tooltipDelay": 150, "hideEdgesOnDrag": n > 300},
            "edges": {"arrows": {"to": {"enabled": True, "scaleFactor": 0.5}}, "smooth": False,
                      "font": {"size": 9, "align": "middle", "color": "#555555"}},
            "nodes": {"font": {"size": 12}},
            "layout": {"improvedLayout": n <= 100},  # vis's improvedLayout is what takes minutes on big graphs
        }
        if self.layout == "hierarchical":
            opts["layout"]["hierarchical"] = {"enabled": True, "direction": "DU", "sortMethod": "directed",
                                              "levelSeparation": 110, "nodeSpacing": 160}
            opts["physics"] = {"enabled": False}
        else:
            opts["physics"] = {
                "solver": "forceAtlas2Based",
                "forceAtlas2Based": {"gravitationalConstant": -40, "springLength": 90,
                                     "avoidOverlap": 0.2 if n <= 1000 else 0},
                # each iteration costs ~2 ms per 100 nodes in chromium; fewer on big graphs keeps
                # 2,000 nodes under 3 s (bench/viz.py), and dragging a node settles it further
                "stabilization": {"enabled": True, "updateInterval": 25,
                                  "iterations": 300 if n <= 300 else 150 if n <= 1000 else 50 if n <= 1500 else 30},
                "minVelocity": 1.0,
            }
        if n > 300:
            opts["edges"]["font"]["size"] = 0  # edge labels stay in tooltips; 2,000 drawn labels are unreadable
        return opts

    # -- output ---------------------------------------------------------------

    def html(self) -> str:
        """One self-contained, offline HTML document."""
        net = self.network()
        nodes, edges, _heading, _h, _w, options = net.get_network_data()
        data = {"nodes": nodes, "edges": edges, "options": json.loads(options),
                "note": self.note, "title": self.title,
                "highlighted": list(self.highlighted_nodes)}
        return _render(self.title, self.note, data)

    def write(self, path) -> Path:
        """Write the HTML to ``path`` atomically (and nothing anywhere else).

        Raises UnwritableOutputError when it cannot; an existing file is then left as it was.
        """
        from medspa_graph.utils.files import write_output

        return write_output(path, self.html())

    def _repr_html_(self) -> str:
        """Inline in Jupyter: an isolated iframe holding the same offline document."""
        return (f'<iframe srcdoc="{html.escape(self.html(), quote=True)}" '
                'style="width:100%;height:640px;border:1px solid #ddd" '
                'sandbox="allow-scripts allow-popups"></iframe>')


def _json_for_script(obj) -> str:
    """JSON that cannot close its <script> element or open a comment."""
    text = json.dumps(obj, ensure_ascii=False)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def _vis_assets() -> tuple[str, str]:
    import pyvis

    lib = Path(pyvis.__file__).parent / "templates" / "lib" / "vis-9.1.2"
    return (lib / "vis-network.min.js").read_text(encoding="utf-8"), (lib / "vis-network.css").read_text(encoding="utf-8")


def _legend() -> str:
    items = "".join(
        f'<li><span class="swatch" style="background:{c}"></span>{html.escape(text)}</li>'
        for c, _shape, text in KINDS.values())
    rels = "".join(
        f'<li><span class="line{" dashed" if dashed else ""}" style="border-color:{c}"></span>{html.escape(r)}</li>'
        for r, (c, dashed) in RELATIONS.items())
    return (f'<ul class="legend">{items}</ul><ul class="legend">{rels}'
            f'<li><span class="line" style="border-color:{HIGHLIGHT};border-top-width:4px"></span>'
            'the answer\'s path</li></ul>')


_SCRIPT = r"""
(function () {
  var data = JSON.parse(document.getElementById("graph-data").textContent);
  function tip(kind, label, info) {
    var box = document.createElement("div");
    box.className = "tip";
    var h = document.createElement("strong");
    h.textContent = label;
    box.appendChild(h);
    if (kind) { var k = document.createElement("div"); k.className = "kind"; k.textContent = kind; box.appendChild(k); }
    if (info && info.definition) { var d = document.createElement("p"); d.textContent = info.definition; box.appendChild(d); }
    ((info && info.rules) || []).forEach(function (rule) {
      var r = document.createElement("div"); r.className = "kind"; r.textContent = rule; box.appendChild(r);
    });
    var sources = (info && info.sources) || [];
    if (sources.length) {
      var ul = document.createElement("ul");
      sources.forEach(function (s) {
        var li = document.createElement("li");
        var text = (s.confidence ? s.confidence + " " : "") + (s.title || s.url || s.id || "") + (s.date ? " (" + s.date + ")" : "");
        if (s.url && /^https?:\/\//i.test(s.url)) {
          var a = document.createElement("a");
          a.href = s.url; a.target = "_blank"; a.rel = "noopener noreferrer"; a.textContent = text;
          li.appendChild(a);
        } else { li.textContent = text; }
        ul.appendChild(li);
      });
      box.appendChild(ul);
    }
    return box;
  }
  data.nodes.forEach(function (n) { n.title = tip(n.kind, n.label, n.info); });
  data.edges.forEach(function (e) { e.title = tip(null, e.relation, e.info); });
  var nodes = new vis.DataSet(data.nodes);
  var edges = new vis.DataSet(data.edges);
  var started = performance.now();
  var network = new vis.Network(document.getElementById("network"), {nodes: nodes, edges: edges}, data.options);
  var state = window.medspaGraph = {network: network, nodes: nodes, edges: edges, highlighted: data.highlighted,
                                    stabilized: false, stabilizedMs: null};
  function done() {
    if (state.stabilized) return;
    state.stabilized = true;
    state.stabilizedMs = performance.now() - started;
    network.setOptions({physics: false});
    document.body.setAttribute("data-stabilized", "true");
  }
  var bar = document.getElementById("progress");
  network.on("stabilizationProgress", function (p) { bar.textContent = "laying out " + Math.round(100 * p.iterations / p.total) + "%"; });
  network.once("stabilizationIterationsDone", function () { bar.textContent = ""; done(); });
  network.once("stabilized", done);
  if (!data.options.physics || data.options.physics.enabled === false) { bar.textContent = ""; done(); }
})();
"""


def _render(title: str, note: str, data: dict) -> str:
    js, css = _vis_assets()
    csp = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
           "img-src data:; font-src data:")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{css}</style>
<style>
html, body {{ margin: 0; height: 100%; font-family: system-ui, sans-serif; }}
header {{ padding: .5em 1em; }} header h1 {{ font-size: 1.2em; margin: 0; }}
#network {{ position: absolute; top: 4.5em; bottom: 0; left: 0; right: 15em; border-top: 1px solid #ddd; }}
aside {{ position: absolute; top: 4.5em; right: 0; width: 14em; padding: 0 .5em; font-size: .85em; }}
.legend {{ list-style: none; padding: 0; }} .legend li {{ margin: .2em 0; }}
.swatch {{ display: inline-block; width: .9em; height: .9em; margin-right: .4em; vertical-align: middle; }}
.line {{ display: inline-block; width: 1.6em; border-top: 2px solid; margin-right: .4em; vertical-align: middle; }}
.line.dashed {{ border-top-style: dashed; }}
.note {{ color: #a33; margin: .2em 0; font-size: .9em; }}
#progress {{ color: #666; font-size: .9em; }}
.tip {{ max-width: 28em; white-space: normal; font-size: 12px; }} .tip .kind {{ color: #666; }}
.tip ul {{ padding-left: 1.1em; margin: .3em 0; }}
</style></head>
<body>
<header><h1>{html.escape(title)}</h1>
{f'<p class="note">{html.escape(note)}</p>' if note else ''}<span id="progress"></span></header>
<div id="network"></div>
<aside>{_legend()}<p>Not legal advice. Hover a node or edge for its definition and sources.</p></aside>
<script type="application/json" id="graph-data">{_json_for_script(data)}</script>
<script>{js}</script>
<script>{_SCRIPT}</script>
</body></html>
"""


# -- pictures of the knowledge base ------------------------------------------------

def _terms(kb) -> dict:
    return kb.catalog.term_details()


def _add_term(pic: Picture, kb, iri: str, kind: str | None = None) -> None:
    t = _terms(kb).get(str(iri))
    srcs = [kb.source(s) for s in sorted(str(t.get("sources", "")).split())] if t else []
    pic.add_node(str(iri), kb.label(iri), kind or (str(t["kind"]) if t else "role"),
                 t.get("definition") if t else None, srcs)


def _add_rule(pic: Picture, kb, rule) -> None:
    pic.add_node(rule.iri, f"{kb.label(rule.role)} / {kb.label(rule.procedure)}: {rule.permission}", "rule",
                 f"{rule.permission}, {rule.supervision}" + (f". {rule.conditions}" if rule.conditions else ""),
                 [kb.source(s) for s in rule.sources])
    _add_term(pic, kb, rule.role, "role")
    _add_term(pic, kb, rule.procedure, "procedure")
    _add_term(pic, kb, rule.jurisdiction, "jurisdiction")
    pic.add_edge(rule.role, rule.iri, "rule of")
    pic.add_edge(rule.iri, rule.procedure, "performs")
    pic.add_edge(rule.iri, rule.jurisdiction, "in")
    for sup in rule.supervisors:
        _add_term(pic, kb, sup, "role")
        pic.add_edge(rule.iri, sup, "supervised by", rule=rule.iri)


def _overview(kb, pic: Picture, jurisdiction: str | None) -> None:
    """Roles, procedures, products, conditions and referral/supervision edges (one jurisdiction's rules)."""
    from medspa_graph.questions.rules import effective_rules

    code = jurisdiction or "US"
    jur = kb.jurisdiction(code)
    rules = kb.catalog.rules(jur)
    anc = kb.catalog.ancestors
    ctx = kb.resolution_context(jur)
    for iri, t in _terms(kb).items():
        if str(t["kind"]) in ("role", "procedure", "product", "condition"):
            _add_term(pic, kb, iri)
    for child, parents in sorted(kb.catalog.direct_parents().items()):  # the same picture from any store
        for p in sorted(parents):
            if child in pic.nodes and p in pic.nodes:
                pic.add_edge(child, p, "is a")
    for r in kb.catalog.named("product-uses"):
        pic.add_edge(str(r["procedure"]), str(r["product"]), "uses product")
    seen = set()
    for r in rules:
        for eff in effective_rules(rules, r.role, r.procedure, anc, ctx):
            if (eff.role, eff.procedure) in seen or eff.procedure != r.procedure:
                continue
            seen.add((eff.role, eff.procedure))
            if eff.permission == "not-permitted":
                continue
            src = [kb.source(s) for s in eff.sources]
            pic.add_edge(eff.role, eff.procedure, "performs", rule=eff.iri, sources=src)
            for sup in eff.supervisors:
                pic.add_edge(eff.role, sup, "supervised by", rule=eff.iri, sources=src)
    for r in kb.catalog.referral_rules():
        if r["jurisdiction"] and r["jurisdiction"] != str(jur) and jurisdiction:
            continue
        pic.add_edge(r["fromRole"], r["toRole"], "refers to", rule=r["rule"],
                     sources=[kb.source(s) for s in r["sources"]])
        for c in r["conditions"]:
            pic.add_edge(c, r["toRole"], "referred to", rule=r["rule"])
    # edges may name terms outside the four kinds (e.g. a treatment); give them nodes
    for s, d, _, _ in list(pic.edges):
        for n in (s, d):
            if n not in pic.nodes:
                _add_term(pic, kb, n)


def picture(kb, *, focus: str | None = None, jurisdiction: str | None = None,
            chain: tuple[str, str] | None = None, refer: str | None = None, to: str | None = None,
            condition: str | None = None, max_nodes: int = 2500) -> Picture:
    """A picture of the knowledge base, or of one question's answer with its path highlighted.

    - no arguments: roles, procedures, products and conditions with the US
      baseline's "performs" and "supervised by" edges, referrals and product use;
    - ``jurisdiction``: the same with that jurisdiction's effective rules;
    - ``focus``: a term and everything within two steps of it, every jurisdiction's
      rules included as rule nodes;
    - ``chain=(role, procedure)``: the supervision graph, the first chain the
      API returns highlighted, laid out as a hierarchy;
    - ``refer=role`` (``to``, ``condition``): the referral graph with the
      shortest path highlighted.

    Raises UnknownTermError / UnknownJurisdictionError for names it cannot resolve.
    """
    import networkx as nx

    from medspa_graph.questions.answers import referral_paths, supervision_chains
    from medspa_graph.questions.projections import referral_graph, supervision_graph

    if chain:
        role, procedure = chain
        code = jurisdiction or "US"
        ans = supervision_chains(kb, role, procedure, code)
        pic = Picture(f"Supervision: {ans['role']['label']} performing {ans['procedure']['label']} in {code}",
                      layout="hierarchical")
        g = supervision_graph(kb, ans["procedure"]["id"], kb.jurisdiction(code))
        for n, a in g.nodes(data=True):
            _add_term(pic, kb, n, "role")
            if a.get("permission") in ("not-permitted", None):
                pic.nodes[n]["label"] += " (not permitted)" if a.get("permission") else " (no rule)"
        for s, d, a in g.edges(data=True):
            pic.add_edge(s, d, "supervised by", rule=a.get("rule"), sources=[kb.source(x) for x in a.get("sources", [])])
        _add_term(pic, kb, ans["role"]["id"], "role")
        if ans["chains"]:
            pic.highlight([step["id"] for step in ans["chains"][0]])
        else:
            pic.note = f"No supervision chain ({ans['status']}): {ans['problem']}"
        return pic
    if refer:
        ans = referral_paths(kb, refer, to, condition)
        what = f" for {ans['condition']['label']}" if ans["condition"] else ""
        dest = f" to {ans['to']['label']}" if ans["to"] else ""
        pic = Picture(f"Referrals from {ans['from']['label']}{dest}{what}", layout="hierarchical")
        g = referral_graph(kb, ans["condition"]["id"] if ans["condition"] else None)
        for n in g.nodes:
            _add_term(pic, kb, n, "role")
        for s, d, a in g.edges(data=True):
            pic.add_edge(s, d, "refers to", rule=a["rule"], sources=[kb.source(x) for x in a["sources"]])
        _add_term(pic, kb, ans["from"]["id"], "role")
        if ans["paths"]:
            pic.highlight([step["id"] for step in ans["paths"][0]])
        else:
            pic.note = "No referral path."
        return pic

    if focus:
        term = _resolve_any(kb, focus)
        pic = Picture(f"Around {kb.label(term)}")
        for code in kb.jurisdictions():
            if jurisdiction and code not in (jurisdiction, "US"):
                continue
            for r in kb.catalog.rules(kb.jurisdiction(code)):
                if r.jurisdiction == str(kb.jurisdiction(code)):
                    _add_rule(pic, kb, r)
        _overview(kb, pic, jurisdiction)
        g = nx.Graph()
        g.add_edges_from((s, d) for s, d, _, _ in pic.edges)
        keep = set(nx.single_source_shortest_path_length(g, term, cutoff=2)) if term in g else {term}
        _add_term(pic, kb, term)
        pic.nodes = {n: a for n, a in pic.nodes.items() if n in keep}
        pic.keep_edges(keep)
        pic.highlight([term])
        pic.cap(max_nodes)
        return pic

    code = jurisdiction or "US"
    kb.jurisdiction(code)  # unknown codes fail here
    pic = Picture("medspa-graph: who may do what" + (f" in {code}" if jurisdiction else " (US baseline)"))
    _overview(kb, pic, jurisdiction)
    pic.cap(max_nodes)
    return pic


def _resolve_any(kb, name: str) -> str:
    """A term of any kind; the first kind that knows the name wins."""
    from medspa_graph.errors import UnknownJurisdictionError, UnknownTermError

    close = []
    for kind in ("procedure", "role", "product", "condition", "treatment", "jurisdiction"):
        try:
            return str(kb.resolve(name, kind))
        except UnknownTermError as e:
            if str(e).startswith("ambiguous"):
                raise
            close += e.matches
        except UnknownJurisdictionError:
            pass
    raise UnknownTermError(name, "term", close[:5])


# -- served pictures ---------------------------------------------------------------

VIZ_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; font-src data:"
_PARAMS = {"focus", "jurisdiction", "chain", "procedure", "refer", "to", "condition"}

#: Example views linked from the server's home page.
EXAMPLES = [
    ("the whole graph (US baseline)", "viz"),
    ("California's rules", "viz?jurisdiction=US-CA"),
    ("around neurotoxin injection", "viz?focus=botox"),
    ("supervision: medical assistant, laser hair removal, Texas",
     "viz?chain=medical+assistant&procedure=laser+hair+removal&jurisdiction=US-TX"),
    ("referrals: esthetician to dermatologist", "viz?refer=esthetician&to=dermatologist"),
]


def http_pages(get_kb) -> dict:
    """Routes for :class:`~medspa_graph.serve.server.SparqlServer`: ``/viz`` with the CLI's options as parameters.

    ``/viz?focus=botox``, ``/viz?jurisdiction=US-CA``,
    ``/viz?chain=ROLE&procedure=PROC&jurisdiction=CODE``, ``/viz?refer=ROLE&to=ROLE&condition=C``.
    """
    from medspa_graph.errors import HttpError, MedspaGraphError

    def page(params: dict):
        unknown = sorted(set(params) - _PARAMS)
        if unknown:
            raise HttpError(400, f"unknown parameter {unknown[0]!r}; known: {', '.join(sorted(_PARAMS))}")
        if "chain" in params and "procedure" not in params:
            raise HttpError(400, "chain= needs procedure= as well")
        try:
            pic = picture(get_kb(), focus=params.get("focus"), jurisdiction=params.get("jurisdiction"),
                          chain=(params["chain"], params["procedure"]) if "chain" in params else None,
                          refer=params.get("refer"), to=params.get("to"), condition=params.get("condition"))
        except MedspaGraphError as e:
            raise HttpError(400, str(e)) from None
        return 200, "text/html; charset=utf-8", pic.html().encode("utf-8"), {"Content-Security-Policy": VIZ_CSP}

    return {"/viz": ("Pictures", page)}
