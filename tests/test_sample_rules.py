"""The accuracy-review sampler (tools/sample_rules.py) and data facts the last review fixed."""

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import sample_rules  # noqa: E402


@pytest.fixture(scope="module")
def rules():
    return sample_rules.load_rules()


def _one(rules, name):
    hit = [r for r in rules if r["rule"] == name]
    assert hit, f"no rule {name}"
    return hit[0]


def test_the_same_seed_draws_the_same_rules(rules):
    a = [r["rule"] for r in sample_rules.sample_rules(rules, 40, seed=15)]
    b = [r["rule"] for r in sample_rules.sample_rules(rules, 40, seed=15)]
    c = [r["rule"] for r in sample_rules.sample_rules(rules, 40, seed=16)]
    assert a == b and len(set(a)) == 40 and a != c


def test_every_sampled_rule_carries_a_source_with_url_date_and_confidence(rules):
    for r in sample_rules.sample_rules(rules, 1000):
        assert r["sources"], r["rule"]
        for s in r["sources"]:
            assert s["url"].startswith("http") and s["date"], r["rule"]
            assert s["confidence"] in ("E1", "E2", "S", "I"), r["rule"]


@pytest.mark.slow
def test_csv_has_one_row_per_rule_and_a_blank_verdict_column():
    cmd = [sys.executable, str(ROOT / "tools" / "sample_rules.py"),
           "-n", "5", "--format", "csv", "-j", "US-CA"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 5 and {r["jurisdiction"] for r in rows} == {"US-CA"}
    assert all(r["verdict"] == "" and r["sources"].startswith("http") for r in rows)


def test_california_laser_answer_sits_on_hair_vein_and_tattoo_procedures_only(rules):
    ca = [r for r in rules if r["jurisdiction"] == "US-CA" and "mbc.ca.gov" in str(r["sources"])
          and r["role"] in ("registered nurse", "physician assistant", "esthetician")]
    procs = {r["procedure"] for r in ca if "laser" in r["procedure"] or "energy" in r["procedure"]}
    assert procs == {"laser hair removal", "laser tattoo removal", "laser vein treatment"}


def test_michigan_laser_statute_reaches_laser_procedures_only(rules):
    mi = [r for r in rules if r["jurisdiction"] == "US-MI"
          and any("333.16276.html" in s["url"] for s in r["sources"])]
    assert mi and {r["procedure"] for r in mi} == {"laser procedure"}


def test_new_york_coolsculpting_ruling_is_on_cryolipolysis_not_all_body_contouring(rules):
    assert _one(rules, "US-NY-esthetician-cryolipolysis")["procedure"] == "cryolipolysis"
    assert not [r for r in rules if r["jurisdiction"] == "US-NY" and r["procedure"] == "body contouring"]


def test_nevada_advanced_esthetician_may_do_laser_hair_removal_under_supervision(rules):
    r = _one(rules, "US-NV-master-esthetician-laser-hair-removal")
    assert r["permission"] == "conditional" and r["supervision"] == "available/indirect"


def test_ohio_rn_iv_therapy_needs_an_individual_prescription_not_a_standing_order(rules):
    r = _one(rules, "US-OH-registered-nurse-iv-therapy")
    assert r["supervision"] != "protocol/standing-order" and r["requires_order"] == "true"
    assert "Standing orders" in r["conditions"]


def test_no_texas_rule_in_force_rests_on_the_superseded_193_17(rules, kb):
    tx = [r for r in rules if r["jurisdiction"] == "US-TX"]
    on_193 = {r["rule"] for r in tx if any("193-17" in s["id"] for s in r["sources"])}
    # the rules of 193.17 stay in the graph as superseded on the day chapter 169 replaced it
    ended = set(kb.query("SELECT ?r WHERE { ?r prov:invalidatedAtTime ?end . FILTER(STR(?end) <= '2025-01-09T00:00:00Z') }")
                .r.map(lambda iri: iri.rsplit("/", 1)[-1]))
    assert tx and on_193 and on_193 <= ended
    today = kb.who_can("botox", "US-TX")
    assert not any(rule.endswith("-22tac-193-17") for rule in today.rule)


def test_south_carolina_esthetician_peel_is_superficial_only(rules):
    sc = {r["procedure"] for r in rules if r["jurisdiction"] == "US-SC" and r["role"] == "esthetician"}
    assert "superficial chemical peel" in sc and "chemical peel" not in sc


def test_no_baseline_surgery_ban_for_pas_nps_or_nurses_without_a_source_that_says_so(rules):
    banned = {r["role"] for r in rules
              if r["jurisdiction"] == "US" and r["procedure"] == "cosmetic surgery"}
    nurses_and_pas = {"physician assistant", "nurse practitioner",
                      "registered nurse", "licensed practical nurse"}
    assert not banned & nurses_and_pas


_TTL = """@prefix ms: <https://w3id.org/medspa-graph/ontology#> .
@prefix rule: <https://w3id.org/medspa-graph/rule/> .
@prefix jur: <https://w3id.org/medspa-graph/jurisdiction/> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
jur:{j} skos:notation "{j}" .
"""


def _rule(name, j):
    return f"rule:{name} a ms:ScopeRule ; ms:jurisdiction jur:{j} .\n"


def test_new_since_draws_only_rules_absent_at_that_commit_and_unions_with_jurisdiction(tmp_path):
    """--new-since COMMIT: rules whose IRI the data did not hold at COMMIT (read with git show,
    not the working tree); with -j, that jurisdiction's rules are added to the pool."""
    git = lambda *a: subprocess.run(["git", "-C", str(tmp_path), *a], check=True,  # noqa: E731
                                    capture_output=True, text=True).stdout.strip()
    data = tmp_path / "ontology" / "data"
    (data / "jurisdictions").mkdir(parents=True)
    (tmp_path / "ontology" / "medspa.ttl").write_text("", encoding="utf-8")
    (data / "roles.ttl").write_text("", encoding="utf-8")
    ak, de = data / "jurisdictions" / "US-AK.ttl", data / "jurisdictions" / "US-DE.ttl"
    ak.write_text(_TTL.format(j="US-AK") + _rule("US-AK-old", "US-AK"), encoding="utf-8")
    de.write_text(_TTL.format(j="US-DE") + _rule("US-DE-old", "US-DE"), encoding="utf-8")
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-q", "-m", "old")
    old = git("rev-parse", "HEAD")
    ak.write_text(ak.read_text() + _rule("US-AK-new", "US-AK"), encoding="utf-8")
    de.write_text(de.read_text() + _rule("US-DE-new", "US-DE"), encoding="utf-8")  # uncommitted

    assert sample_rules.rule_ids_at(old, data) == {"US-AK-old", "US-DE-old"}
    rules = sample_rules.load_rules(data)
    new = {r["rule"] for r in rules} - sample_rules.rule_ids_at(old, data)
    drawn = lambda **kw: sorted(r["rule"] for r in sample_rules.sample_rules(rules, 10, **kw))  # noqa: E731
    assert drawn(new_rules=new) == ["US-AK-new", "US-DE-new"]
    assert drawn(new_rules=new, jurisdictions=("US-AK",)) == ["US-AK-new", "US-AK-old", "US-DE-new"]
    assert drawn(jurisdictions=("US-AK",)) == ["US-AK-new", "US-AK-old"]
    assert drawn() == ["US-AK-new", "US-AK-old", "US-DE-new", "US-DE-old"]

    cli = [sys.executable, str(ROOT / "tools" / "sample_rules.py"), "--data", str(data),
           "--format", "csv", "-n", "10", "--new-since", old]
    rows = list(csv.DictReader(io.StringIO(subprocess.run(cli, capture_output=True, text=True,
                                                          check=True).stdout)))
    assert sorted(r["rule"] for r in rows) == ["US-AK-new", "US-DE-new"]
    bad = subprocess.run([*cli[:-1], "no-such-commit"], capture_output=True, text=True)
    assert bad.returncode == 2 and "not a commit" in bad.stderr
