"""SPARQL and Python as tool users expect: every query form through the CLI and kb.query,
predeclared prefixes and a documented base, an rdflib Graph, projections by name, the
project's own --endpoint against its own serve with no extra flags, and Graph Store reads.
"""

import http.client
import json

import networkx as nx
import pytest
import rdflib
from conftest import run_cli, start_server

from medspa_graph.sparql.store import KB_GRAPH
from medspa_graph.sparql.text import BASE_IRI

pytestmark = pytest.mark.slow  # real servers, the CLI and real clients

MS = "https://w3id.org/medspa-graph/ontology#"


def test_kb_query_answers_each_form_with_its_python_type(kb):
    assert kb.query("ASK { ?r a ms:ScopeRule }") is True
    assert kb.query("ASK { ?r a ms:NoSuchClass }") is False
    g = kb.query("CONSTRUCT { ?j a ms:Jurisdiction } WHERE { ?j a ms:Jurisdiction }")
    assert isinstance(g, rdflib.Graph) and len(g) == len(kb.jurisdictions())
    d = kb.query("DESCRIBE jur:US-TX")
    assert isinstance(d, rdflib.Graph)
    assert (rdflib.URIRef("https://w3id.org/medspa-graph/jurisdiction/US-TX"), rdflib.RDFS.label,
            rdflib.Literal("Texas", lang="en")) in d


def test_an_empty_select_keeps_its_columns(kb):
    df = kb.query("SELECT ?role ?label WHERE { ?role a ms:NoSuchClass ; rdfs:label ?label }")
    assert list(df.columns) == ["role", "label"] and len(df) == 0


def test_relative_iris_resolve_against_the_documented_base(kb):
    df = kb.query("SELECT (<x/y> AS ?i) WHERE {}")
    assert df["i"][0] == BASE_IRI + "x/y"


def test_a_query_declaring_a_prefix_overrides_the_predeclared_one(kb):
    df = kb.query("PREFIX ms: <urn:other#> SELECT (ms:a AS ?i) WHERE {}")
    assert df["i"][0] == "urn:other#a"


def test_the_cli_answers_ask_construct_and_describe_from_text_files_and_stdin(tmp_path):
    r = run_cli("query", "ASK { ?r a ms:ScopeRule }")
    assert r.returncode == 0 and r.stdout == "true\n"
    r = run_cli("query", "ASK { ?r a ms:ScopeRule }", "--format", "json")
    assert json.loads(r.stdout) == {"head": {}, "boolean": True}
    f = tmp_path / "c.rq"
    f.write_text("CONSTRUCT { ?j a ms:Jurisdiction } WHERE { ?j a ms:Jurisdiction }")
    r = run_cli("query", str(f), "--format", "nt")
    assert r.returncode == 0 and r.stdout.count(f"<{MS}Jurisdiction> .") >= 14
    r = run_cli("query", str(f), "--format", "jsonld")
    assert isinstance(json.loads(r.stdout), list)
    import subprocess
    import sys

    p = subprocess.run([sys.executable, "-m", "medspa_graph", "query", "-", "--format", "ttl"],
                       input="DESCRIBE jur:US-TX", capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "Texas" in p.stdout
    g = rdflib.Graph().parse(data=p.stdout, format="turtle")
    assert len(g) > 3


@pytest.mark.parametrize("args,message", [
    (["CONSTRUCT WHERE { ?s ?p ?o }", "--format", "csv"], "a CONSTRUCT query answers with a graph"),
    (["SELECT * WHERE { ?s ?p ?o }", "--format", "ttl"], "a SELECT query answers with results"),
    (["ASK {}", "--format", "tsv"], "an ASK query answers true or false"),
    (["DELETE WHERE { ?s ?p ?o }"], "DELETE is an update"),
])
def test_a_format_that_does_not_fit_the_form_is_one_line_and_exit_2(args, message):
    r = run_cli("query", *args)
    assert r.returncode == 2 and message in r.stderr and r.stderr.count("\n") == 1 and r.stdout == ""


def test_a_select_with_no_variables_says_so():
    r = run_cli("query", "SELECT * WHERE { }")
    assert r.returncode == 0 and r.stdout == "(1 row, no variables)\n"


def test_kb_graph_is_an_rdflib_graph_of_the_whole_knowledge_base(kb):
    g = kb.graph
    assert isinstance(g, rdflib.Graph) and len(g) == kb.count()
    assert g is kb.graph  # built once
    rows = list(g.query(f"SELECT (COUNT(?r) AS ?n) WHERE {{ ?r a <{MS}ScopeRule> }}"))
    assert int(rows[0][0]) == int(kb.query("SELECT (COUNT(?r) AS ?n) WHERE { ?r a ms:ScopeRule }")["n"][0])


def test_projections_take_the_names_people_type(kb):
    from medspa_graph.questions.projections import referral_graph, supervision_graph

    by_name = kb.supervision_graph("botox", "US-TX")
    by_iri = supervision_graph(kb, kb.resolve("botox", "procedure"), kb.jurisdiction("US-TX"))
    assert isinstance(by_name, nx.DiGraph) and nx.utils.graphs_equal(by_name, by_iri)
    cond = kb.resolve("melasma", "condition")
    assert nx.utils.graphs_equal(kb.referral_graph(condition="melasma"), referral_graph(kb, cond))
    from medspa_graph.errors import UnknownTermError

    with pytest.raises(UnknownTermError, match="unknown procedure 'botx'"):
        kb.supervision_graph("botx", "US-TX")


# -- the project's own client against its own server ------------------------------------------

@pytest.fixture(scope="module")
def server(_private_cache):
    srv = start_server(workers=2)
    yield srv
    srv.close()


def test_endpoint_against_our_own_serve_needs_no_extra_flags(server):
    url = f"http://{server.host}:{server.port}/sparql"
    remote = run_cli("who-can", "botox", "-j", "US-CA", "--format", "json", "--endpoint", url)
    local = run_cli("who-can", "botox", "-j", "US-CA", "--format", "json")
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    r = run_cli("query", f"SELECT (COUNT(*) AS ?n) FROM <{KB_GRAPH}> WHERE {{ ?s ?p ?o }}", "--format", "json",
                "--endpoint", url)
    assert r.returncode == 0, r.stderr
    assert int(json.loads(r.stdout)["results"]["bindings"][0]["n"]["value"]) == server.pool.triples


def _get(server, target, accept=None):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("GET", target, headers={"Accept": accept} if accept else {})
    resp = conn.getresponse()
    return resp.status, resp.getheader("Content-Type"), resp.read()


@pytest.mark.parametrize("accept,fmt", [("text/turtle", "turtle"), ("application/n-triples", "nt"),
                                        ("application/ld+json", "json-ld")])
def test_graph_store_reads_the_default_graph_in_each_format(server, accept, fmt):
    status, ctype, body = _get(server, "/store?default", accept)
    assert status == 200 and ctype.startswith(accept)
    assert len(rdflib.Graph().parse(data=body, format=fmt)) == server.pool.triples


def test_graph_store_reads_the_pushed_graph_name_as_the_default_graph(server):
    from urllib.parse import quote

    status, _, body = _get(server, "/store?graph=" + quote(KB_GRAPH, safe=""), "application/n-triples")
    assert status == 200 and body.count(b"\n") == server.pool.triples


@pytest.mark.parametrize("target,status,message", [
    ("/store?graph=urn%3Ano-such-graph", 404, "no graph <urn:no-such-graph> in this store"),
    ("/store", 400, "GET /store takes ?default or one ?graph=IRI"),
    ("/store?default&graph=urn%3Ax", 400, "GET /store takes ?default or one ?graph=IRI"),
])
def test_graph_store_errors_are_one_line(server, target, status, message):
    got, _, body = _get(server, target)
    assert got == status and body.decode() == message + "\n"


def test_graph_store_is_read_only(server):
    conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
    conn.request("PUT", "/store?default", body=b"<urn:a> <urn:b> <urn:c> .",
                 headers={"Content-Type": "application/n-triples"})
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 405
    status, _, body = _get(server, "/store?default", "application/n-triples")
    assert b"<urn:a> <urn:b> <urn:c>" not in body


def test_an_audit_result_shows_itself_in_jupyter_escaped(kb, tmp_path):
    from pathlib import Path

    audit_dir = Path(__file__).parent / "data" / "audit"
    result = kb.audit(audit_dir / "roster.csv", audit_dir / "clinics.csv", audit_dir / "appointments.csv")
    page = result._repr_html_()
    assert page.startswith("<div class='medspa-audit'>") and "Findings by check" in page
    assert f"of {len(result.findings)} findings" in page
    for check in set(result.findings["check"]):
        assert check in page
    assert "<script" not in page


def test_tables_fit_80_columns_and_never_split_a_word():
    import os
    import re
    import subprocess
    import sys

    env = dict(os.environ, COLUMNS="80")
    r = subprocess.run([sys.executable, "-m", "medspa_graph", "who-can", "botox", "-j", "US-FL"],
                       capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    answer = json.loads(run_cli("who-can", "botox", "-j", "US-FL", "--format", "json").stdout)
    words = {w for rec in answer["practitioners"] for v in (rec["supervision"], rec["permission"])
             for w in re.split(r"[/\s]", v)}
    table_words = set(re.split(r"[\s/]+", r.stdout))
    for w in words:  # each word is whole somewhere in the table, or split only after a hyphen
        assert w in table_words or all(part in r.stdout for part in w.split("-")), w
    assert "protocol/standi\n" not in r.stdout and "standi" not in table_words


def test_chains_and_paths_come_as_dataframes_on_request(kb):
    chains = kb.supervision_chains("medical assistant", "botox", "US-TX")
    df = kb.supervision_chains("medical assistant", "botox", "US-TX", frame=True)
    assert list(df.columns) == ["chain", "hop", "performer", "supervisor", "supervision", "rule"]
    assert len(df) == sum(len(c) - 1 for c in chains)
    first = df[df.chain == 0].sort_values("hop")
    assert [first.performer.iloc[0]] + list(first.supervisor) == [s["label"] for s in chains[0]]
    paths = kb.referral_paths("esthetician", "dermatologist")
    pf = kb.referral_paths("esthetician", "dermatologist", frame=True)
    assert len(pf) == sum(len(p) - 1 for p in paths) and (pf["from"].iloc[0], pf["to"].iloc[0]) == (
        "esthetician", "dermatologist")
    assert pf.conditions.iloc[0] and pf.rules.iloc[0].startswith("https://")
