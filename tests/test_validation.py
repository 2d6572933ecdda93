"""Loading and validation: each kind of bad input gets its exit code and a clear message."""

from pathlib import Path

import pytest
import rdflib

from medspa_graph.knowledge.loading import parse_files
from medspa_graph.knowledge.validation import check_queries, run_checks, run_shapes
from medspa_graph.utils.paths import curated_files, ontology_dir

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def curated():
    return parse_files(curated_files())


def test_curated_data_passes_every_check_query(curated):
    graph, origin = curated
    assert run_checks(graph, origin) == []


@pytest.mark.slow
def test_validate_curated_exits_zero(cli):
    r = cli("validate")
    assert r.returncode == 0, r.stderr
    assert "conform" in r.stderr


@pytest.mark.slow
def test_broken_turtle_exits_2_with_file_and_line(cli):
    r = cli("validate", DATA / "broken.ttl")
    assert r.returncode == 2
    line = r.stderr.strip().splitlines()[-1]
    assert "broken.ttl:7:" in line or "broken.ttl:6:" in line
    assert "syntax error" in line
    assert "Traceback" not in r.stderr


@pytest.mark.slow
def test_missing_file_exits_2(cli, tmp_path):
    r = cli("validate", tmp_path / "nope.ttl")
    assert r.returncode == 2
    assert "nope.ttl" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_undeclared_class_is_a_violation_naming_term_and_file(cli):
    r = cli("validate", DATA / "undeclared-class.ttl")
    assert r.returncode == 1
    lines = [l for l in r.stdout.splitlines() if l.startswith("violation:")]
    hits = [l for l in lines if "ms:RegisteredNures" in l]
    assert hits and any("never declared" in l for l in hits)
    assert any("undeclared-class.ttl" in l for l in lines)


@pytest.mark.slow
def test_rule_without_source_is_a_violation(cli):
    r = cli("validate", DATA / "rule-without-source.ttl")
    assert r.returncode == 1
    out = [l for l in r.stdout.splitlines() if "rule:US-CA-unsourced" in l and l.startswith("violation:")]
    assert any("No source, no rule" in l for l in out)
    assert any("rule-without-source.ttl" in l for l in out)


@pytest.mark.slow
def test_supervision_cycle_is_a_violation(cli):
    r = cli("validate", DATA / "supervision-cycle.ttl")
    assert r.returncode == 1
    assert "supervision cycle" in r.stdout
    assert "ms:Sclerotherapy" in r.stdout


@pytest.mark.slow
def test_remote_jsonld_context_is_refused_not_fetched(cli):
    r = cli("validate", DATA / "remote-context.jsonld")
    assert r.returncode == 2
    assert "remote JSON-LD context" in r.stderr and "https://example.org/context.jsonld" in r.stderr


# -- shapes: one valid and one invalid example per shape ----------------------

def _vocab_plus(ttl: str):
    g = rdflib.Graph()
    g.parse(ontology_dir() / "medspa.ttl")
    g.parse(DATA / "kitchen-sink.ttl")
    if ttl:
        g.parse(data=PREFIXES + ttl, format="turtle")
    return g


PREFIXES = """
@prefix ms: <https://w3id.org/medspa-graph/ontology#> .
@prefix jur: <https://w3id.org/medspa-graph/jurisdiction/> .
@prefix rule: <https://w3id.org/medspa-graph/rule/> .
@prefix src: <https://w3id.org/medspa-graph/source/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix schema: <https://schema.org/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""


def _violations(ttl):
    return [v for v in run_shapes(_vocab_plus(ttl)) if v.severity == "Violation"]


def test_kitchen_sink_conforms():
    assert _violations("") == []


RULE = """rule:x a ms:ScopeRule ; rdfs:label "x"@en ; ms:role ms:RegisteredNurse ;
  ms:procedure ms:Facial ; ms:jurisdiction jur:US-ZZ ; ms:conditions "c"@en ;
  prov:wasDerivedFrom src:US-ZZ-test-source ; """

SUPERVISOR = ("A supervised rule names at least one acceptable supervisor (ms:supervisor); "
              "an independent or not-permitted rule names none.")
REFERRAL = "rule:r a ms:ReferralRule ; rdfs:label \"r\" ; ms:fromRole ms:Esthetician ; ms:toRole ms:Dermatologist ; prov:wasDerivedFrom src:US-ZZ-test-source"
REFERRAL_CONDITION = "A referral rule names at least one declared condition (ms:condition)."

# each invalid example and the message of the constraint it breaks: another shape firing instead
# (an unknown permission also breaks the not-permitted consistency shape) does not pass the test
INVALID = {
    "not-permitted with a supervision level": (
        RULE + "ms:permission ms:NotPermitted ; ms:supervision ms:DirectSupervision ; ms:supervisor ms:Physician .",
        "A not-permitted rule has supervision ms:SupervisionNotPermitted, and only a not-permitted rule has it."),
    "supervised with no supervisor": (
        RULE + "ms:permission ms:Permitted ; ms:supervision ms:DirectSupervision .", SUPERVISOR),
    "independent with a supervisor": (
        RULE + "ms:permission ms:Permitted ; ms:supervision ms:Independent ; ms:supervisor ms:Physician .", SUPERVISOR),
    "two roles": (
        RULE + "ms:role ms:Esthetician ; ms:permission ms:Permitted ; ms:supervision ms:Independent .",
        "A scope rule names exactly one role (ms:role)."),
    "unknown permission": (
        RULE + "ms:permission ms:Maybe ; ms:supervision ms:Independent .",
        "A scope rule's ms:permission is one of ms:Permitted, ms:NotPermitted, ms:Conditional."),
    "source without url": (
        "src:bad a ms:Source ; dcterms:title \"t\" ; ms:sourceDate \"n.d.\" ; ms:confidence ms:PrimarySource .",
        "A source has exactly one http(s) URL (schema:url, an IRI)."),
    "source with a free-text date": (
        "src:bad a ms:Source ; dcterms:title \"t\" ; schema:url <https://e.org/> ; ms:sourceDate \"sometime\" ; ms:confidence ms:PrimarySource .",
        "A source has one ms:sourceDate: an xsd:date, xsd:gYearMonth, xsd:gYear, or \"n.d.\" when the page shows none."),
    "jurisdiction with a bad code": (
        "jur:X a ms:Jurisdiction ; rdfs:label \"X\" ; skos:notation \"California\" .",
        "A jurisdiction has one code (skos:notation): US or an ISO 3166-2 code such as US-CA."),
    "referral without condition": (REFERRAL + " .", REFERRAL_CONDITION),
    "referral naming a procedure as its condition": (REFERRAL + " ; ms:condition ms:Facial .", REFERRAL_CONDITION),
    "product without source": (
        "ms:Thing1 a ms:CosmeticProduct ; rdfs:label \"t\"@en .",
        "A product cites the source of its prescription or cosmetic status (prov:wasDerivedFrom)."),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_shape_catches_invalid_example(case):
    ttl, expected = INVALID[case]
    found = _violations(ttl)
    assert expected in {v.message for v in found}, f"{case}: {[v.message for v in found]}"
    assert all(v.message for v in found)


def test_a_referral_naming_a_declared_condition_conforms():
    acne = "ms:Acne a ms:Condition ; rdfs:label \"acne\"@en ; prov:wasDerivedFrom src:US-ZZ-test-source ."
    assert _violations(REFERRAL + " ; ms:condition ms:Acne . " + acne) == []


def test_conditional_rule_needs_conditions():
    ttl = """rule:c a ms:ScopeRule ; rdfs:label "c"@en ; ms:role ms:RegisteredNurse ; ms:procedure ms:Facial ;
      ms:jurisdiction jur:US-ZZ ; prov:wasDerivedFrom src:US-ZZ-test-source ;
      ms:permission ms:Conditional ; ms:supervision ms:Independent ."""
    assert any("conditions" in v.message for v in _violations(ttl))


# -- check queries: each fails on a bad example ---------------------------------

CHECK_CASES = {
    "terms-without-label-violation": "ms:NoLabel a ms:CosmeticProduct ; skos:definition \"d\"@en .",
    "terms-without-definition-violation": "ms:NoDef a ms:CosmeticProduct ; rdfs:label \"l\"@en .",
    "undeclared-terms-violation": "rule:y ms:role ms:Typoo .",
    "rules-without-source-violation": "rule:z a ms:ScopeRule .",
    "rule-terms-violation": "rule:w a ms:ScopeRule ; ms:role ms:Facial .",
}


def test_every_check_query_has_a_failing_case():
    assert set(check_queries()) == set(CHECK_CASES)


@pytest.mark.parametrize("name", sorted(CHECK_CASES))
def test_check_query_finds_its_case(name):
    g = _vocab_plus(CHECK_CASES[name])
    found = [v for v in run_checks(g) if v.message.endswith(f"[{name}]")]
    assert found, name


def test_reserialising_the_ontology_keeps_the_file_on_disk():
    """rdflib's Turtle of the ontology (as ``build`` writes it) holds exactly the triples of the
    file on disk, as Oxigraph's parser reads it: Oxigraph keeps every literal as written, while
    rdflib rewrites lexical forms it normalises ("01"^^xsd:integer becomes "1", "true "^^xsd:boolean
    becomes "false"), so a literal the build would change fails here. Writing the re-read graph
    again gives the same text (the build's Turtle is reproducible). The ontology has no blank
    nodes, so the triple sets compare directly."""
    import pyoxigraph as ox

    path = ontology_dir() / "medspa.ttl"

    def triples(**source):
        return {(q.subject, q.predicate, q.object)
                for q in ox.parse(format=ox.RdfFormat.TURTLE, base_iri=path.resolve().as_uri(), **source)}

    on_disk = triples(path=path)
    assert not any(isinstance(t, ox.BlankNode) for triple in on_disk for t in triple)
    once = rdflib.Graph().parse(path).serialize(format="turtle")
    assert triples(input=once.encode()) == on_disk
    assert rdflib.Graph().parse(data=once, format="turtle").serialize(format="turtle") == once


# -- the two SHACL engines: medspa_graph.knowledge.shacl (the default) gives pySHACL's results ----------

def _same_results(graph, origin=None):
    from collections import Counter

    core = run_shapes(graph, origin, engine="core")
    full = run_shapes(graph, origin, engine="pyshacl")
    assert Counter(core) == Counter(full)
    return core


@pytest.mark.slow
def test_shape_engines_agree_on_the_curated_data(curated):
    graph, origin = curated
    found = _same_results(graph, origin)  # the curated data conforms: at most warnings, and the same ones
    assert all(v.severity == "Warning" for v in found)


@pytest.mark.parametrize("case", sorted(INVALID))
def test_shape_engines_agree_on_each_invalid_example(case):
    assert _same_results(_vocab_plus(INVALID[case][0]))


def _ontology_with_a_max_length_shape(tmp_path):
    import shutil

    root = tmp_path / "ontology"
    shutil.copytree(ontology_dir(), root)
    (root / "shapes" / "extra.ttl").write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n@prefix ms: <https://w3id.org/medspa-graph/ontology#> .\n"
        "<urn:x:LabelLength> a sh:NodeShape ; sh:targetClass ms:Jurisdiction ;\n"
        "  sh:property [ sh:path <http://www.w3.org/2000/01/rdf-schema#label> ; sh:maxLength 3 ;\n"
        "                sh:message \"short names only\" ] .\n")
    return root, _vocab_plus("")


def test_a_shape_beyond_the_core_subset_goes_to_pyshacl(tmp_path):
    from medspa_graph.knowledge.shacl import Unsupported

    root, g = _ontology_with_a_max_length_shape(tmp_path)
    with pytest.raises(Unsupported):
        run_shapes(g, root=root, engine="core")
    assert any(v.message == "short names only" for v in run_shapes(g, root=root))


def test_a_shape_beyond_the_core_subset_without_pyshacl_names_the_extra(tmp_path, monkeypatch):
    import sys

    from medspa_graph.errors import MedspaGraphError

    root, g = _ontology_with_a_max_length_shape(tmp_path)
    monkeypatch.setitem(sys.modules, "pyshacl", None)  # as if not installed
    with pytest.raises(MedspaGraphError, match=r"sh:maxLength\): pip install 'medspa-graph\[shacl\]'"):
        run_shapes(g, root=root)


@pytest.mark.slow
@pytest.mark.parametrize("fixture", ["kitchen-sink.ttl", "rule-without-source.ttl", "hostile-source.ttl"])
def test_shape_engines_agree_on_the_curated_data_plus_a_fixture(fixture):
    found = _same_results(*parse_files([*curated_files(), DATA / fixture]))
    if fixture == "rule-without-source.ttl":  # the one fixture that breaks a shape
        assert any(v.severity == "Violation" for v in found)
