"""Faults on a real Virtuoso: not running, wrong or missing credentials, a query it rejects, a cut answer.

Each is one line naming the endpoint and what went wrong (the engine's own message when it
sent one), exit code 3, no traceback, and never the password.
"""

import json

import pytest

pytestmark = pytest.mark.slow  # a real Virtuoso

PASSWORD = "right-horse-battery-staple"


@pytest.fixture(scope="module")
def virtuoso_kb(virtuoso, kb):
    """Virtuoso holding the pushed graph, with a user ``medspa`` allowed to update through ``/sparql-auth``."""
    from medspa_graph.kb import built_ntriples
    from medspa_graph.sparql.remote import push

    virtuoso.isql(f"DB.DBA.USER_CREATE('medspa', '{PASSWORD}'); GRANT SPARQL_UPDATE TO \"medspa\";")
    source, _ = built_ntriples()
    push(source, kb.count(), virtuoso.url)
    return virtuoso


def _one_line_error(r, *needles):
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("medspa-graph: error: "), r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def test_a_server_that_is_not_running(cli, free_port):
    url = f"http://127.0.0.1:{free_port}/sparql"
    _one_line_error(cli("who-can", "botox", "--endpoint", url), "cannot reach", url)
    _one_line_error(cli("who-can", "botox", "--endpoint", url, "--engine", "virtuoso"), "cannot reach", url)
    _one_line_error(cli("push", "--endpoint", url, "--engine", "virtuoso"), "cannot reach", url)


def test_credentials_go_to_the_authenticated_endpoints_by_digest(virtuoso_kb, cli, kb, monkeypatch):
    monkeypatch.setenv("MEDSPA_GRAPH_ENDPOINT_USER", "medspa")
    monkeypatch.setenv("MEDSPA_GRAPH_ENDPOINT_PASSWORD", PASSWORD)
    url = virtuoso_kb.base + "/sparql-auth"
    r = cli("push", "--endpoint", url, "--graph", "https://example.org/graph/authenticated")
    assert r.returncode == 0, r.stderr
    assert "/sparql-graph-crud-auth" in r.stdout and PASSWORD not in r.stdout + r.stderr
    local = cli("who-can", "botox", "-j", "US-FL", "--format", "json")
    remote = cli("who-can", "botox", "-j", "US-FL", "--format", "json", "--endpoint", url,
                 "--graph", "https://example.org/graph/authenticated")
    assert remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)


def test_wrong_credentials(virtuoso_kb, cli, monkeypatch):
    url = virtuoso_kb.base + "/sparql-auth"
    monkeypatch.setenv("MEDSPA_GRAPH_ENDPOINT_USER", "medspa")
    monkeypatch.setenv("MEDSPA_GRAPH_ENDPOINT_PASSWORD", "not-the-password")
    for r in (cli("who-can", "botox", "--endpoint", url), cli("push", "--endpoint", url)):
        _one_line_error(r, url, "refused the credentials (HTTP 401)", "MEDSPA_GRAPH_ENDPOINT_PASSWORD")
        assert "not-the-password" not in r.stderr + r.stdout
    monkeypatch.delenv("MEDSPA_GRAPH_ENDPOINT_USER")
    monkeypatch.delenv("MEDSPA_GRAPH_ENDPOINT_PASSWORD")
    _one_line_error(cli("who-can", "botox", "--endpoint", url), "refused the credentials", "set MEDSPA_GRAPH_ENDPOINT_USER")


def test_a_query_virtuoso_rejects_gives_its_message(virtuoso_kb, cli, tmp_path):
    q = tmp_path / "both-ends-open.rq"
    q.write_text("PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
                 "SELECT ?a ?b WHERE { ?a rdfs:subClassOf* ?b } LIMIT 3\n")
    assert cli("query", q, "--format", "csv").returncode == 0  # valid SPARQL 1.1: the embedded store answers
    r = cli("query", q, "--format", "csv", "--endpoint", virtuoso_kb.url)
    _one_line_error(r, virtuoso_kb.url, "Virtuoso 37000 Error", "transitive start not given")


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_an_answer_cut_at_the_servers_row_limit_is_an_error_not_a_short_answer(virtuoso_kb, cli, fmt, kb, tmp_path):
    assert kb.count() > 10000  # Debian's virtuoso.ini caps answers at ResultSetMaxRows = 10000
    q = tmp_path / "everything.rq"
    q.write_text("SELECT ?s ?p ?o WHERE { ?s ?p ?o }\n")
    r = cli("query", q, "--format", fmt, "--endpoint", virtuoso_kb.url)
    _one_line_error(r, virtuoso_kb.url, "cut the answer at 10000 rows", "ResultSetMaxRows")
