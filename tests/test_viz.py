"""Pictures without a browser: what the HTML contains, what the command writes, how big graphs are capped."""

import html
import json
import re

import pytest

from medspa_graph.errors import UnknownJurisdictionError, UnknownTermError
from medspa_graph.viz.network import Picture, picture


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_the_page_loads_nothing_from_a_network(kb):
    page = picture(kb).html()
    assert re.search(r'<(script|link|img|iframe)[^>]+(src|href)=', page) is None
    assert "cdn.jsdelivr" not in page and "cdnjs.cloudflare" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "vis.Network" in page  # vis-network is inlined


def test_graph_data_round_trips_and_cannot_close_its_script(kb):
    pic = Picture("t")
    pic.add_node("urn:a", "</script><script>alert(1)</script>", "role", "<b>&amp;</b>", [])
    pic.add_node("urn:b", "b\u2028c", "procedure")
    pic.add_edge("urn:a", "urn:b", "performs")
    page = pic.html()
    assert "</script><script>alert(1)" not in page
    data = _data(page)
    assert [n["label"] for n in data["nodes"]] == ["</script><script>alert(1)</script>", "b\u2028c"]
    assert data["nodes"][0]["info"]["definition"] == "<b>&amp;</b>"


def test_parallel_rules_merge_into_one_drawn_edge():
    pic = Picture("t")
    pic.add_node("urn:a", "a", "role")
    pic.add_node("urn:b", "b", "role")
    for i in range(3):
        pic.add_edge("urn:a", "urn:b", "refers to", rule=f"urn:rule{i}", sources=[{"id": f"s{i}"}, {"id": "s0"}])
    assert len(pic.edges) == 1
    assert pic.edges[0][3]["rules"] == ["urn:rule0", "urn:rule1", "urn:rule2"]
    assert [s["id"] for s in pic.edges[0][3]["sources"]] == ["s0", "s1", "s2"]


def test_big_graphs_are_capped_with_a_note_keeping_the_highlighted_path():
    pic = Picture("big")
    for i in range(300):
        pic.add_node(f"urn:{i}", str(i), "rule")
    for i in range(1, 300):
        pic.add_edge("urn:0", f"urn:{i}", "in")
    pic.highlight(["urn:299", "urn:298"])
    assert pic.options()["layout"]["improvedLayout"] is False  # what takes minutes on big graphs
    pic.cap(50)
    assert len(pic.nodes) == 50 and {"urn:0", "urn:299", "urn:298"} <= set(pic.nodes)
    assert "50 best-connected of 300" in pic.note
    assert all(s in pic.nodes and d in pic.nodes for s, d, _, _ in pic.edges)


def test_views_highlight_what_the_api_answers(kb):
    from medspa_graph.questions.answers import referral_paths

    pic = picture(kb, refer="esthetician", to="dermatologist")
    assert pic.highlighted_nodes == [s["id"] for s in referral_paths(kb, "esthetician", "dermatologist")["paths"][0]]
    assert pic.layout == "hierarchical"
    focus = picture(kb, focus="botox")
    botox = str(kb.resolve("botox", "procedure"))
    assert focus.highlighted_nodes == [botox] and botox in focus.nodes
    assert any(a["kind"] == "rule" for a in focus.nodes.values())


def test_unknown_names_fail_with_suggestions(kb):
    with pytest.raises(UnknownTermError, match="closest"):
        picture(kb, focus="botx")
    with pytest.raises(UnknownJurisdictionError):
        picture(kb, jurisdiction="US-XX")
    with pytest.raises(UnknownTermError):
        picture(kb, chain=("nobody", "botox"))


def test_inline_notebook_view_is_an_isolated_iframe(kb):
    out = picture(kb, chain=("registered nurse", "botox"), jurisdiction="US-FL")._repr_html_()
    assert out.startswith("<iframe srcdoc=") and 'sandbox="allow-scripts allow-popups"' in out
    inner = html.unescape(re.search(r'srcdoc="(.*?)" style', out, re.S).group(1))
    assert inner.startswith("<!doctype html>") and "vis.Network" in inner


@pytest.mark.slow
def test_viz_command_writes_only_the_file_it_is_told(cli, tmp_path):
    r = cli("viz", "--refer", "esthetician", "--to", "dermatologist", "--out", "pics/refer.html", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert [str(p.relative_to(tmp_path)) for p in sorted(tmp_path.rglob("*"))] == ["pics", "pics/refer.html"]
    assert "nodes" in r.stdout and "edges" in r.stdout
    r = cli("viz", "--focus", "botx", "--out", "x.html", cwd=tmp_path)
    assert r.returncode == 2 and "unknown term 'botx'" in r.stderr and r.stderr.count("\n") == 1
    assert not (tmp_path / "x.html").exists()
