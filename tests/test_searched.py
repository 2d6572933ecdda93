"""Search records: "no state rule found (searched ...); baseline" instead of a silent fallback.

A search record (``ms:SearchRecord``) says that a jurisdiction's law was searched for a role and a
procedure (or a category) and found silent. Each test adds records to the small world of
``tests/data/policy/world.ttl`` and asks through the real path (Oxigraph, the named queries).
"""

from __future__ import annotations

import io

from test_policy import rule, world

from medspa_graph.cli.output import emit
from medspa_graph.questions.answers import scope, searched, who_can

EX = "https://example.org/policy#"
MS = "https://w3id.org/medspa-graph/ontology#"


def record(name, role, procedure, jur, what="the Silent State's practice acts, read whole", day="2026-11-29"):
    return (f"ex:{name} a ms:SearchRecord ; rdfs:label \"{name}\"@en ; ms:role {role} ; ms:procedure {procedure} ;"
            f" ms:jurisdiction jur:{jur} ; ms:searched \"{what}\"@en ;"
            f" <http://purl.org/dc/terms/date> \"{day}\"^^xsd:date ; prov:wasDerivedFrom ex:source .\n")


BASE = rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"])


def test_a_record_shows_where_the_baseline_answers_and_says_so():
    kb = world(BASE, record("s1", "ms:RegisteredNurse", "ex:Botox", "XN"))
    ans = who_can(kb, EX + "Botox", "XN", "2026-12-01")
    [s] = ans["searched"]
    assert (s["role"]["id"], s["procedure"]["id"], s["fallback"]) == (MS + "RegisteredNurse", EX + "Botox", "baseline")
    assert s["searched_on"] == "2026-11-29" and s["sources"][0]["url"] == "https://example.org/source"
    df = kb.who_can(EX + "Botox", "XN")
    assert df.loc[df.rule == EX + "base", "searched"].iloc[0].startswith(
        "no state rule found (searched 2026-11-29: the Silent State's practice acts")
    assert df.loc[df.rule == EX + "base", "searched"].iloc[0].endswith("; baseline")


def test_a_record_speaks_of_its_role_only():
    kb = world(BASE, record("s1", "ms:RegisteredNurse", "ex:Botox", "XN"))
    assert searched(kb, kb.jurisdiction("XN"), MS + "NursePractitioner", EX + "Botox") == []
    assert len(searched(kb, kb.jurisdiction("XN"), MS + "RegisteredNurse", EX + "Botox")) == 1


def test_a_record_on_a_category_covers_the_procedures_below_it_not_above():
    kb = world(BASE, record("s1", "ms:RegisteredNurse", "ex:Injection", "XN"))
    assert len(searched(kb, kb.jurisdiction("XN"), MS + "RegisteredNurse", EX + "Botox")) == 1
    kb = world(BASE, record("s1", "ms:RegisteredNurse", "ex:Botox", "XN"))
    assert searched(kb, kb.jurisdiction("XN"), MS + "RegisteredNurse", EX + "Injection") == []


def test_a_record_is_not_shown_where_a_state_rule_governs():
    own = rule("own", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "independent")
    kb = world(BASE, own, record("s1", "ms:RegisteredNurse", "ex:Botox", "XN"))
    assert who_can(kb, EX + "Botox", "XN")["searched"] == []


def test_a_record_of_another_state_is_not_shown():
    kb = world(BASE, record("s1", "ms:RegisteredNurse", "ex:Botox", "XO"))
    assert who_can(kb, EX + "Botox", "XN")["searched"] == []
    assert len(who_can(kb, EX + "Botox", "XO")["searched"]) == 1


def test_a_cell_no_rule_answers_is_reported_with_no_rule_as_its_fallback():
    kb = world(BASE, record("s2", "ex:Aide", "ex:LightPeel", "XN"))
    ans = scope(kb, EX + "Aide", "XN")
    assert ans["procedures"] == []
    [s] = ans["searched"]
    assert s["fallback"] == "no rule" and s["procedure"]["id"] == EX + "LightPeel"
    df = kb.scope(EX + "Aide", "XN")
    assert df.empty and df.attrs["searched"][0]["fallback"] == "no rule"


def test_the_table_prints_the_search_in_words():
    kb = world(BASE, record("s1", "ms:RegisteredNurse", "ex:Botox", "XN"))
    ans = who_can(kb, EX + "Botox", "XN")
    out = io.StringIO()
    emit(ans, "table", records=ans["practitioners"], columns=[("role", "role")], out=out)
    text = " ".join(out.getvalue().split())
    assert ("registered nurse, botox: no state rule found (searched 2026-11-29: the Silent State's practice acts,"
            " read whole); baseline") in text


def test_the_shape_refuses_a_record_that_does_not_say_what_was_searched(tmp_path):
    from medspa_graph.knowledge.loading import parse_files
    from medspa_graph.knowledge.validation import validate_graph
    from medspa_graph.utils.paths import curated_files

    bad = tmp_path / "bad.ttl"
    bad.write_text("""@prefix ms: <https://w3id.org/medspa-graph/ontology#> .
@prefix jur: <https://w3id.org/medspa-graph/jurisdiction/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix src: <https://w3id.org/medspa-graph/source/> .
<https://w3id.org/medspa-graph/search/US-WV-x> a ms:SearchRecord ; rdfs:label "x"@en ;
    ms:role ms:RegisteredNurse ; ms:procedure ms:NeurotoxinInjection ; ms:jurisdiction jur:US-WV ;
    ms:searched "short" ; prov:wasDerivedFrom src:beckers-np-authority-2021 .
""")
    # the vocabulary and shared files, without the 52 jurisdiction files: the record's own shape is what is tested
    graph, origin = parse_files([*(f for f in curated_files() if "jurisdictions" not in f.parts), bad])
    messages = " ".join(f"{v.message}" for v in validate_graph(graph, origin))
    assert "one ms:searched text of at least 20 characters" in messages
    assert "day of the search (one dcterms:date" in messages
