"""Pictures in a real browser: Debian's chromium, headless, driven by Playwright.

Each test opens a picture (from a file, or from ``medspa-graph serve``) and
checks what a person would see: no console errors, no request leaving the
machine, as many drawn nodes and edges as the graph has, the answer's path
highlighted, hostile labels shown as text. Screenshots go to
``$MEDSPA_GRAPH_ARTIFACTS`` (default ``build/test-artifacts``) and are listed
at the end of the test run.
"""

import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.slow  # headless chromium against real servers

ARTIFACTS = Path(os.environ.get("MEDSPA_GRAPH_ARTIFACTS", Path(__file__).resolve().parents[1] / "build" / "test-artifacts"))
HOSTILE = "<img src=x onerror=alert(1)>"


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("Debian chromium is missing: apt-get install chromium (.ci/run does this)")


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                    "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


class Visit:
    """One page load with everything it did recorded."""

    def __init__(self, browser, url: str, allowed_hosts=()):
        # The pages' Content-Security-Policy forbids eval, which Playwright's polling uses; bypassing
        # it also means the escaping, not the CSP, is what keeps hostile labels inert in these tests.
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        self.page = self.context.new_page()
        self.requests, self.console_errors, self.page_errors, self.dialogs = [], [], [], []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        self.page.on("pageerror", lambda e: self.page_errors.append(str(e)))
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.allowed_hosts = set(allowed_hosts)
        self.page.goto(url)
        self.page.wait_for_function("window.medspaGraph && window.medspaGraph.stabilized", timeout=60_000)

    def close(self):
        self.context.close()

    def js(self, expr):
        return self.page.evaluate(expr)

    def outside_requests(self):
        out = []
        for u in self.requests:
            parts = urlsplit(u)
            if parts.scheme in ("file", "data", "about", "blob"):
                continue
            if parts.hostname in self.allowed_hosts:
                continue
            out.append(u)
        return out

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        SAVED.append(path)
        return path

    def assert_clean(self):
        assert self.console_errors == [], self.console_errors
        assert self.page_errors == [], self.page_errors
        assert self.dialogs == [], f"a script ran: {self.dialogs}"
        assert self.outside_requests() == [], self.outside_requests()


SAVED: list[Path] = []


def drawn(visit):
    return visit.js("[medspaGraph.network.body.nodeIndices.length, medspaGraph.network.body.edgeIndices.length]")


def highlighted_pairs(visit):
    return visit.js("medspaGraph.edges.get({filter: e => e.highlight}).map(e => [e.from, e.to])")


def test_a_supervision_chain_picture_draws_every_node_and_highlights_the_api_chain(browser, kb, tmp_path):
    from medspa_graph.questions.answers import supervision_chains
    from medspa_graph.viz.network import picture

    pic = picture(kb, chain=("medical assistant", "laser hair removal"), jurisdiction="US-TX")
    out = pic.write(tmp_path / "chain.html")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chain.html"]  # no lib/ folder, nothing else
    v = Visit(browser, out.as_uri())
    v.assert_clean()
    assert drawn(v) == [len(pic.nodes), len(pic.edges)]
    api = [step["id"] for step in supervision_chains(kb, "medical assistant", "laser hair removal", "US-TX")["chains"][0]]
    assert v.js("medspaGraph.highlighted") == api
    assert sorted(map(tuple, highlighted_pairs(v))) == sorted(zip(api, api[1:]))
    assert len(api) >= 2
    v.screenshot("chain-medical-assistant-laser-hair-removal-US-TX")
    v.close()


def test_the_whole_graph_picture_settles_and_matches_the_graph(browser, kb, tmp_path):
    from medspa_graph.viz.network import picture

    pic = picture(kb, jurisdiction="US-CA")
    v = Visit(browser, pic.write(tmp_path / "ca.html").as_uri())
    v.assert_clean()
    assert drawn(v) == [len(pic.nodes), len(pic.edges)] and len(pic.nodes) > 80
    kinds = set(v.js("medspaGraph.nodes.get().map(n => n.kind)"))
    assert kinds >= {"role", "procedure", "product", "condition"}
    v.screenshot("whole-graph-US-CA")
    v.close()


def test_hostile_labels_show_as_text_and_run_nothing(browser, tmp_path):
    import medspa_graph
    from medspa_graph.viz.network import picture

    data = Path(__file__).parent / "data" / "hostile-label.ttl"
    kb = medspa_graph.load(data)
    pic = picture(kb, focus=HOSTILE)
    # a source with a javascript: URL must not become a link either
    term = next(iri for iri, a in pic.nodes.items() if a["label"] == HOSTILE)
    pic.nodes[term]["sources"].append({"id": "x", "url": "javascript:alert(3)", "title": HOSTILE,
                                       "date": "n.d.", "confidence": "I"})
    html = pic.html()
    assert HOSTILE not in html and "</script><script>alert(2)" not in html
    v = Visit(browser, pic.write(tmp_path / "hostile.html").as_uri())
    v.assert_clean()
    assert v.js("document.querySelectorAll('img').length") == 0
    label = v.js(f"medspaGraph.nodes.get({term!r}).label")
    assert label == HOSTILE
    tip = v.js(f"medspaGraph.nodes.get({term!r}).title.textContent")
    assert HOSTILE in tip and "</script><script>alert(2)</script>" in tip
    hrefs = v.js(f"Array.from(medspaGraph.nodes.get({term!r}).title.querySelectorAll('a')).map(a => a.href)")
    assert all(h.startswith("https://") for h in hrefs) and hrefs
    # hover the node so its tooltip is in the document, then look again
    pos = v.js(f"(() => {{ const p = medspaGraph.network.canvasToDOM(medspaGraph.network.getPositions([{term!r}])[{term!r}]); return [p.x, p.y]; }})()")
    box = v.page.locator("#network").bounding_box()
    v.page.mouse.move(box["x"] + pos[0], box["y"] + pos[1])
    v.page.wait_for_timeout(600)
    assert v.js("document.querySelectorAll('img').length") == 0 and v.dialogs == []
    v.screenshot("hostile-label")
    v.close()


def test_pictures_served_by_serve_stay_on_the_machine(browser, kb, _private_cache):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.questions.answers import referral_paths
    from medspa_graph.serve.server import SparqlServer
    from medspa_graph.viz.network import http_pages

    source, _ = built_ntriples()
    with SparqlServer("snapshot", source, workers=1, quiet=True, pages=http_pages(lambda: kb)) as srv:
        home = browser.new_page()
        home.goto(srv.url + "/")
        links = home.eval_on_selector_all("a[href^='viz']", "els => els.map(e => e.getAttribute('href'))")
        home.close()
        assert len(links) >= 4
        v = Visit(browser, srv.url + "/viz?refer=esthetician&to=dermatologist", allowed_hosts={"127.0.0.1"})
        v.assert_clean()
        api = [s["id"] for s in referral_paths(kb, "esthetician", "dermatologist")["paths"][0]]
        assert v.js("medspaGraph.highlighted") == api
        assert sorted(map(tuple, highlighted_pairs(v))) == sorted(zip(api, api[1:]))
        v.screenshot("served-referral-esthetician-dermatologist")
        v.close()
        page = browser.new_page()
        resp = page.goto(srv.url + "/viz?focus=no-such-thing")
        assert resp.status == 400 and "unknown term" in page.inner_text("body")
        page.close()


def test_served_pages_with_hostile_data_run_no_script(browser, _private_cache):
    """A server holding hostile labels, a hostile source and a hostile rule
    (tests/data/hostile-label.ttl, hostile-source.ttl): its result table, its query echo and its
    picture, every node hovered, run none of their scripts. The pages' Content-Security-Policy
    is bypassed, so the escaping alone is what keeps them inert."""
    from urllib.parse import quote

    from conftest import start_server

    import medspa_graph
    from medspa_graph.viz.network import http_pages

    hostile = (Path(__file__).parent / "data" / "hostile-label.ttl", Path(__file__).parent / "data" / "hostile-source.ttl")
    kb = medspa_graph.load(*hostile)
    table = ("SELECT ?x ?text WHERE { { ?x <http://www.w3.org/2000/01/rdf-schema#label> ?text } UNION "
             "{ ?x <http://purl.org/dc/terms/title> ?text } UNION "
             "{ ?x <https://w3id.org/medspa-graph/ontology#conditions> ?text } FILTER(CONTAINS(STR(?text), '<')) }")
    echo = "# </pre><script>alert(8)</script>\nASK { ?s ?p '</pre><img src=x onerror=alert(9)>' }"
    srv = start_server(hostile, pages=http_pages(lambda: kb))
    try:
        for query in (table, echo):
            context = browser.new_context(bypass_csp=True)
            page = context.new_page()
            dialogs = []
            page.on("dialog", lambda d, seen=dialogs: (seen.append(d.message), d.dismiss()))
            page.set_extra_http_headers({"Accept": "text/html"})
            page.goto(srv.url + "/sparql?query=" + quote(query))
            assert page.locator("table, p").count() >= 1
            assert page.locator("img, iframe, svg, script").count() == 0 and dialogs == []
            assert "<script>alert(3)</script>" in page.inner_text("body") or query is echo
            context.close()
        v = Visit(browser, srv.url + "/viz?focus=" + quote(HOSTILE) + "&jurisdiction=US-FL", allowed_hosts={"127.0.0.1"})
        box = v.page.locator("#network").bounding_box()
        points = v.js("Object.values(medspaGraph.network.getPositions())"
                      ".map(p => { const d = medspaGraph.network.canvasToDOM(p); return [d.x, d.y]; })")
        for x, y in points:
            v.page.mouse.move(box["x"] + x, box["y"] + y)
            v.page.wait_for_timeout(50)
        v.assert_clean()
        assert len(points) >= 3 and v.js("document.querySelectorAll('img, iframe, svg').length") == 0
        assert all(h.startswith("https://") for h in v.js("Array.from(document.querySelectorAll('a')).map(a => a.href)"))
        v.screenshot("served-hostile-focus")
        v.close()
    finally:
        srv.close()


def test_the_query_editor_runs_a_typed_query_and_an_example_offline(browser, kb):
    """YASGUI on /query: a query typed into the editor and run shows its rows; a named query chosen
    from the examples fills the editor; no request leaves the machine; the CSP is enforced (not bypassed)."""
    from conftest import start_server

    srv = start_server(workers=1)
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(srv.url + "/query")
        page.wait_for_selector(".CodeMirror", timeout=30_000)
        page.click(".CodeMirror")
        page.keyboard.press("Control+A")
        page.keyboard.type("SELECT ?j WHERE { ?j a <https://w3id.org/medspa-graph/ontology#Jurisdiction> } LIMIT 20")
        page.click(".yasqe_queryButton")
        page.wait_for_selector(".yasr table tbody tr", timeout=30_000)
        rows = page.locator(".yasr table tbody tr").count()
        assert rows == min(20, len(kb.jurisdictions()))
        page.select_option("#example", label=page.locator("#example option").nth(1).inner_text())
        assert "SELECT" in page.evaluate("window.medspaYasgui.getTab().getQuery()").upper()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "query-editor.png"))
        hosts = {urlsplit(u).hostname for u in requests}
        assert hosts == {"127.0.0.1"}, hosts
        assert errors == []
    finally:
        context.close()
        srv.close()
