"""Questions a domain expert would recognise, answered from the curated sources."""

import json

import pytest

from medspa_graph import UnknownJurisdictionError, UnknownTermError
from medspa_graph.errors import NoChainError


def _row(df, **match):
    sel = df
    for k, v in match.items():
        sel = sel[sel[k] == v]
    assert len(sel), f"no row for {match}"
    return sel.iloc[0]


def test_california_esthetician_may_not_use_lasers(kb):
    row = _row(kb.who_can("laser hair removal", "US-CA"), role="esthetician")
    assert row.permission == "not-permitted"
    assert row.basis == "jurisdiction"
    assert "mbc.ca.gov" in row.sources


def test_florida_rn_botox_needs_a_physician_on_site(kb):
    row = _row(kb.who_can("Botox", "US-FL"), role="registered nurse")
    assert row.permission == "permitted"
    assert row.supervision == "onsite/direct"
    assert row.supervisors == "physician"  # an APRN cannot be the supervisor


def test_california_medical_assistants_may_not_inject_botox(kb):
    row = _row(kb.who_can("botox", "US-CA"), role="medical assistant")
    assert row.permission == "not-permitted"


def test_california_lvn_botox_conflict_is_shown_not_resolved(kb):
    df = kb.who_can("botox", "US-CA")
    lpn = df[df.role == "licensed practical nurse"]
    assert len(lpn) == 2
    assert set(lpn.permission) == {"permitted", "not-permitted"}
    assert lpn.conflict.all()


def test_nevada_advanced_esthetician_non_ablative_yes_ablative_no(kb):
    df = kb.scope("advanced esthetician", "US-NV")
    assert _row(df, procedure="non-ablative laser resurfacing").permission in ("permitted", "conditional")
    assert _row(df, procedure="ablative laser resurfacing").permission == "not-permitted"


def test_state_without_a_rule_falls_back_to_the_baseline(kb):
    df = kb.who_can("cosmetic surgery", "US-WV")
    assert set(df.basis) == {"baseline"}
    assert _row(df, role="physician").permission == "permitted"
    assert _row(df, role="esthetician").permission == "not-permitted"


def test_every_answer_row_has_a_source_with_url_and_confidence(kb):
    for code in ("US-CA", "US-TX", "US-WA"):
        for _, row in kb.who_can("botox", code).iterrows():
            assert row.sources.startswith("http")
            assert row.confidence


def test_rn_chain_in_florida_goes_to_a_physician(kb):
    chains = kb.supervision_chains("RN", "botox", "US-FL")
    assert [s["label"] for s in chains[0]] == ["registered nurse", "physician"]


def test_texas_medical_assistant_chain_passes_through_an_aprn(kb):
    chains = [[s["label"] for s in c] for c in kb.supervision_chains("medical assistant", "botox", "US-TX")]
    assert chains[0] == ["medical assistant", "physician"]
    assert ["medical assistant", "advanced practice registered nurse", "physician"] in chains
    assert all(len(a) <= len(b) for a, b in zip(chains, chains[1:]))


def test_chain_for_a_forbidden_performer_is_an_error_not_an_empty_success(kb):
    with pytest.raises(NoChainError) as e:
        kb.supervision_chains("esthetician", "botox", "US-CA")
    assert e.value.status == "not-permitted"


def test_referral_from_esthetician_reaches_a_dermatologist(kb):
    paths = kb.referral_paths("licensed esthetician", "dermatologist")
    assert paths and [s["label"] for s in paths[0]] == ["esthetician", "dermatologist"]
    assert all(p[-1]["label"] == "dermatologist" for p in paths)


def test_referral_for_a_condition_uses_only_that_condition(kb):
    paths = kb.referral_paths("esthetician", condition="impetigo")
    assert paths
    assert all(p[0]["label"] == "esthetician" for p in paths)


def test_massage_therapist_refers_to_a_physician(kb):
    paths = kb.referral_paths("massage therapist", "physician")
    assert [s["label"] for s in paths[0]] == ["licensed massage therapist", "physician"]


def test_compare_shows_states_side_by_side(kb):
    t = kb.compare("botox", ["US-CA", "US-FL", "US-NV"])
    assert list(t.columns) == ["US-CA", "US-FL", "US-NV", "differs"]
    assert "registered nurse" in t.index
    assert t.loc["registered nurse", "differs"]


@pytest.mark.parametrize("name,kind,label", [
    ("botox", "procedure", "neurotoxin injection"),
    ("Neurotoxin injection", "procedure", "neurotoxin injection"),
    ("NEUROTOXIN-INJECTION", "procedure", "neurotoxin injection"),
    ("aesthetician", "role", "esthetician"),
    ("RN", "role", "registered nurse"),
    ("NP", "role", "nurse practitioner"),
    ("PA", "role", "physician assistant"),
    ("LVN", "role", "licensed practical nurse"),
    ("https://w3id.org/medspa-graph/ontology#Dermatologist", "role", "dermatologist"),
])
def test_names_people_type(kb, name, kind, label):
    assert kb.label(kb.resolve(name, kind)) == label


def test_unknown_name_lists_closest_matches(kb):
    with pytest.raises(UnknownTermError) as e:
        kb.resolve("botx", "procedure")
    assert "botx" in str(e.value) and "neurotoxin injection" in str(e.value)


def test_unknown_jurisdiction_lists_known_codes(kb):
    with pytest.raises(UnknownJurisdictionError) as e:
        kb.who_can("botox", "US-XX")
    assert "US-CA" in str(e.value) and "US-XX" in str(e.value)


def test_cli_who_can_json_shape(cli):
    r = cli("who-can", "botox", "--jurisdiction", "US-CA", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["procedure"]["label"] == "neurotoxin injection" and doc["jurisdiction"] == "US-CA"
    p = doc["practitioners"][0]
    for key in ("role", "permission", "supervision", "supervisors", "prior_exam_by", "basis", "rule", "sources"):
        assert key in p
    assert p["permission"] in ("permitted", "not-permitted", "conditional")
    assert p["basis"] in ("jurisdiction", "baseline")
    assert set(p["sources"][0]) >= {"url", "date", "confidence"}


def test_cli_chain_and_refer_json(cli):
    r = cli("chain", "RN", "botox", "-j", "US-FL", "--format", "json")
    assert r.returncode == 0
    assert [s["label"] for s in json.loads(r.stdout)["chains"][0]] == ["registered nurse", "physician"]
    r = cli("refer", "esthetician", "--to", "dermatologist", "--format", "json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["paths"][0][-1]["label"] == "dermatologist"


def test_cli_table_fits_80_columns(cli):
    r = cli("who-can", "botox", "-j", "US-CA")
    assert r.returncode == 0
    assert max(len(l) for l in r.stdout.splitlines() if not l.startswith("  [")) <= 80


@pytest.mark.parametrize("args,needle", [
    (("who-can", "botx", "-j", "US-CA"), "unknown procedure 'botx'"),
    (("who-can", "botox", "-j", "US-XX"), "unknown jurisdiction 'US-XX'"),
    (("scope", "wizard", "-j", "US-CA"), "unknown role 'wizard'"),
])
def test_cli_bad_input_exits_2_with_one_line(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
