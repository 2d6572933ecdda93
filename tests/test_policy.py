"""The resolution policy (medspa_graph/questions/rules.py), pinned as a decision table.

Each case is one clause of the policy, named after it: a few rules added to the small world of
``tests/data/policy/world.ttl``, one question, and the answer written by hand. The rules go
through the real path (Oxigraph, the named SPARQL queries, the KnowledgeBase), so a case fails
when its clause is removed from the policy or from the data the policy reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medspa_graph.utils.paths import ontology_dir

HERE = Path(__file__).parent / "data" / "policy"
EX = "https://example.org/policy#"
MS = "https://w3id.org/medspa-graph/ontology#"
PREFIXES = """@prefix ms: <https://w3id.org/medspa-graph/ontology#> .
@prefix ex: <https://example.org/policy#> .
@prefix jur: <https://w3id.org/medspa-graph/jurisdiction/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
PERMISSION = {"permitted": "ms:Permitted", "conditional": "ms:Conditional", "not-permitted": "ms:NotPermitted"}
SUPERVISION = {"independent": "ms:Independent", "direct": "ms:DirectSupervision", "indirect": "ms:IndirectSupervision",
               "protocol": "ms:ProtocolSupervision", "no": "ms:SupervisionNotPermitted"}
CODE = {"independent": "independent", "direct": "onsite/direct", "indirect": "available/indirect",
        "protocol": "protocol/standing-order", "no": "not-permitted"}


def rule(name, role, procedure, jur, permission, supervision, supervisors=(), extra="", source="ex:source"):
    """One scope rule in Turtle: ``role``/``procedure`` are prefixed names (ms:..., ex:...)."""
    sup = "".join(f" ms:supervisor {s} ;" for s in supervisors)
    return (f"ex:{name} a ms:ScopeRule ; rdfs:label \"{name}\"@en ; ms:role {role} ; ms:procedure {procedure} ;"
            f" ms:jurisdiction jur:{jur} ; ms:permission {PERMISSION[permission]} ;"
            f" ms:supervision {SUPERVISION[supervision]} ;{sup} {extra} prov:wasDerivedFrom {source} .\n")


def referral(name, frm, to, condition, source="ex:source"):
    return (f"ex:{name} a ms:ReferralRule ; rdfs:label \"{name}\"@en ; ms:fromRole {frm} ; ms:toRole {to} ;"
            f" ms:condition {condition} ; ms:jurisdiction jur:US ; prov:wasDerivedFrom {source} .\n")


def world(*rules: str):
    """A KnowledgeBase over the vocabulary, the small world and ``rules`` (no reasoning needed)."""
    import pyoxigraph as ox

    from medspa_graph.kb import KnowledgeBase
    from medspa_graph.sparql.store import OxigraphStore

    store = OxigraphStore()
    for f in (ontology_dir() / "medspa.ttl", HERE / "world.ttl"):
        store.store.bulk_load(path=str(f), format=ox.RdfFormat.TURTLE)
    store.store.bulk_load((PREFIXES + "".join(rules)).encode(), format=ox.RdfFormat.TURTLE)
    return KnowledgeBase(store)


def local(iri: str) -> str:
    return iri.rsplit("#", 1)[-1]


def answer(kb, role, procedure, jur, date="2026-01-01"):
    """(governing answers, conflict, {losing rule: reason}) for one question, in local names."""
    res = kb.resolution(MS + role if role[0].isupper() and role not in ("Esthetician", "Dermatologist") else EX + role,
                        EX + procedure, kb.jurisdiction(jur), date)
    gov = sorted((local(a.iri), a.permission, a.supervision, tuple(sorted(map(local, a.supervisors))))
                 for a in res.governing)
    others = {local(v.rule.iri): v.reason for v in res.verdicts if v.outcome in ("lost", "excluded")}
    return gov, res.conflict, others


# (clause, rules, question (role, procedure, jurisdiction[, date]), governing, conflict, losers)
CASES = [
    pytest.param(
        [rule("peels", "ex:Esthetician", "ex:Peel", "US", "permitted", "independent")],
        ("Esthetician", "LightPeel", "XN"),
        [("peels", "permitted", CODE["independent"], ())], False, {},
        id="A1-a-rule-on-a-category-applies-to-its-parts"),
    pytest.param(
        [rule("nurses", "ms:Nurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN"),
        [("nurses", "permitted", CODE["direct"], ("Physician",))], False, {},
        id="A1-a-rule-on-a-role-applies-to-narrower-roles"),
    pytest.param(
        [rule("narrow", "ms:NursePractitioner", "ex:Botox", "US", "permitted", "independent"),
         rule("deep", "ms:RegisteredNurse", "ex:DeepPeel", "US", "permitted", "independent")],
        ("RegisteredNurse", "Botox", "XN"),
        [], False, {},
        id="A1-a-rule-on-a-narrower-role-or-another-procedure-does-not-apply"),
    pytest.param(
        [rule("other", "ms:RegisteredNurse", "ex:Botox", "XO", "not-permitted", "no"),
         rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN"),
        [("base", "permitted", CODE["direct"], ("Physician",))], False, {},
        id="A2-another-states-rule-does-not-apply"),
    pytest.param(
        [rule("future", "ms:RegisteredNurse", "ex:Botox", "XN", "not-permitted", "no",
              extra='ms:effectiveDate "2030-01-01"^^xsd:date ;'),
         rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN", "2026-01-01"),
        [("base", "permitted", CODE["direct"], ("Physician",))], False, {"future": "not-in-force"},
        id="A3-a-rule-not-yet-in-force-is-excluded"),
    pytest.param(
        [rule("future", "ms:RegisteredNurse", "ex:Botox", "XN", "not-permitted", "no",
              extra='ms:effectiveDate "2030-01-01"^^xsd:date ;'),
         rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN", "2030-01-01"),
        [("future", "not-permitted", CODE["no"], ())], False, {"base": "state-over-baseline"},
        id="A3-a-rule-in-force-from-the-date-asked-applies"),
    pytest.param(
        [rule("old", "ms:RegisteredNurse", "ex:Botox", "XN", "not-permitted", "no",
              extra='prov:invalidatedAtTime "2025-01-09T00:00:00Z"^^xsd:dateTime ;'),
         rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN", "2025-01-09"),
        [("base", "permitted", CODE["direct"], ("Physician",))], False, {"old": "not-in-force"},
        id="A3-a-rule-ended-on-or-before-the-date-asked-is-excluded"),
    pytest.param(
        [rule("old", "ms:RegisteredNurse", "ex:Botox", "XN", "not-permitted", "no",
              extra='prov:invalidatedAtTime "2025-01-09T00:00:00Z"^^xsd:dateTime ;'),
         rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN", "2025-01-08"),
        [("old", "not-permitted", CODE["no"], ())], False, {"base": "state-over-baseline"},
        id="A3-a-rule-still-in-force-the-day-before-it-ended-applies"),
    pytest.param(
        [rule("dead-cells", "ex:Esthetician", "ex:Peel", "XN", "permitted", "independent",
              extra="ms:maxSkinDepth ms:Epidermis ;"),
         rule("base", "ex:Esthetician", "ex:Peel", "US", "not-permitted", "no")],
        ("Esthetician", "DeepPeel", "XN"),
        [("base", "not-permitted", CODE["no"], ())], False, {"dead-cells": "outside-depth"},
        id="A4-a-depth-limit-excludes-a-deeper-procedure"),
    pytest.param(
        [rule("dead-cells", "ex:Esthetician", "ex:Peel", "XN", "permitted", "independent",
              extra="ms:maxSkinDepth ms:Epidermis ;"),
         rule("base", "ex:Esthetician", "ex:Peel", "US", "not-permitted", "no")],
        ("Esthetician", "LightPeel", "XN"),
        [("dead-cells", "permitted", CODE["independent"], ())], False, {"base": "state-over-baseline"},
        id="A4-a-depth-limit-reaches-a-procedure-at-that-depth"),
    pytest.param(
        [rule("dead-cells", "ex:Esthetician", "ex:Peel", "XN", "permitted", "independent",
              extra="ms:maxSkinDepth ms:Dermis ;")],
        ("Esthetician", "OddPeel", "XN"),
        [], False, {"dead-cells": "outside-depth"},
        id="A4-a-procedure-of-unknown-depth-is-outside-a-depth-limit"),
    pytest.param(
        [rule("lasers", "ex:Esthetician", "ex:Energy", "XN", "permitted", "independent",
              extra="ms:device ex:Laser ;"),
         rule("base", "ex:Esthetician", "ex:Energy", "US", "not-permitted", "no")],
        ("Esthetician", "Photofacial", "XN"),
        [("base", "not-permitted", CODE["no"], ())], False, {"lasers": "outside-device"},
        id="A5-a-device-limit-excludes-other-devices"),
    pytest.param(
        [rule("lasers", "ex:Esthetician", "ex:Energy", "XN", "permitted", "independent",
              extra="ms:device ex:Laser ;"),
         rule("base", "ex:Esthetician", "ex:Energy", "US", "not-permitted", "no")],
        ("Esthetician", "LaserHair", "XN"),
        [("lasers", "permitted", CODE["independent"], ())], False, {"base": "state-over-baseline"},
        id="A5-a-device-limit-reaches-procedures-using-the-device"),
    pytest.param(
        [rule("state-rn", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"]),
         rule("base-np", "ms:NursePractitioner", "ex:Injection", "US", "permitted", "protocol", ["ms:Physician"])],
        ("NursePractitioner", "Botox", "XN"),
        [("base-np", "permitted", CODE["protocol"], ("Physician",))], False, {"state-rn": "narrower-role"},
        id="B1-the-more-specific-role-wins-even-over-a-state-rule"),
    pytest.param(
        [rule("state-peels", "ex:Esthetician", "ex:Peel", "XN", "conditional", "independent"),
         rule("base-deep", "ex:Esthetician", "ex:DeepPeel", "US", "not-permitted", "no")],
        ("Esthetician", "DeepPeel", "XN"),
        [("base-deep", "not-permitted", CODE["no"], ())], False, {"state-peels": "narrower-procedure"},
        id="B2-the-more-specific-procedure-wins-even-over-a-state-rule"),
    pytest.param(
        [rule("state-botox", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "indirect", ["ms:Physician"]),
         rule("base-inj", "ms:RegisteredNurse", "ex:Injection", "US", "not-permitted", "no")],
        ("RegisteredNurse", "Botox", "XN"),
        [("state-botox", "permitted", CODE["indirect"], ("Physician",))], False, {"base-inj": "narrower-procedure"},
        id="B2-a-state-rule-on-the-specific-procedure-beats-a-broad-baseline"),
    pytest.param(
        [rule("state", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "indirect", ["ms:Physician"]),
         rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "protocol", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN"),
        [("state", "permitted", CODE["indirect"], ("Physician",))], False, {"base": "state-over-baseline"},
        id="B3-state-over-baseline-at-equal-specificity"),
    pytest.param(
        [rule("state-aprn", "ms:AdvancedPracticeRegisteredNurse", "ex:Botox", "XN", "conditional", "protocol",
              ["ms:Physician"], extra='ms:conditions "within the APRN act" ;'),
         rule("base-np", "ms:NursePractitioner", "ex:Botox", "US", "permitted", "independent")],
        ("NursePractitioner", "Botox", "XN"),
        [("state-aprn", "conditional", CODE["protocol"], ("Physician",))], False, {"base-np": "state-over-baseline"},
        id="B3-a-state-rule-on-the-licence-beats-a-baseline-rule-on-a-role-within-it"),
    pytest.param(
        [rule("state-derm", "ex:Dermatologist", "ex:Botox", "XN", "permitted", "independent"),
         rule("base-md", "ms:Physician", "ex:Botox", "US", "permitted", "independent")],
        ("Dermatologist", "Botox", "XN"),
        [("state-derm", "permitted", CODE["independent"], ())], False,
        {"base-md": "state-over-baseline"},
        id="B3-a-state-rule-on-a-role-within-a-licence-beats-the-baseline-on-the-licence"),
    pytest.param(
        [rule("state-aprn", "ms:AdvancedPracticeRegisteredNurse", "ex:Botox", "XN", "permitted", "protocol",
              ["ms:Physician"]),
         rule("state-np", "ms:NursePractitioner", "ex:Botox", "XN", "permitted", "independent")],
        ("NursePractitioner", "Botox", "XN"),
        [("state-np", "permitted", CODE["independent"], ())], False, {"state-aprn": "narrower-role"},
        id="B3b-within-one-licence-and-one-standing-the-narrower-role-wins"),
    pytest.param(
        [rule("board", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"]),
         rule("blog", "ms:RegisteredNurse", "ex:Botox", "XN", "not-permitted", "no")],
        ("RegisteredNurse", "Botox", "XN"),
        [("blog", "not-permitted", CODE["no"], ()), ("board", "permitted", CODE["direct"], ("Physician",))],
        True, {},
        id="B4-equal-rules-that-disagree-are-both-shown-as-a-conflict"),
    pytest.param(
        [rule("board", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"]),
         rule("faq", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"])],
        ("RegisteredNurse", "Botox", "XN"),
        [("board", "permitted", CODE["direct"], ("Physician",)), ("faq", "permitted", CODE["direct"], ("Physician",))],
        False, {},
        id="B4-equal-rules-that-agree-are-no-conflict"),
    pytest.param(
        [rule("base-np", "ms:NursePractitioner", "ex:Injection", "US", "permitted", "protocol", ["ms:Physician"])],
        ("NursePractitioner", "Botox", "XF"),
        [("base-np", "permitted", CODE["independent"], ())], False, {},
        id="C-full-practice-makes-the-np-independent"),
    pytest.param(
        [rule("base-np", "ms:NursePractitioner", "ex:Injection", "US", "permitted", "protocol", ["ms:Physician"])],
        ("NursePractitioner", "Botox", "XN"),
        [("base-np", "permitted", CODE["protocol"], ("Physician",))], False, {},
        id="C-no-practice-authority-leaves-the-rule-as-written"),
    pytest.param(
        [rule("state-np", "ms:NursePractitioner", "ex:Botox", "XF", "permitted", "direct", ["ms:Physician"])],
        ("NursePractitioner", "Botox", "XF"),
        [("state-np", "permitted", CODE["direct"], ("Physician",))], False, {},
        id="C-the-states-own-np-rule-stands-over-practice-authority"),
    pytest.param(
        [rule("state-rn", "ms:RegisteredNurse", "ex:Botox", "XF", "permitted", "direct", ["ms:Physician"])],
        ("AdvancedPracticeRegisteredNurse", "Botox", "XF"),
        [("state-rn", "permitted", CODE["independent"], ())], False, {},
        id="C-a-state-rn-rule-does-not-bind-an-aprn-under-full-practice"),
    pytest.param(
        [rule("base-np", "ms:NursePractitioner", "ex:Surgery", "US", "not-permitted", "no")],
        ("NursePractitioner", "Surgery", "XF"),
        [("base-np", "not-permitted", CODE["no"], ())], False, {},
        id="C-practice-authority-never-widens-a-not-permitted"),
    pytest.param(
        [rule("base-rn", "ms:RegisteredNurse", "ex:Injection", "US", "conditional", "protocol",
              ["ms:NursePractitioner", "ms:Physician", "ms:PhysicianAssistant"])],
        ("AdvancedPracticeRegisteredNurse", "Botox", "XR"),
        [("base-rn", "conditional", CODE["protocol"], ("Physician",))], False, {},
        id="C-restricted-practice-a-physician-not-a-pa-supervises-the-aprn"),
    pytest.param(
        [rule("base-rn", "ms:RegisteredNurse", "ex:Injection", "US", "conditional", "protocol",
              ["ms:NursePractitioner", "ms:Physician", "ms:PhysicianAssistant"])],
        ("RegisteredNurse", "Botox", "XR"),
        [("base-rn", "conditional", CODE["protocol"], ("NursePractitioner", "Physician", "PhysicianAssistant"))],
        False, {},
        id="C-practice-authority-does-not-touch-a-registered-nurse"),
    pytest.param(
        [rule("cert", "ex:Esthetician", "ex:LightPeel", "XN", "permitted", "independent",
              extra='ms:requiredCertificate "peel certificate" ;')],
        ("Esthetician", "LightPeel", "XN"),
        [("cert", "conditional", CODE["independent"], ())], False, {},
        id="D-a-required-certificate-makes-permitted-conditional"),
    pytest.param(
        [rule("hours", "ex:Esthetician", "ex:LightPeel", "XN", "permitted", "independent",
              extra='ms:minTrainingHours "40"^^xsd:nonNegativeInteger ;')],
        ("Esthetician", "LightPeel", "XN"),
        [("hours", "conditional", CODE["independent"], ())], False, {},
        id="D-required-training-hours-make-permitted-conditional"),
]


CASES += [
    pytest.param(
        [rule("to-dermis", "ex:Esthetician", "ex:Energy", "XN", "permitted", "independent",
              extra="ms:maxSkinDepth ms:Dermis ;")],
        ("Esthetician", "LaserHair", "XN"),
        [("to-dermis", "permitted", CODE["independent"], ())], False, {},
        id="A4-a-procedure-without-its-own-depth-takes-its-categorys"),
    pytest.param(
        [rule("to-epidermis", "ex:Esthetician", "ex:Energy", "XN", "permitted", "independent",
              extra="ms:maxSkinDepth ms:Epidermis ;")],
        ("Esthetician", "LaserHair", "XN"),
        [], False, {"to-epidermis": "outside-depth"},
        id="A4-a-categorys-depth-can-exclude-its-parts"),
    pytest.param(
        [rule("lasers", "ex:Esthetician", "ex:Energy", "XN", "permitted", "independent",
              extra="ms:device ex:Laser ;")],
        ("Esthetician", "FractionalResurfacing", "XN"),
        [("lasers", "permitted", CODE["independent"], ())], False, {},
        id="A5-a-procedure-uses-the-devices-of-its-category"),
]


@pytest.mark.parametrize("rules,question,governing,conflict,losers", CASES)
def test_policy(rules, question, governing, conflict, losers):
    kb = world(*rules)
    gov, got_conflict, others = answer(kb, *question)
    assert gov == sorted(governing)
    assert got_conflict is conflict
    assert others == losers


def test_D_requirements_are_stated_in_the_answer():
    from medspa_graph.questions.answers import who_can

    kb = world(rule("hours", "ex:Esthetician", "ex:LightPeel", "XN", "permitted", "independent",
                    extra='ms:minTrainingHours "40"^^xsd:nonNegativeInteger ; ms:requiredCertificate "peel card" ;'))
    rec = who_can(kb, EX + "LightPeel", "XN")["practitioners"][0]
    assert rec["requirements"] == ["certificate: peel card", "training: at least 40 hours"]


def test_category_question_is_answered_for_its_parts_and_says_so():
    from medspa_graph.questions.answers import who_can

    kb = world(rule("base-deep", "ex:Esthetician", "ex:DeepPeel", "US", "not-permitted", "no"),
               rule("base-light", "ex:Esthetician", "ex:LightPeel", "US", "permitted", "independent"))
    ans = who_can(kb, EX + "Peel", "XN")
    assert ans["note"] == "peel: answered for deep peel, light peel, odd peel"
    got = {(r["procedure"]["label"], r["permission"]) for r in ans["practitioners"]}
    assert got == {("deep peel", "not-permitted"), ("light peel", "permitted")}


def test_general_role_is_answered_for_its_parts_and_says_so():
    from medspa_graph.questions.answers import scope

    kb = world(rule("rn", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "direct", ["ms:Physician"]),
               rule("np", "ms:NursePractitioner", "ex:Botox", "US", "permitted", "protocol", ["ms:Physician"]))
    ans = scope(kb, MS + "Nurse", "XN")
    assert ans["note"].startswith("nurse: answered for ")
    got = {(r["role"]["label"], r["supervision"]) for r in ans["procedures"]}
    assert got == {("registered nurse", "onsite/direct"), ("advanced practice registered nurse", "onsite/direct"),
                   ("nurse practitioner", "protocol/standing-order")}


def test_C_no_chain_puts_a_pa_over_an_aprn():
    from medspa_graph.questions.answers import supervision_chains

    kb = world(rule("base-rn", "ms:RegisteredNurse", "ex:Injection", "US", "conditional", "protocol",
                    ["ms:NursePractitioner", "ms:Physician", "ms:PhysicianAssistant"]),
               rule("base-pa", "ms:PhysicianAssistant", "ex:Injection", "US", "permitted", "protocol", ["ms:Physician"]),
               rule("base-md", "ms:Physician", "ex:Injection", "US", "permitted", "independent"))
    chains = supervision_chains(kb, MS + "AdvancedPracticeRegisteredNurse", EX + "Botox", "XR")["chains"]
    assert [[s["label"] for s in c] for c in chains] == [["advanced practice registered nurse", "physician"]]
    full = supervision_chains(kb, MS + "AdvancedPracticeRegisteredNurse", EX + "Botox", "XF")["chains"]
    assert [[s["label"] for s in c] for c in full] == [["advanced practice registered nurse"]]


def test_referral_path_keeps_one_condition_and_marks_inferred_hops():
    from medspa_graph.questions.answers import referral_paths

    kb = world(referral("e-rn-injury", "ex:Esthetician", "ms:RegisteredNurse", "ex:Injury"),
               referral("rn-md-wrinkles", "ms:RegisteredNurse", "ms:Physician", "ex:Wrinkles"),
               referral("rn-md-injury", "ms:RegisteredNurse", "ms:Physician", "ex:Injury", source="ex:guess"))
    ans = referral_paths(kb, EX + "Esthetician", MS + "Physician")
    assert [[s["label"] for s in p] for p in ans["paths"]] == [["esthetician", "registered nurse", "physician"]]
    assert [[c["label"] for c in cs] for cs in ans["conditions"]] == [["injury"]]
    hops = ans["hops"][0]
    assert [[r["rule"].rsplit("#")[-1] for r in h["rules"]] for h in hops] == [["e-rn-injury"], ["rn-md-injury"]]
    assert [h["inferred"] for h in hops] == [False, True]


def test_referral_path_never_joins_two_conditions():
    from medspa_graph.questions.answers import referral_paths

    kb = world(referral("e-rn-injury", "ex:Esthetician", "ms:RegisteredNurse", "ex:Injury"),
               referral("rn-md-wrinkles", "ms:RegisteredNurse", "ms:Physician", "ex:Wrinkles"))
    assert referral_paths(kb, EX + "Esthetician", MS + "Physician")["paths"] == []


def test_explain_says_why_each_candidate_won_or_lost():
    from medspa_graph.questions.answers import contest

    kb = world(rule("state-peels", "ex:Esthetician", "ex:Peel", "XN", "conditional", "independent"),
               rule("base-deep", "ex:Esthetician", "ex:DeepPeel", "US", "not-permitted", "no"),
               rule("lasers", "ex:Esthetician", "ex:Peel", "XN", "permitted", "independent",
                    extra="ms:maxSkinDepth ms:Epidermis ;"))
    c = contest(kb, EX + "Esthetician", EX + "DeepPeel", "XN", "2026-01-01")
    got = [(x["rule"].rsplit("#")[-1], x["outcome"], x["why"]) for x in c["candidates"]]
    assert got == [
        ("base-deep", "governs", "the most specific rule that applies"),
        ("state-peels", "lost", "beaten by a rule on a more specific procedure: base-deep"),
        ("lasers", "excluded", "the procedure goes deeper than the rule's skin-depth limit (epidermis)"),
    ]


# --- chains and paths (medspa_graph/questions/chains.py) over the same small world ------------------

CHAIN_RULES = [
    rule("md", "ms:Physician", "ex:Injection", "US", "permitted", "independent"),
    rule("pa", "ms:PhysicianAssistant", "ex:Injection", "US", "permitted", "protocol", ["ms:Physician"]),
    rule("rn", "ms:RegisteredNurse", "ex:Injection", "US", "conditional", "direct",
         ["ms:Physician", "ms:PhysicianAssistant"]),
    rule("es", "ex:Esthetician", "ex:Injection", "US", "not-permitted", "no"),
]


def test_supervision_graph_nodes_and_edges_carry_the_governing_answer():
    from medspa_graph.questions.chains import supervision_graph

    kb = world(*CHAIN_RULES)
    g = supervision_graph(kb, EX + "Botox", kb.jurisdiction("XN"))
    rn, md, pa = MS + "RegisteredNurse", MS + "Physician", MS + "PhysicianAssistant"
    assert g.nodes[rn] == {"label": "registered nurse", "kind": "role", "permission": "conditional",
                           "supervision": "onsite/direct", "independent": False, "rule": EX + "rn",
                           "rules": [EX + "rn"], "basis": "baseline"}
    assert g.nodes[md]["independent"] is True and g.nodes[md]["supervision"] == "independent"
    assert g.nodes[EX + "Esthetician"]["permission"] == "not-permitted"
    assert sorted(g.edges) == sorted([(rn, md), (rn, pa), (pa, md)])
    assert g.edges[rn, pa] == {"rule": EX + "rn", "supervision": "onsite/direct",
                               "sources": [EX + "source"], "relation": "supervised by"}
    assert g.graph == {"procedure": EX + "Botox", "jurisdiction": kb.jurisdiction("XN")}


def test_supervision_graph_gives_a_role_without_rules_an_empty_answer():
    from medspa_graph.questions.chains import supervision_graph

    kb = world(*CHAIN_RULES)
    g = supervision_graph(kb, EX + "Surgery", kb.jurisdiction("XN"), performer=MS + "Nurse")
    assert dict(g.nodes(data=True)) == {MS + "Nurse": {"label": "nurse", "kind": "role", "permission": None,
                                                       "supervision": None, "independent": False, "rule": None}}


def test_chains_are_shortest_first_with_their_steps():
    from medspa_graph.questions.chains import supervision_chains

    kb = world(*CHAIN_RULES)
    ans = supervision_chains(kb, MS + "RegisteredNurse", EX + "Botox", "XN")
    assert ans["status"] == "ok" and ans["problem"] is None
    assert [[s["label"] for s in c] for c in ans["chains"]] == [
        ["registered nurse", "physician"], ["registered nurse", "physician assistant", "physician"]]
    assert ans["steps"][1] == [
        {"from": {"id": MS + "RegisteredNurse", "label": "registered nurse"},
         "to": {"id": MS + "PhysicianAssistant", "label": "physician assistant"},
         "rule": EX + "rn", "supervision": "onsite/direct"},
        {"from": {"id": MS + "PhysicianAssistant", "label": "physician assistant"},
         "to": {"id": MS + "Physician", "label": "physician"}, "rule": EX + "pa",
         "supervision": "protocol/standing-order"}]
    assert (ans["role"], ans["procedure"], ans["jurisdiction"]) == (
        {"id": MS + "RegisteredNurse", "label": "registered nurse"}, {"id": EX + "Botox", "label": "botox"}, "XN")
    one = supervision_chains(kb, MS + "RegisteredNurse", EX + "Botox", "XN", limit=1)
    assert [[s["label"] for s in c] for c in one["chains"]] == [["registered nurse", "physician"]]
    alone = supervision_chains(kb, MS + "Physician", EX + "Botox", "XN")
    assert [[s["label"] for s in c] for c in alone["chains"]] == [["physician"]] and alone["steps"] == [[]]


@pytest.mark.parametrize("role,procedure,rules,status,problem", [
    ("ex:Esthetician", "Botox", CHAIN_RULES, "not-permitted",
     f"esthetician may not perform botox here (rule {EX}es)"),
    ("ms:Nurse", "Botox", CHAIN_RULES, "no-rule", "no rule covers nurse performing botox here"),
    ("ms:RegisteredNurse", "Botox", [rule("rn", "ms:RegisteredNurse", "ex:Injection", "US", "permitted", "direct",
                                          ["ms:PhysicianAssistant"])],
     "no-route", "no chain from registered nurse reaches a practitioner who may perform botox independently"),
    ("ms:RegisteredNurse", "Botox", [
        rule("rn", "ms:RegisteredNurse", "ex:Injection", "US", "permitted", "direct", ["ms:PhysicianAssistant"]),
        rule("pa", "ms:PhysicianAssistant", "ex:Injection", "US", "permitted", "direct", ["ms:RegisteredNurse"])],
     "cycle", "supervision cycle registered nurse -> physician assistant -> registered nurse; "
              "no chain reaches an independent practitioner"),
])
def test_no_chain_says_why(role, procedure, rules, status, problem):
    from medspa_graph.questions.chains import supervision_chains

    kb = world(*rules)
    iri = (MS if role.startswith("ms:") else EX) + role.split(":")[1]
    ans = supervision_chains(kb, iri, EX + procedure, "XN")
    assert (ans["status"], ans["problem"], ans["chains"], ans["steps"]) == (status, problem, [], [])


REFERRALS = [
    referral("e-rn", "ex:Esthetician", "ms:RegisteredNurse", "ex:Injury"),
    referral("rn-md", "ms:RegisteredNurse", "ms:Physician", "ex:Injury", source="ex:guess"),
    referral("e-md", "ex:Esthetician", "ms:Physician", "ex:Wrinkles"),
    referral("nurse-pa", "ms:Nurse", "ms:PhysicianAssistant", "ex:Wrinkles"),
]


def test_referral_paths_all_targets_shortest_first_each_with_its_condition():
    from medspa_graph.questions.chains import referral_paths

    kb = world(*REFERRALS)
    ans = referral_paths(kb, EX + "Esthetician")
    got = [([s["label"] for s in p], [c["label"] for c in cs]) for p, cs in zip(ans["paths"], ans["conditions"])]
    assert got == [(["esthetician", "physician"], ["wrinkles"]),
                   (["esthetician", "registered nurse"], ["injury"]),
                   (["esthetician", "registered nurse", "physician"], ["injury"])]
    assert ans["from"] == {"id": EX + "Esthetician", "label": "esthetician"}
    assert ans["to"] is None and ans["condition"] is None
    hop = ans["hops"][2][1]
    assert hop["from"]["label"] == "registered nurse" and hop["to"]["label"] == "physician"
    assert [r["rule"] for r in hop["rules"]] == [EX + "rn-md"]
    assert hop["rules"][0]["conditions"] == [{"id": EX + "Injury", "label": "injury"}]
    assert hop["rules"][0]["sources"][0]["url"] == "https://example.org/guess"
    assert (hop["inferred"], hop["inherited"]) == (True, False)
    assert (ans["hops"][2][0]["inferred"], ans["hops"][2][0]["inherited"]) == (False, False)


def test_referral_paths_to_a_role_stop_at_the_first_one_reached():
    from medspa_graph.questions.chains import referral_paths

    kb = world(*REFERRALS)
    ans = referral_paths(kb, EX + "Esthetician", MS + "Physician")
    assert [[s["label"] for s in p] for p in ans["paths"]] == [
        ["esthetician", "physician"], ["esthetician", "registered nurse", "physician"]]
    assert ans["to"] == {"id": MS + "Physician", "label": "physician"}
    only = referral_paths(kb, EX + "Esthetician", MS + "Physician", limit=1)
    assert [[s["label"] for s in p] for p in only["paths"]] == [["esthetician", "physician"]]
    nurse = referral_paths(kb, EX + "Esthetician", MS + "Nurse")
    assert [[s["label"] for s in p] for p in nurse["paths"]] == [["esthetician", "registered nurse"]]


def test_referral_paths_for_one_condition_and_inherited_hops():
    from medspa_graph.questions.chains import referral_paths

    kb = world(*REFERRALS)
    ans = referral_paths(kb, EX + "Esthetician", condition=EX + "Injury")
    assert [[s["label"] for s in p] for p in ans["paths"]] == [
        ["esthetician", "registered nurse"], ["esthetician", "registered nurse", "physician"]]
    assert ans["condition"] == {"id": EX + "Injury", "label": "injury"}
    np_ = referral_paths(kb, MS + "NursePractitioner")
    assert [[s["label"] for s in p] for p in np_["paths"]] == [["nurse practitioner", "physician"]]
    first = np_["hops"][0][0]
    assert first["from"]["label"] == "nurse practitioner" and first["inherited"] is True
    assert first["rules"][0]["rule"] == EX + "rn-md"


@pytest.mark.parametrize("rules,question,why", [
    ([rule("state-rn", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"]),
      rule("base-np", "ms:NursePractitioner", "ex:Injection", "US", "permitted", "protocol", ["ms:Physician"])],
     ("NursePractitioner", "Botox"),
     ["the most specific rule that applies", "beaten by a rule on a more specific licence or role: base-np"]),
    ([rule("state", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "indirect", ["ms:Physician"]),
      rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "protocol", ["ms:Physician"])],
     ("RegisteredNurse", "Botox"),
     ["the most specific rule that applies", "beaten by the jurisdiction's own rule, equally specific: state"]),
    ([rule("board", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"]),
      rule("blog", "ms:RegisteredNurse", "ex:Botox", "XN", "not-permitted", "no")],
     ("RegisteredNurse", "Botox"),
     ["applies with equal standing to another rule that answers differently"] * 2),
    ([rule("future", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"],
           extra='ms:effectiveDate "2030-01-01"^^xsd:date ;')],
     ("RegisteredNurse", "Botox"),
     ["not in force on the date asked (in force from 2030-01-01)"]),
    ([rule("lasers", "ex:Esthetician", "ex:Energy", "XN", "permitted", "independent", extra="ms:device ex:Laser ;")],
     ("Esthetician", "Photofacial"),
     ["the procedure does not use the device the rule is limited to (laser device)"]),
    ([rule("base-np", "ms:NursePractitioner", "ex:Injection", "US", "permitted", "protocol", ["ms:Physician"])],
     ("NursePractitioner", "Botox"),
     ["the most specific rule that applies; practice authority (full practice) sets the supervision"]),
    ([rule("cert", "ex:Esthetician", "ex:LightPeel", "XN", "permitted", "independent",
           extra='ms:requiredCertificate "peel card" ;')],
     ("Esthetician", "LightPeel"),
     ["the most specific rule that applies; conditional on certificate: peel card"]),
], ids=["narrower-role", "state-over-baseline", "conflict", "not-in-force", "outside-device", "practice-authority",
        "requirement"])
def test_explain_words_for_each_reason(rules, question, why):
    from medspa_graph.questions.answers import contest

    kb = world(*rules)
    role, procedure = question
    jur = "XF" if why[0].endswith("sets the supervision") else "XN"
    c = contest(kb, (MS if role != "Esthetician" else EX) + role, EX + procedure, jur, "2026-01-01")
    assert [x["why"] for x in c["candidates"]] == why
    assert c["conflict"] is (len(why) == 2 and why[0] == why[1])
    excluded = why[0].startswith(("not in force", "the procedure"))
    outcome = "conflict" if c["conflict"] else "excluded" if excluded else "governs"
    assert c["candidates"][0]["outcome"] == outcome


def test_B4_conflicting_rules_rank_before_the_rules_they_beat():
    kb = world(rule("board", "ms:RegisteredNurse", "ex:Botox", "XN", "permitted", "direct", ["ms:Physician"]),
               rule("blog", "ms:RegisteredNurse", "ex:Botox", "XN", "not-permitted", "no"),
               rule("base", "ms:RegisteredNurse", "ex:Botox", "US", "permitted", "protocol", ["ms:Physician"]))
    res = kb.resolution(MS + "RegisteredNurse", EX + "Botox", kb.jurisdiction("XN"), "2026-01-01")
    assert [(local(v.rule.iri), v.outcome) for v in res.verdicts] == [
        ("blog", "conflict"), ("board", "conflict"), ("base", "lost")]
    assert (res.role, res.procedure) == (MS + "RegisteredNurse", EX + "Botox")


def test_effective_rules_reads_the_context_it_is_given():
    from medspa_graph.questions.rules import Authority, Context, Rule, effective_rules

    up = {"NP": frozenset({"NP", "APRN"}), "Botox": frozenset({"Botox"})}
    ctx = Context(up.__getitem__, authority=Authority("full", "full practice", "APRN", "independent"))
    base = Rule("b", "NP", "Botox", "US", "permitted", "protocol/standing-order", ("MD",), baseline=True)
    [got] = effective_rules([base], "NP", "Botox", up.__getitem__, ctx)
    assert (got.supervision, got.supervisors, got.authority) == ("independent", (), "full practice")


def test_the_date_asked_defaults_to_today():
    import datetime

    from medspa_graph.questions.rules import Context, Rule, resolve

    up = {"RN": frozenset({"RN"}), "Botox": frozenset({"Botox"})}
    ctx = Context(up.__getitem__)
    past = Rule("past", "RN", "Botox", "XN", "permitted", "independent", effective_date="2000-01-01")
    future = Rule("future", "RN", "Botox", "XN", "not-permitted", "not-permitted", effective_date="2999-01-01")
    today = Rule("today", "RN", "Botox", "XN", "permitted", "independent",
                 effective_date=datetime.date.today().isoformat())
    res = resolve([past, future, today], "RN", "Botox", ctx)
    assert [r.iri for r in res.governing] == ["past", "today"]
    assert [(v.rule.iri, v.outcome, v.reason) for v in res.verdicts][-1] == ("future", "excluded", "not-in-force")


def test_effective_rules_without_a_context_uses_the_hierarchy_alone():
    from medspa_graph.questions.rules import Rule, effective_rules

    up = {"E": frozenset({"E"}), "Peel": frozenset({"Peel"}), "Deep": frozenset({"Deep", "Peel"})}
    broad = Rule("sc", "E", "Peel", "SC", "conditional", "independent", max_depth=None)
    narrow = Rule("us", "E", "Deep", "US", "not-permitted", "not-permitted", baseline=True)
    assert effective_rules([broad, narrow], "E", "Deep", up.__getitem__) == [narrow]
    assert effective_rules([broad, narrow], "E", "Peel", up.__getitem__) == [broad]


def test_rule_basis_independence_and_requirements():
    from medspa_graph.questions.rules import Rule

    r = Rule("r", "E", "P", "XN", "permitted", "independent", certificates=("a", "b"), training_hours=0)
    assert (r.basis, r.independent, r.requirements) == (
        "jurisdiction", True, ("certificate: a", "certificate: b", "training: at least 0 hours"))
    no = Rule("n", "E", "P", "US", "not-permitted", "independent", baseline=True)
    assert (no.basis, no.independent, no.requirements) == ("baseline", False, ())
    assert not Rule("s", "E", "P", "XN", "permitted", "onsite/direct").independent


def test_A4_a_procedure_takes_the_depth_of_its_nearest_category():
    kb = world(rule("shallow", "ex:Esthetician", "ex:Energy", "XN", "permitted", "independent",
                    extra="ms:maxSkinDepth ms:Epidermis ;"))
    # fine abrasion: no depth of its own; abrasion (epidermis) is nearer than energy (dermis)
    assert answer(kb, "Esthetician", "FineAbrasion", "XN")[0] == [("shallow", "permitted", "independent", ())]


def test_supervision_graph_visits_every_role_and_draws_only_edges_of_answers_that_allow():
    from medspa_graph.questions.chains import supervision_graph

    kb = world(rule("md", "ms:Physician", "ex:Surgery", "US", "permitted", "independent"),
               rule("board", "ms:RegisteredNurse", "ex:Surgery", "XN", "permitted", "direct", ["ms:Physician"]),
               rule("blog", "ms:RegisteredNurse", "ex:Surgery", "XN", "not-permitted", "no"),
               rule("odd", "ex:Esthetician", "ex:Surgery", "XN", "not-permitted", "no", ["ex:Aide"]))
    g = supervision_graph(kb, EX + "Surgery", kb.jurisdiction("XN"))
    assert sorted(g.nodes) == sorted([MS + "Physician", MS + "RegisteredNurse", EX + "Esthetician"])
    assert list(g.edges) == [(MS + "RegisteredNurse", MS + "Physician")]  # "blog" sorts first, "board" still counts
    assert g.nodes[MS + "RegisteredNurse"]["rules"] == [EX + "blog", EX + "board"]
    lone = supervision_graph(kb, EX + "Surgery", kb.jurisdiction("XN"), performer=MS + "Nurse")
    assert sorted(lone.nodes) == sorted([*g.nodes, MS + "Nurse"])  # the rule-less performer stops no one
    assert lone.nodes[MS + "Nurse"]["rule"] is None


def test_chains_sort_by_length_then_labels_not_by_iri():
    from medspa_graph.questions.chains import supervision_chains

    kb = world(rule("md", "ms:Physician", "ex:Injection", "US", "permitted", "independent"),
               rule("rn", "ms:RegisteredNurse", "ex:Injection", "US", "permitted", "direct", ["ms:Physician", "ex:Aide"]),
               rule("aide", "ex:Aide", "ex:Injection", "US", "permitted", "direct", ["ms:Physician"]))
    ans = supervision_chains(kb, MS + "RegisteredNurse", EX + "Botox", "XN")
    assert [[s["label"] for s in c] for c in ans["chains"]] == [
        ["registered nurse", "physician"], ["registered nurse", "spa aide", "physician"]]


def test_a_cycle_the_performer_cannot_reach_is_not_its_problem():
    from medspa_graph.questions.chains import supervision_chains

    kb = world(rule("rn", "ms:RegisteredNurse", "ex:Injection", "US", "permitted", "direct", ["ms:PhysicianAssistant"]),
               rule("aide", "ex:Aide", "ex:Injection", "US", "permitted", "direct", ["ex:Esthetician"]),
               rule("es", "ex:Esthetician", "ex:Injection", "US", "permitted", "direct", ["ex:Aide"]))
    assert supervision_chains(kb, MS + "RegisteredNurse", EX + "Botox", "XN")["status"] == "no-route"


def test_referral_graph_nodes_and_edges():
    from medspa_graph.questions.chains import referral_graph

    kb = world(*REFERRALS)
    g = referral_graph(kb, EX + "Injury")
    assert g.graph == {"condition": EX + "Injury"}
    assert dict(g.nodes(data=True))[MS + "RegisteredNurse"] == {"label": "registered nurse", "kind": "role"}
    assert sorted(g.edges(keys=True)) == [(EX + "Esthetician", MS + "RegisteredNurse", EX + "e-rn"),
                                          (MS + "RegisteredNurse", MS + "Physician", EX + "rn-md")]
    assert g.edges[MS + "RegisteredNurse", MS + "Physician", EX + "rn-md"] == {
        "rule": EX + "rn-md", "conditions": [EX + "Injury"], "sources": [EX + "guess"], "relation": "refers to"}
    assert len(referral_graph(kb).edges) == 4


def test_referral_paths_stop_at_the_first_role_asked_for_and_sort_by_label():
    from medspa_graph.questions.chains import referral_paths

    kb = world(referral("e-md", "ex:Esthetician", "ms:Physician", "ex:Burn"),
               referral("md-derm", "ms:Physician", "ex:Dermatologist", "ex:Burn"),
               referral("e-aide", "ex:Esthetician", "ex:Aide", "ex:Burn"))
    to_md = referral_paths(kb, EX + "Esthetician", MS + "Physician")
    assert [[s["label"] for s in p] for p in to_md["paths"]] == [["esthetician", "physician"]]
    around = world(referral("e-md", "ex:Esthetician", "ms:Physician", "ex:Burn"),
                   referral("md-derm", "ms:Physician", "ex:Dermatologist", "ex:Burn"),
                   referral("e-aide", "ex:Esthetician", "ex:Aide", "ex:Burn"),
                   referral("aide-rn", "ex:Aide", "ms:RegisteredNurse", "ex:Burn"),
                   referral("rn-derm", "ms:RegisteredNurse", "ex:Dermatologist", "ex:Burn"))
    # to the dermatologist: the shorter way passes a physician first (dropped), the longer one is kept
    to_md = referral_paths(around, EX + "Esthetician", MS + "Physician")
    assert [[s["label"] for s in p] for p in to_md["paths"]] == [
        ["esthetician", "physician"], ["esthetician", "spa aide", "registered nurse", "dermatologist"]]
    every = referral_paths(kb, EX + "Esthetician")
    assert [[s["label"] for s in p] for p in every["paths"]] == [
        ["esthetician", "physician"], ["esthetician", "spa aide"], ["esthetician", "physician", "dermatologist"]]


def test_referral_paths_name_every_condition_a_path_serves_and_only_the_one_asked():
    from medspa_graph.questions.chains import referral_paths

    two = ("ex:e-md a ms:ReferralRule ; rdfs:label \"e-md\"@en ; ms:fromRole ex:Esthetician ; ms:toRole ms:Physician ;"
           " ms:condition ex:Acne, ex:Burn ; ms:jurisdiction jur:US ; prov:wasDerivedFrom ex:source .\n")
    kb = world(two, referral("rn-md", "ms:RegisteredNurse", "ms:Physician", "ex:Injury"))
    every = referral_paths(kb, EX + "Esthetician")
    assert [[c["label"] for c in cs] for cs in every["conditions"]] == [["burn", "severe acne"]]
    burn = referral_paths(kb, EX + "Esthetician", condition=EX + "Burn")
    assert [[c["label"] for c in cs] for cs in burn["conditions"]] == [["burn"]]
    assert [c["label"] for c in burn["hops"][0][0]["rules"][0]["conditions"]] == ["burn"]


def test_referral_paths_skip_a_condition_the_role_has_no_referral_for():
    from medspa_graph.questions.chains import referral_paths

    kb = world(referral("rn-md", "ms:RegisteredNurse", "ms:Physician", "ex:Acne"),
               referral("e-md", "ex:Esthetician", "ms:Physician", "ex:Burn"))
    assert [[s["label"] for s in p] for p in referral_paths(kb, EX + "Esthetician")["paths"]] == [
        ["esthetician", "physician"]]


def test_referral_paths_inherit_from_the_nearest_broader_role_with_referrals():
    from medspa_graph.questions.chains import referral_paths

    kb = world(referral("e-rn", "ex:Esthetician", "ms:RegisteredNurse", "ex:Injury"),
               referral("nurse-pa", "ms:Nurse", "ms:PhysicianAssistant", "ex:Injury"))
    ans = referral_paths(kb, MS + "RegisteredNurse")  # a nurse who is only ever referred to
    assert [[s["label"] for s in p] for p in ans["paths"]] == [["registered nurse", "physician assistant"]]
    assert ans["hops"][0][0]["inherited"] is True
    kb = world(*REFERRALS)
    ans = referral_paths(kb, MS + "NursePractitioner", condition=EX + "Wrinkles")
    assert [[s["label"] for s in p] for p in ans["paths"]] == [["nurse practitioner", "physician assistant"]]
