"""The same graph and the same answers on every engine: the embedded store, ``oxigraph serve`` and Virtuoso.

Both servers are real: the ``oxigraph`` binary from PyPI and Debian's ``virtuoso-opensource``
(``virtuoso`` in ``conftest.py``), each on free loopback ports. The graph is pushed to each
with ``push`` (the engine recognised from the server), then every named query, every question
and the CLI's commands are compared with the embedded store's answers.
"""

import json
import re
from pathlib import Path

import pytest

import medspa_graph
from medspa_graph.sparql.engines import detect
from medspa_graph.sparql.queries import named_queries, prepare
from medspa_graph.sparql.store import KB_GRAPH, EndpointStore

pytestmark = pytest.mark.slow  # oxigraph serve and Virtuoso

ENGINES = ["oxigraph", "virtuoso"]

# One value per parameter kind, so every named query runs with its parameters bound.
PARAMS = {"jurisdiction": "US-CA", "procedure": "botox", "role": "registered nurse",
          "condition": "rosacea", "product": "botulinum toxin"}


@pytest.fixture(scope="module", params=ENGINES)
def server(request, kb, oxigraph_server):
    """A real server of each engine holding the pushed graph: its query URL and a KnowledgeBase on it."""
    from medspa_graph.kb import built_ntriples
    from medspa_graph.sparql.remote import push

    if request.param == "oxigraph":
        url = oxigraph_server().url + "/query"
    else:
        url = request.getfixturevalue("virtuoso").url
    source, _ = built_ntriples()
    assert push(source, kb.count(), url)["triples"] == kb.count()
    return {"engine": request.param, "url": url, "kb": medspa_graph.load(endpoint=url)}


_CONCAT = re.compile(r'GROUP_CONCAT\((?:DISTINCT\s+)?[^;]*;\s*separator\s*=\s*"([^"]*)"\s*\)\s+AS\s+\?(\w+)', re.I)
_ORDER = re.compile(r"ORDER BY((?:\s+\?\w+)+)\s*$", re.I)


def _canonical(rows, sparql=""):
    """Rows as comparable strings; GROUP_CONCAT values as sorted lists, since SPARQL leaves their order open."""
    concat = {var: sep for sep, var in _CONCAT.findall(sparql)}
    return [json.dumps({k: sorted(str(v).split(concat[k])) if k in concat else v for k, v in r.items()},
                       sort_keys=True, default=str) for r in rows]


def _order_keys(rows, sparql):
    """The ORDER BY variables' values, row by row: the part of the order the query defines."""
    m = _ORDER.search(sparql.strip())
    keys = [v.strip()[1:] for v in m.group(1).split()] if m else []
    return [tuple(str(r.get(k)) for k in keys) for r in rows]


def test_the_engine_is_recognised_from_the_server(server):
    assert detect(server["url"]).name == server["engine"]
    assert server["kb"].store.engine.name == server["engine"]


@pytest.mark.parametrize("name", sorted(named_queries()))
def test_every_named_query_answers_the_same(name, server, kb):
    q = named_queries()[name]
    params = {p: PARAMS[kind] for p, (kind, _) in q.params.items()}
    sparql, bindings = prepare(kb, q, params)
    local = kb.store.select(sparql, bindings or None)
    remote = server["kb"].store.select(sparql, bindings or None)
    assert sorted(_canonical(remote, sparql)) == sorted(_canonical(local, sparql))
    assert _order_keys(remote, sparql) == _order_keys(local, sparql), "ORDER BY gave another order"
    assert local or name in ("conflicting-rules",), f"{name} returned nothing; the comparison would be empty"


QUESTIONS = [
    ("who_can", ("botox", "US-FL")),
    ("who_can", ("laser hair removal", "US-TX")),
    ("who_can", ("chemical peel", "US")),
    ("scope", ("esthetician", "US-TX")),
    ("scope", ("registered nurse", "US-CA")),
    ("compare", ("chemical peel", ["US-CA", "US-TX", "US-NY"])),
    ("compare", ("esthetician", ["US-CA", "US-FL"])),
    ("supervision_chains", ("medical assistant", "laser hair removal", "US-TX")),
    ("supervision_chains", ("registered nurse", "botox", "US-FL")),
    ("supervision_chains", ("esthetician", "botox", "US-CA")),
    ("referral_paths", ("esthetician", "dermatologist", None)),
    ("referral_paths", ("esthetician", None, "suspicious or changing mole")),
]


@pytest.mark.parametrize("question,args", QUESTIONS, ids=[f"{q}-{a[0]}" for q, a in QUESTIONS])
def test_every_question_answers_the_same(question, args, server, kb):
    from medspa_graph.questions import answers as questions

    ask = getattr(questions, question)
    assert json.dumps(ask(server["kb"], *args), sort_keys=True, default=str) == \
        json.dumps(ask(kb, *args), sort_keys=True, default=str)


COMMANDS = [
    ("who-can", "botox", "-j", "US-NY"),
    ("scope", "aesthetician", "-j", "US-TX"),
    ("compare", "botox", "-j", "US-CA", "-j", "US-FL"),
    ("chain", "medical assistant", "laser hair removal", "-j", "US-TX"),
    ("refer", "esthetician", "--to", "dermatologist"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_every_question_command_prints_the_same(command, server, cli):
    local = cli(*command, "--format", "json")
    remote = cli(*command, "--format", "json", "--endpoint", server["url"])
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)


@pytest.mark.parametrize("fmt", ["csv", "tsv", "json", "xml"])
def test_query_command_writes_the_same_results(fmt, server, cli):
    args = ("query", "who-can", "--param", "procedure=botox", "--param", "jurisdiction=US-TX", "--format", fmt)
    local, remote = cli(*args), cli(*args, "--endpoint", server["url"])
    assert local.returncode == remote.returncode == 0, remote.stderr
    if fmt == "json":
        def rows(doc):
            return sorted(json.dumps(b, sort_keys=True) for b in doc["results"]["bindings"])
        assert rows(json.loads(remote.stdout)) == rows(json.loads(local.stdout))
    elif fmt == "xml":
        assert sorted(re.findall(r"<result>.*?</result>", remote.stdout, re.S)) == \
            sorted(re.findall(r"<result>.*?</result>", local.stdout, re.S))
    else:
        assert sorted(remote.stdout.splitlines()) == sorted(local.stdout.splitlines())


def _graphs(url) -> set:
    rows = EndpointStore(url, graph=None).select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    return {str(row["g"]) for row in rows}


def test_push_again_replaces_the_graph_and_leaves_no_staging(server, kb, cli):
    r = cli("push", "--endpoint", server["url"])
    assert r.returncode == 0, r.stderr
    assert f"pushed {kb.count()} triples" in r.stdout and f"replacing {kb.count()}" in r.stdout
    graphs = _graphs(server["url"])
    assert KB_GRAPH in graphs and not [g for g in graphs if g.startswith("urn:medspa-graph:staging")]


def test_push_in_place_replaces_the_graph_without_staging(server, kb, cli):
    graph = "https://example.org/graph/in-place"
    for replacing in (0, kb.count()):
        r = cli("push", "--endpoint", server["url"], "--graph", graph, "--in-place")
        assert r.returncode == 0, r.stderr
        assert f"pushed {kb.count()} triples" in r.stdout and f"replacing {replacing})" in r.stdout
    graphs = _graphs(server["url"])
    assert graph in graphs and not [g for g in graphs if g.startswith("urn:medspa-graph:staging")]


def test_push_in_pieces_keeps_every_triple_and_each_blank_node_whole(server, kb, monkeypatch):
    from medspa_graph.kb import built_ntriples
    from medspa_graph.sparql import remote

    monkeypatch.setattr(remote, "CHUNK_BYTES", 64 << 10)  # the knowledge base in about 30 requests
    source, _ = built_ntriples()
    data = b'_:b1 <urn:ex:p> "x" .\n' + Path(source).read_bytes() + b"<urn:ex:s> <urn:ex:p> _:b1 .\n"
    graph = "https://example.org/graph/pieces"
    assert remote.push(data, kb.count() + 2, server["url"], graph=graph)["triples"] == kb.count() + 2
    rows = EndpointStore(server["url"], graph=graph).select("SELECT ?o WHERE { <urn:ex:s> <urn:ex:p> ?b . ?b <urn:ex:p> ?o }")
    assert rows == [{"o": "x"}]


def test_audit_reads_the_rules_from_either_server(server, cli):
    data = Path(__file__).parent / "data" / "audit"
    files = ("--roster", data / "roster.csv", "--clinics", data / "clinics.csv",
             "--appointments", data / "appointments.csv", "--format", "json")
    local = cli("audit", *files)
    remote = cli("audit", *files, "--endpoint", server["url"])
    assert local.returncode == remote.returncode and remote.returncode in (0, 1), remote.stderr
    assert json.loads(remote.stdout) == json.loads(local.stdout)
    assert json.loads(local.stdout)["findings"], "the example log should have findings to compare"


@pytest.mark.parametrize("view", [("-j", "US-CA"), ("--chain", "medical assistant", "botox", "-j", "US-TX"),
                                  ("--refer", "esthetician", "--to", "dermatologist"), ("--focus", "botox")],
                         ids=["jurisdiction", "chain", "refer", "focus"])
def test_viz_draws_the_same_picture_from_either_server(view, server, cli, tmp_path):
    local = cli("viz", *view, "--out", tmp_path / "local.html")
    remote = cli("viz", *view, "--out", tmp_path / "remote.html", "--endpoint", server["url"])
    assert local.returncode == remote.returncode == 0, remote.stderr
    assert remote.stdout.split("(", 1)[1] == local.stdout.split("(", 1)[1]  # node and edge counts
    assert (tmp_path / "remote.html").read_bytes() == (tmp_path / "local.html").read_bytes()
