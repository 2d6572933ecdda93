"""Questions a domain expert would recognise, answered from the curated sources."""

import io
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


@pytest.mark.slow
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


@pytest.mark.slow
def test_cli_chain_and_refer_json(cli):
    r = cli("chain", "RN", "botox", "-j", "US-FL", "--format", "json")
    assert r.returncode == 0
    assert [s["label"] for s in json.loads(r.stdout)["chains"][0]] == ["registered nurse", "physician"]
    r = cli("refer", "esthetician", "--to", "dermatologist", "--format", "json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["paths"][0][-1]["label"] == "dermatologist"


@pytest.mark.slow
def test_cli_table_fits_80_columns(cli):
    r = cli("who-can", "botox", "-j", "US-CA")
    assert r.returncode == 0
    assert max(len(l) for l in r.stdout.splitlines() if not l.startswith("  [")) <= 80


@pytest.mark.slow
@pytest.mark.parametrize("args,needle", [
    (("who-can", "botx", "-j", "US-CA"), "unknown procedure 'botx'"),
    (("who-can", "botox", "-j", "US-XX"), "unknown jurisdiction 'US-XX'"),
    (("scope", "wizard", "-j", "US-CA"), "unknown role 'wizard'"),
    (("scope", "medical esthetician", "-j", "US-IL"), "'medical esthetician' is a marketing title, not a licence"),
    (("explain", "RN", "botox", "--as-of", "yesterday"), "--as-of takes a date YYYY-MM-DD"),
])
def test_cli_bad_input_exits_2_with_one_line(cli, args, needle):
    r = cli(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


# --- issue 15: answers under the resolution policy (medspa_graph/questions/rules.py) -------------

def test_full_practice_state_lists_the_nurse_practitioner_as_independent(kb):
    df = kb.who_can("botox", "US-WA")
    np_row = df[df.role == "nurse practitioner"]
    assert list(np_row.supervision) == ["independent"] and list(np_row.supervisors) == [""]


def test_restricted_practice_state_keeps_the_np_under_a_physician(kb):
    df = kb.who_can("botox", "US-TX")
    np_row = df[df.role == "nurse practitioner"]
    assert len(np_row) and "physician" in set(np_row.supervisors)


def test_no_chain_puts_a_physician_assistant_over_an_aprn(kb):
    for code in ("US-CO", "US-TX", "US-FL", "US-OH"):
        for chain in kb.supervision_chains("advanced practice registered nurse", "botox", code):
            labels = [s["label"] for s in chain]
            assert "physician assistant" not in labels[1:], (code, labels)


def test_a_states_broad_peel_rule_does_not_beat_the_baselines_deep_peel_rule(kb):
    df = kb.who_can("deep chemical peel", "US-SC")
    assert list(df[df.role == "esthetician"].permission) == ["not-permitted"]


def test_category_question_is_answered_for_its_parts(kb):
    from medspa_graph.questions.answers import who_can

    ans = who_can(kb, "massage", "US")
    assert ans["note"] == "massage: answered for lymphatic drainage massage, massage therapy, medical massage"
    assert {r["procedure"]["label"] for r in ans["practitioners"]} == {
        "lymphatic drainage massage", "massage therapy", "medical massage"}


def test_general_role_is_answered_for_its_parts(kb):
    from medspa_graph.questions.answers import scope

    ans = scope(kb, "nurse", "US-TX")
    roles = {r["role"]["label"] for r in ans["procedures"]}
    assert {"registered nurse", "nurse practitioner", "licensed practical nurse"} <= roles
    assert ans["note"].startswith("nurse: answered for ")


@pytest.mark.parametrize("name,kind,label", [
    ("steam facial", "procedure", "facial"),
    ("second opinion", "procedure", "second opinion"),
    ("dermatologic consultation", "procedure", "dermatologic consultation"),
])
def test_lay_words_resolve_and_answer(kb, name, kind, label):
    assert kb.label(kb.resolve(name, kind)) == label
    assert len(kb.who_can(name, "US-CA"))


def test_medical_esthetician_is_a_title_not_a_licence(kb):
    from medspa_graph.errors import NotALicenceError

    for name in ("medical esthetician", "medical aesthetician"):
        with pytest.raises(NotALicenceError) as e:
            kb.resolve(name, "role")
        assert "not a licence" in str(e.value) and "Illinois" in str(e.value)


def test_referral_paths_keep_one_condition_along_the_path(kb):
    from medspa_graph.questions.answers import referral_paths

    ans = referral_paths(kb, "massage therapist")
    assert ans["paths"]
    for path, conds, hops in zip(ans["paths"], ans["conditions"], ans["hops"]):
        served = {c["id"] for c in conds}
        assert served, [s["label"] for s in path]
        for h in hops:
            assert h["rules"] and all({c["id"] for c in r["conditions"]} <= served for r in h["rules"])


@pytest.mark.slow
def test_cli_csv_carries_the_json_fields(cli):
    import csv as _csv

    r = cli("who-can", "botox", "-j", "US-CA", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(_csv.DictReader(io.StringIO(r.stdout)))
    for field in ("basis", "conflict", "jurisdiction", "conditions", "confidence", "effective_date",
                  "prior_exam_by", "rule", "sources"):
        assert field in rows[0], field
    assert {row["conflict"] for row in rows} == {"true", "false"}


@pytest.mark.slow
def test_cli_table_marks_every_conflicting_row(cli):
    doc = json.loads(cli("who-can", "botox", "-j", "US-CA", "--format", "json").stdout)
    conflicts = sum(p["conflict"] for p in doc["practitioners"])
    r = cli("who-can", "botox", "-j", "US-CA")
    assert r.returncode == 0
    rows = r.stdout.split("\nSources:")[0].splitlines()[4:]
    marks = sum(line.split("  ")[0].count("!") for line in rows if not line.startswith("! "))
    assert conflicts >= 2 and marks == conflicts and "! conflict:" in r.stdout


@pytest.mark.slow
def test_cli_explain_shows_the_contest(cli):
    r = cli("explain", "esthetician", "deep chemical peel", "-j", "US-SC", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    outcomes = {(c["jurisdiction"], c["outcome"]) for c in doc["candidates"]}
    assert ("US", "governs") in outcomes
    # South Carolina's esthetician rule ("dead cells only") sits on superficial peels and carries an
    # epidermis depth limit: it never governs a deep peel, whether it is a candidate or not
    for sc in (c for c in doc["candidates"] if c["jurisdiction"] == "US-SC"):
        assert sc["outcome"] == "excluded" and sc["reason"] == "outside-depth"


def test_michigans_laser_statute_does_not_reach_non_laser_devices(kb):
    c = kb.contest("esthetician", "IPL photofacial", "US-MI")
    mi = c[c.jurisdiction == "US-MI"]
    assert set(mi.reason) <= {"outside-device"}  # on the laser category, or excluded by its device limit
    assert kb.contest("esthetician", "laser hair removal", "US-MI").iloc[0].jurisdiction == "US-MI"


def test_a_rule_is_asked_about_as_of_a_date(kb):
    from medspa_graph.questions.answers import scope

    def rules(date):
        ans = scope(kb, "master esthetician", "US-VA", date)
        return {r["rule"].rsplit("/", 1)[-1] for r in ans["procedures"]}

    assert "US-VA-master-esthetician-medium-chemical-peel" in rules("2026-01-01")
    assert "US-VA-master-esthetician-medium-chemical-peel" not in rules("2025-11-30")  # in force from 2025-12-01


@pytest.mark.slow
def test_cli_refer_names_the_condition_each_path_serves(cli):
    r = cli("refer", "massage therapist")
    assert r.returncode == 0, r.stderr
    assert "licensed massage therapist -> physician   [for musculoskeletal pain or injury]" in r.stdout
    assert "plastic surgeon" not in r.stdout  # an injury is not passed on for wrinkles


def test_every_full_practice_state_answers_the_np_by_its_authority_or_its_own_np_rule(kb):
    from medspa_graph.questions.answers import who_can

    full = [c for c in kb.jurisdictions() if c != "US"
            and (a := kb.resolution_context(kb.jurisdiction(c)).authority) and a.label == "full practice"]
    assert {"US-WA", "US-CO", "US-DC", "US-NE"} <= set(full)
    for code in full:
        rows = [r for r in who_can(kb, "botox", code)["practitioners"] if r["role"]["label"] == "nurse practitioner"]
        assert rows, code
        for r in rows:
            own = r["basis"] == "jurisdiction" and r["rule_role"]["label"] in (
                "nurse practitioner", "advanced practice registered nurse")
            assert own or (r["supervision"] == "independent" and r["practice_authority"] == "full practice"), (code, r)


@pytest.mark.slow
def test_cli_category_table_says_which_part_each_row_answers(cli):
    r = cli("who-can", "massage")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "massage: answered for lymphatic drainage massage, massage therapy, medical massage" in " ".join(lines)
    assert [h for h in lines if h.startswith("role")][0].split()[:2] == ["role", "procedure"]
    assert max(len(line) for line in lines if not line.startswith("  [")) <= 80
