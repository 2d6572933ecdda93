"""The map of the states: every state and DC drawn, each coloured by the who-can answer there
(checked against an oracle written here from ``kb.who_can``), offline and script-free, through
Python, the CLI, ``serve`` and a real Chromium."""

import http.client
import re
import xml.etree.ElementTree as ET
from urllib.parse import quote, urlsplit

import pytest
from conftest import run_cli, start_server

pytestmark = pytest.mark.slow  # each map asks who-can in all 51 jurisdictions; the CLI, a server, chromium

SUPERVISION = {"independent": "independent", "onsite/direct": "onsite", "available/indirect": "available",
               "protocol/standing-order": "protocol", "supervised": "supervised"}
CASES = [("registered nurse", "botox"), ("esthetician", "microneedling"),
         ("nurse practitioner", "laser hair removal")]


def expected_colours(kb, role, procedure) -> dict:
    """The oracle: each known state's answer from kb.who_can, by hand, as the README's legend reads it."""
    from medspa_graph.errors import UnknownJurisdictionError

    role_id = str(kb.resolve(role, "role"))
    out = {}
    from medspa_graph.viz.usmap import STATES

    for code in STATES.values():
        try:
            df = kb.who_can(procedure, code)
        except UnknownJurisdictionError:
            out[code] = "not-in-graph"
            continue
        rows = df[df.role_id == role_id]
        silent = any(s["role"]["id"] == role_id for s in df.attrs["searched"])
        if rows.empty:
            out[code] = "searched-no-rule" if silent else "no-rule"
        elif rows.conflict.any() or len(set(zip(rows.permission, rows.supervision))) > 1:
            out[code] = "conflict"
        elif rows.basis.iloc[0] == "baseline":
            out[code] = "searched-baseline" if silent else "no-state-rule"
        elif rows.permission.iloc[0] in ("not-permitted", "conditional"):
            out[code] = rows.permission.iloc[0]
        else:
            out[code] = SUPERVISION[rows.supervision.iloc[0]]
    return out


@pytest.mark.parametrize("role,procedure", CASES)
def test_every_state_is_coloured_by_its_who_can_answer(kb, role, procedure):
    m = kb.map(role, procedure)
    assert len(m.colours) == 51
    assert m.colours == expected_colours(kb, role, procedure)


def test_the_svg_has_51_shapes_with_dc_marked_and_a_legend(tmp_path):
    out = tmp_path / "rn.svg"
    r = run_cli("map", "registered nurse", "botox", "--out", str(out))
    assert r.returncode == 0 and r.stdout.startswith(f"wrote {out}: registered nurse")
    svg = ET.parse(out).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    paths = svg.findall(".//s:path[@class='state']", ns)
    assert len(paths) == 51 and len({p.get("data-state") for p in paths}) == 51
    assert svg.find(".//s:circle[@data-state='US-DC']", ns) is not None
    texts = [t.text for t in svg.findall(".//s:text", ns)]
    from medspa_graph.viz.usmap import CATEGORIES

    legend = {label for label, _colour in CATEGORIES.values()}
    assert "DC" in texts and any(t in legend for t in texts)
    assert all(p.find("s:title", ns).text for p in paths)  # hover text for every state


def test_a_bad_map_request_is_one_line(tmp_path):
    r = run_cli("map", "registered nurse", "botx", "--out", str(tmp_path / "m.html"))
    assert r.returncode == 2 and "unknown procedure 'botx'" in r.stderr and r.stderr.count("\n") == 1
    r = run_cli("map", "registered nurse", "botox", "--out", str(tmp_path / "m.pdf"))
    assert r.returncode == 2 and "a map is written as .html or .svg" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_labels_and_sources_are_escaped_and_only_web_links(kb):
    page = kb.map("registered nurse", "botox").html()
    assert "<script" not in page.lower()
    hrefs = re.findall(r'href="([^"]+)"', page)
    assert hrefs and all(h.startswith(("#US-", "https://", "http://")) for h in hrefs)


def test_serve_draws_the_map_with_no_script_allowed(_private_cache):
    from medspa_graph.cli.main import _picture_pages

    srv = start_server(pages=_picture_pages())
    try:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=120)
        conn.request("GET", "/map?role=" + quote("registered nurse") + "&procedure=botox")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200 and body.count(b'class="state"') == 51
        assert resp.getheader("Content-Security-Policy").startswith("default-src 'none'")
        conn.request("GET", "/map?role=nurse")
        resp = conn.getresponse()
        assert resp.status == 400 and resp.read() == b"/map needs role= and procedure=\n"
    finally:
        srv.close()


def test_the_map_in_chromium_matches_who_can_and_stays_offline(kb, tmp_path):
    """51 shapes drawn, each state's fill the legend colour of its who-can answer, no script
    errors, no request leaving file://, and a click opens the state's rule and sources."""
    from playwright.sync_api import sync_playwright
    from test_browser import ARTIFACTS, chromium_path

    from medspa_graph.viz.usmap import CATEGORIES

    m = kb.map("registered nurse", "botox")
    page_path = m.write(tmp_path / "rn-botox.html")
    want = expected_colours(kb, "registered nurse", "botox")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        requests, errors = [], []
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
        page.goto("file://" + str(page_path))
        drawn = page.evaluate("""() => Array.from(document.querySelectorAll('path.state')).map(p => {
            const b = p.getBBox(); return [p.dataset.state, getComputedStyle(p).fill, b.width * b.height]; })""")
        assert len(drawn) == 51
        colours = {c: colour for c, (_label, colour) in CATEGORIES.items()}
        for state, fill, area in drawn:
            r, g, b = (int(x) for x in re.findall(r"\d+", fill)[:3])
            assert f"#{r:02x}{g:02x}{b:02x}" == colours[want[state]], state
            assert area > 0, state
        state = next(s for s, c in want.items() if c not in ("not-in-graph", "no-rule"))
        page.click(f"#shape-{state}")
        panel = page.locator(f"section#{state}")
        assert panel.is_visible() and panel.locator("a").count() >= 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "map-rn-botox.png"), full_page=True)
        browser.close()
    assert errors == []
    assert {urlsplit(u).scheme for u in requests} == {"file"}


def test_a_map_as_of_a_date_colours_by_the_rules_in_force_that_day(kb):
    for day in ("2025-06-01", "2025-10-01"):
        m = kb.map("registered nurse", "IV therapy", as_of=day)
        assert m.as_of == day and day in m.title()
        df = kb.who_can("IV therapy", "US-TX", as_of=day)
        rows = df[df.role_id == str(kb.resolve("registered nurse", "role"))]
        assert (m.colours["US-TX"] in ("no-rule",)) == rows.empty
    from medspa_graph.errors import MedspaGraphError

    with pytest.raises(MedspaGraphError, match="as_of takes a date YYYY-MM-DD"):
        kb.map("registered nurse", "botox", as_of="last June")
