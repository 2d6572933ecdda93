"""`coverage`: the core matrix per jurisdiction, each cell's status read from who-can's answer."""

import json

from conftest import run_cli
from medspa_graph.coverage import CORE_PROCEDURES, CORE_ROLES, coverage, summary


def test_every_jurisdiction_has_36_cells_whose_status_matches_who_can(kb):
    cells = coverage(kb)
    codes = [c for c in kb.jurisdictions() if c != "US"]
    assert len(cells) == 36 * len(codes) and set(cells.jurisdiction) == set(codes)
    for code in ("US-TX", "US-FL", "US-MO"):
        for proc in CORE_PROCEDURES:
            df = kb.who_can(proc, code)
            proc_label = kb.label(kb.resolve(proc, "procedure"))
            for role in CORE_ROLES:
                role_id = kb.resolve(role, "role")
                rows = df[df.role_id == str(role_id)]
                want = ("no rule" if rows.empty else
                        "state rule" if (rows.basis == "jurisdiction").any() else "baseline")
                got = cells[(cells.jurisdiction == code) & (cells.role == kb.label(role_id))
                            & (cells.procedure == proc_label)].status
                assert list(got) == [want], (code, proc, role)


def test_summary_counts_add_up(kb):
    s = summary(coverage(kb))
    assert (s["state rule"] + s["baseline"] + s["no rule"] == 36).all()
    assert ((s["state share"] >= 0) & (s["state share"] <= 1)).all()


def test_the_cli_prints_the_matrix_and_json():
    r = run_cli("coverage", "-j", "US-TX")
    assert r.returncode == 0 and r.stdout.startswith("Core matrix in US-TX") and "of 36 cells" in r.stdout
    doc = json.loads(run_cli("coverage", "--format", "json").stdout)
    assert doc["roles"] == CORE_ROLES and len(doc["cells"]) == 36 * len(doc["jurisdictions"])
    assert 0 <= doc["state_share"] <= 1
    r = run_cli("coverage", "-j", "US-ZZ")
    assert r.returncode == 2 and "unknown jurisdiction 'US-ZZ'" in r.stderr
