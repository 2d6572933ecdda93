"""Named queries: each has a header and answers with expected results."""

import csv
import io
import json

import pytest

from medspa_graph.sparql.queries import named_queries

EXPECTED_PARAMS = {
    "who-can": {"procedure", "jurisdiction"},
    "scope-rules": {"jurisdiction"},
    "prescription-products": {"jurisdiction"},
    "baseline-only": {"jurisdiction"},
    "search-records": {"jurisdiction"},
}


def test_every_named_query_states_its_question():
    for name, q in named_queries().items():
        assert "?" in q.question, name
        assert set(q.params) == EXPECTED_PARAMS.get(name, set()), name


@pytest.mark.parametrize("name", sorted(EXPECTED_PARAMS))
def test_parameters_bind_with_values_because_oxigraph_substitutes_only_projected_variables(name):
    """Why sparql.bind's VALUES block binds the embedded store's parameters too (its docstring):
    pyoxigraph's ``substitutions=`` refuses each parameterised named query, whose parameters are
    variables it filters or joins on, not ones it projects. If this fails, Oxigraph or the query
    changed: ``substitutions=`` may then serve the embedded store."""
    import pyoxigraph as ox

    from medspa_graph.sparql.text import QUERY_PREFIXES

    q = named_queries()[name]
    with pytest.raises(RuntimeError, match="projection"):
        ox.Store().query(q.sparql, prefixes=QUERY_PREFIXES,
                         substitutions={ox.Variable(p): ox.NamedNode("urn:x") for p in q.params})


def test_who_can_query_finds_the_florida_rn_rule(kb):
    df = kb.query("who-can", procedure="botox", jurisdiction="US-FL")
    rn = df[(df.roleLabel == "registered nurse") & (df.code == "US-FL")]
    assert set(rn.supervision) == {"onsite/direct"}
    assert "US" in set(df.code)  # the raw query also returns baseline rules; the API applies precedence
    assert set(df.code) <= {"US-FL", "US"}


def test_prescription_products_include_botulinum_toxin(kb):
    df = kb.query("prescription-products", jurisdiction="US-TX")
    row = df[df.productLabel.str.contains("botulinum", case=False)]
    assert len(row) == 1 and "physician" in row.iloc[0].mayPerform


def test_conflicting_rules_include_the_california_lvn_botox_pair(kb):
    df = kb.query("conflicting-rules")
    pairs = {(str(a).rsplit("/", 1)[-1], str(b).rsplit("/", 1)[-1]) for a, b in zip(df.rule1, df.rule2)}
    assert ("US-CA-licensed-practical-nurse-neurotoxin-injection",
            "US-CA-licensed-practical-nurse-neurotoxin-injection-2") in pairs


def test_sources_by_confidence_covers_every_grade(kb):
    df = kb.query("sources-by-confidence").set_index("confidence")
    assert set(df.index) <= {"E1", "E2", "S", "I"}
    assert df.loc["E1", "sources"] > 0


def test_baseline_only_for_a_state_without_rules_is_the_whole_baseline(kb):
    west_virginia = kb.query("baseline-only", jurisdiction="US-WV")
    california = kb.query("baseline-only", jurisdiction="US-CA")
    assert len(west_virginia) > len(california) > 0


def test_explain_gives_one_row_per_rule_and_source(kb):
    ans = kb.who_can("botox", "US-FL")
    ex = kb.explain(ans)
    assert set(ex.rule) == set(ans.rule)
    assert ex.url.str.startswith("http").all()
    assert set(ex.confidence) <= {"E1", "E2", "S", "I"}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["json", "csv", "tsv", "xml"])
def test_cli_query_formats(cli, fmt):
    r = cli("query", "who-can", "--param", "procedure=botox", "--param", "jurisdiction=US-FL", "--format", fmt)
    assert r.returncode == 0, r.stderr
    if fmt == "json":
        doc = json.loads(r.stdout)
        assert "roleLabel" in doc["head"]["vars"] and doc["results"]["bindings"]
    elif fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        assert any(x["roleLabel"] == "registered nurse" for x in rows)
    elif fmt == "xml":
        assert "<sparql" in r.stdout
    else:
        assert r.stdout.startswith("?rule")


@pytest.mark.slow
def test_cli_query_unknown_name_and_parameter(cli):
    r = cli("query", "nope")
    assert r.returncode == 2 and "unknown query 'nope'" in r.stderr and "who-can" in r.stderr
    r = cli("query", "who-can", "--param", "wat=1")
    assert r.returncode == 2 and "no parameter 'wat'" in r.stderr


@pytest.mark.slow
def test_cli_compare_table(cli):
    r = cli("compare", "botox", "-j", "US-CA", "-j", "US-FL")
    assert r.returncode == 0, r.stderr
    assert "US-CA" in r.stdout and "US-FL" in r.stdout and "registered nurse" in r.stdout


def test_term_details_give_kind_definition_and_sources(kb):
    df = kb.query("term-details")
    botox = df[df.label == "botulinum toxin"].iloc[0]
    assert botox.kind == "product" and "prescription only" in botox.definition
    assert "fda-dailymed-botox-cosmetic" in botox.sources
    assert set(df.kind) == {"role", "procedure", "product", "condition", "treatment", "jurisdiction",
                            "title"}
    assert df.term.is_unique


def test_product_uses_link_injections_to_prescription_products(kb):
    df = kb.query("product-uses")
    row = df[(df.procedureLabel == "neurotoxin injection") & (df.productLabel == "botulinum toxin")]
    assert len(row) == 1 and bool(row.iloc[0].prescription) is True
    cosmetic = df[df.productLabel == "moisturizer"]
    assert len(cosmetic) >= 1 and not cosmetic.prescription.astype(bool).any()


def test_product_uses_mark_fillers_lasers_and_ipl_devices_prescription_only(kb):
    df = kb.query("product-uses")
    for product in ("dermal filler", "medical laser", "intense pulsed light device"):
        rows = df[df.productLabel == product]
        assert len(rows) and rows.prescription.astype(bool).all(), product
