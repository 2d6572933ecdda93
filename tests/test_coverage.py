"""`coverage`: the core matrix per jurisdiction, each cell's status read from who-can's answer."""

import json

import pytest
from conftest import run_cli

from medspa_graph.questions.coverage import CORE_PROCEDURES, CORE_ROLES, coverage, summary


@pytest.mark.slow  # the coverage of every jurisdiction, checked against the resolution
def test_every_jurisdiction_has_36_cells_whose_status_matches_the_resolution(kb):
    from medspa_graph.questions.answers import searched

    cells = coverage(kb)
    codes = [c for c in kb.jurisdictions() if c != "US"]
    assert len(cells) == 36 * len(codes) and set(cells.jurisdiction) == set(codes)
    for code in ("US-TX", "US-FL", "US-MO", "US-WV"):
        jur = kb.jurisdiction(code)
        for proc in CORE_PROCEDURES:
            proc_id = kb.resolve(proc, "procedure")
            for role in CORE_ROLES:
                role_id = kb.resolve(role, "role")
                governing = kb.resolution(role_id, proc_id, jur).governing
                want = ("state rule" if any(not r.baseline for r in governing) else
                        "searched-not-found" if searched(kb, jur, role_id, proc_id) else
                        "baseline" if governing else "no rule")
                got = cells[(cells.jurisdiction == code) & (cells.role == kb.label(role_id))
                            & (cells.procedure == kb.label(proc_id))].status
                assert list(got) == [want], (code, proc, role)


def test_a_cell_answered_by_an_inherited_state_rule_counts_as_the_states(kb):
    """Texas writes its injection rules for APRNs, not NPs: the NP's cell is the state's."""
    cells = coverage(kb, "US-TX")
    np = cells[(cells.role == "nurse practitioner") & (cells.procedure == "neurotoxin injection")]
    assert list(np.status) == ["state rule"] and "/US-TX-" in np.rule.iloc[0]


@pytest.mark.slow  # the coverage of every jurisdiction
def test_summary_counts_add_up(kb):
    s = summary(coverage(kb))
    assert (s["state rule"] + s["searched-not-found"] + s["baseline"] + s["no rule"] == 36).all()
    assert ((s["state share"] >= 0) & (s["state share"] <= 1)).all()


@pytest.mark.slow
def test_the_cli_prints_the_matrix_and_json():
    r = run_cli("coverage", "-j", "US-TX")
    assert r.returncode == 0 and r.stdout.startswith("Core matrix in US-TX") and "of 36 cells" in r.stdout
    doc = json.loads(run_cli("coverage", "--format", "json").stdout)
    assert doc["roles"] == CORE_ROLES and len(doc["cells"]) == 36 * len(doc["jurisdictions"])
    assert 0 <= doc["state_share"] <= 1
    r = run_cli("coverage", "-j", "US-ZZ")
    assert r.returncode == 2 and "unknown jurisdiction 'US-ZZ'" in r.stderr


def test_texas_answers_from_193_17_before_2025_01_09_and_from_chapter_169_after(kb):
    before = kb.who_can("botox", "US-TX", as_of="2024-12-01")
    after = kb.who_can("botox", "US-TX", as_of="2025-02-01")
    # The esthetician rule rests on the cosmetology rules (16 TAC 83.112(c)), in force before and
    # after the Medical Board's switch from 193.17 to chapter 169, so it is left out here.
    tx_before = {r for r in before.rule if "/US-TX-" in r and "/US-TX-esthetician-" not in r}
    tx_after = {r for r in after.rule if "/US-TX-" in r and "/US-TX-esthetician-" not in r}
    assert tx_before and all(r.endswith("-22tac-193-17") for r in tx_before)
    assert tx_after and not any(r.endswith("-22tac-193-17") for r in tx_after)


@pytest.mark.slow
def test_changes_lists_what_began_and_ended_with_sources():
    doc = json.loads(run_cli("changes", "--since", "2025-01-01", "-j", "US-TX", "--format", "json").stdout)
    kinds = {(c["date"], c["change"]) for c in doc["changes"]}
    assert ("2025-01-09", "ended") in kinds and ("2025-01-09", "began") in kinds
    ended = [c for c in doc["changes"] if c["change"] == "ended"]
    assert all(c["replaced_by"] and c["sources"] for c in ended)
    assert all(c["date"] >= "2025-01-01" and c["jurisdiction"] == "US-TX" for c in doc["changes"])
    r = run_cli("changes", "--since", "last year")
    assert r.returncode == 2 and "--since takes a date YYYY-MM-DD" in r.stderr


@pytest.mark.slow
def test_changes_as_a_table_lists_the_sources():
    r = run_cli("changes", "--since", "2025-01-01", "-j", "US-TX")
    assert r.returncode == 0 and "ended" in r.stdout and "\nSources:\n" in r.stdout
