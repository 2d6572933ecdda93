"""`medspa-graph build`: the three exports, the summary, and all-or-nothing writes."""

from pathlib import Path

import rdflib
from rdflib.compare import isomorphic

DATA = Path(__file__).parent / "data"


def test_build_writes_three_isomorphic_exports_and_a_summary(cli, tmp_path):
    out = tmp_path / "out"
    r = cli("build", "--out", out)
    assert r.returncode == 0, r.stderr
    for kind in ("roles", "procedures", "products", "jurisdictions", "scope rules", "sources"):
        assert any(line.startswith(kind) for line in r.stdout.splitlines()), kind
    counts = {l.rsplit(None, 1)[0].strip(): int(l.rsplit(None, 1)[1]) for l in r.stdout.splitlines()
              if l and l.split()[-1].isdigit()}
    assert counts["scope rules"] >= 150
    assert counts["jurisdictions"] >= 14
    graphs = [rdflib.Graph().parse(out / name) for name in
              ("medspa-graph.ttl", "medspa-graph.nt", "medspa-graph.jsonld")]
    assert isomorphic(graphs[0], graphs[1]) and isomorphic(graphs[1], graphs[2])
    assert len(graphs[0]) == counts["triples"]
    assert not list(out.glob(".*.tmp"))


def test_reasoned_build_knows_a_dermatologist_is_a_physician(tmp_path, cli):
    out = tmp_path / "o"
    assert cli("build", "--out", out).returncode == 0
    g = rdflib.Graph().parse(out / "medspa-graph.nt")
    ms = rdflib.Namespace("https://w3id.org/medspa-graph/ontology#")
    assert (ms.Dermatologist, rdflib.RDFS.subClassOf, ms.LicensedHealthcareProfessional) in g


def test_failed_build_leaves_previous_output_untouched(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    previous = {n: f"previous {n}\n" for n in ("medspa-graph.ttl", "medspa-graph.nt", "medspa-graph.jsonld")}
    for n, text in previous.items():
        (out / n).write_text(text)
    r = cli("build", "--out", out, DATA / "broken.ttl")
    assert r.returncode == 2
    assert {p.name: p.read_text() for p in out.iterdir()} == previous
