"""The compliance audit: every check on a hand-written case, and bad input reported, not dropped.

Fixtures in tests/data/audit/ are Florida cases whose answers follow from the
US-FL rules (an RN injecting neurotoxin needs a physician on site and a
physician's prior examination; an LPN works under protocol; estheticians may
not inject; only physicians may direct a med spa).
"""

import json
from pathlib import Path

import pytest

from medspa_graph.errors import UnreadableInputError

DATA = Path(__file__).parent / "data" / "audit"
FILES = dict(roster=DATA / "roster.csv", clinics=DATA / "clinics.csv", appointments=DATA / "appointments.csv")


@pytest.fixture(scope="module")
def result(kb):
    return kb.audit(**FILES)


def _by(result, check):
    f = result.findings
    return f[f.check == check]


def test_each_planted_appointment_problem_is_found_once_and_nothing_else(result):
    f = result.findings[result.findings.appointment_id != ""]
    got = sorted(zip(f.appointment_id, f.check, f.severity))
    assert got == [
        ("A2", "supervision", "violation"),   # RN botox, no physician on site
        ("A3", "prior-exam", "violation"),    # RN botox, no prior exam
        ("A4", "supervision", "violation"),   # supervised by an esthetician
        ("A5", "scope", "violation"),         # esthetician injecting
        ("A6", "licence", "violation"),       # California RN in a Florida clinic
        ("A8", "scope", "warning"),           # LPN: conditional
        ("A9", "scope", "warning"),
        ("A9", "supervision", "violation"),   # LPN with no supervisor on the roster
    ]
    assert "A1" not in set(f.appointment_id) and "A7" not in set(f.appointment_id)


def test_findings_carry_the_rule_its_sources_and_plain_words(result):
    row = result.findings[result.findings.appointment_id == "A2"].iloc[0]
    assert row.rule.endswith("US-FL-registered-nurse-neurotoxin-injection")
    assert row.sources.startswith("http")
    assert "needs onsite/direct supervision by a physician" in row.explanation
    assert row.room == "1"  # extra columns of the log are kept


def test_person_level_chain_problems(result):
    chain = _by(result, "staff-chain")
    assert sorted(chain.explanation.str.split(":").str[0]) == [
        "supervision cycle", "the supervision chain of M3 ends with M2 (medical assistant), who may not act "
                             "independently in any procedure"]


def test_clinic_medical_directors(result):
    md = _by(result, "medical-director")
    assert list(md.clinic_id) == ["C2"] and "esthetician" in md.iloc[0].explanation


def test_unreadable_rows_are_rejected_with_line_and_reason_and_counted(result):
    rej = result.rejected
    lines = {(Path(r.file).name, r.line, r.id): r.reason for r in rej.itertuples()}
    assert lines[("appointments.csv", 11, "A10")].startswith("procedure: unknown procedure 'botx'; closest")
    assert lines[("appointments.csv", 12, "A11")] == "unknown performer id 'Z9'"
    assert "not a date" in lines[("appointments.csv", 13, "A12")]
    assert lines[("appointments.csv", 14, "A1")] == "duplicate appointment id 'A1'"
    assert lines[("roster.csv", 12, "Q1")] == "role: unknown role 'wizard'"
    assert lines[("roster.csv", 13, "D1")] == "duplicate staff id 'D1'"
    assert lines[("clinics.csv", 4, "C3")].startswith("jurisdiction: unknown jurisdiction 'US-ZZ'")
    s = result.summary
    assert s["appointments_read"] == s["appointments_checked"] + s["appointments_rejected"] == 13
    assert s["roster_read"] == 12 and s["roster_rejected"] == 2


def test_missing_columns_and_broken_files_are_one_line_errors(kb, tmp_path):
    bad = tmp_path / "appointments.csv"
    bad.write_text("appointment_id,clinic_id,performer_id\nA1,C1,N1\n")
    with pytest.raises(UnreadableInputError, match="missing columns start_time, procedure"):
        kb.audit(FILES["roster"], FILES["clinics"], bad)
    bad.write_bytes(b"appointment_id,start_time\n\xff\xfe,1\n")
    with pytest.raises(UnreadableInputError, match="not UTF-8"):
        kb.audit(FILES["roster"], FILES["clinics"], bad)
    bad.write_text("")
    with pytest.raises(UnreadableInputError, match="empty file"):
        kb.audit(FILES["roster"], FILES["clinics"], bad)
    with pytest.raises(UnreadableInputError, match="no such file"):
        kb.audit(FILES["roster"], FILES["clinics"], tmp_path / "nope.csv")


def test_columns_match_case_insensitively_and_by_other_names(kb, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("ID,Start,CLINIC,Performer Staff ID,Service,Supervising Staff ID,Prior Exam By\n"
                   "B1,2026-01-05 09:30,C1,N1,Botox,,D1\n")
    f = kb.audit(FILES["roster"], FILES["clinics"], log).findings
    assert list(f[f.appointment_id == "B1"].check) == ["supervision"]


@pytest.mark.slow
def test_audit_command_exit_codes_and_formats(cli, tmp_path):
    args = ["audit", "--roster", FILES["roster"], "--clinics", FILES["clinics"], "--appointments", FILES["appointments"]]
    r = cli(*args, "--format", "json")
    assert r.returncode == 1, r.stderr  # violations found
    doc = json.loads(r.stdout)
    assert doc["summary"]["appointments_checked"] == 9 and len(doc["rejected"]) == 7
    assert "appointments.csv:11: rejected A10" in r.stderr
    out = tmp_path / "findings.csv"
    r = cli(*args, "--format", "csv", "--out", out)
    assert r.returncode == 1 and r.stdout == "" and out.read_text().startswith("appointment_id,check,severity")
    clean = tmp_path / "clean.csv"
    clean.write_text("appointment_id,start_time,clinic_id,performer_id,procedure,supervisor_id,examiner_id\n"
                     "K1,2026-03-02T09:00,C1,N1,botox,D1,D1\n")
    ok_clinics = tmp_path / "clinics.csv"
    ok_clinics.write_text("clinic_id,name,jurisdiction,medical_director_id\nC1,Palm Glow,US-FL,D1\n")
    ok_roster = tmp_path / "roster.csv"
    ok_roster.write_text("staff_id,name,role,licence_jurisdiction,supervisor_id,clinic_id\n"
                         "D1,Dana,physician,US-FL,,C1\nN1,Nora,RN,US-FL,D1,C1\n")
    r = cli("audit", "--roster", ok_roster, "--clinics", ok_clinics, "--appointments", clean)
    assert r.returncode == 0 and "(no findings)" in r.stdout, r.stderr
    r = cli("audit", "--roster", ok_roster, "--clinics", ok_clinics, "--appointments", tmp_path / "missing.csv")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such file" in r.stderr


@pytest.mark.slow
def test_synthetic_network_audit_finds_exactly_the_planted_violations(kb, tmp_path):
    import pandas as pd

    from medspa_graph.audit.synth import synthesize

    counts = synthesize(kb, tmp_path, clinics=40, seed=11, appointments_per_clinic=60, violation_rate=0.05)
    assert counts["appointments"] == 2400 and counts["planted"] > 50
    result = kb.audit(tmp_path / "roster.csv", tmp_path / "clinics.csv", tmp_path / "appointments.csv")
    planted = pd.read_csv(tmp_path / "planted.csv", dtype=str)
    assert set(planted.kind) == {"outside-scope", "no-supervisor-on-site", "no-prior-exam"}
    got = sorted(zip(result.findings.appointment_id, result.findings.check))
    assert got == sorted(zip(planted.appointment_id, planted.check))  # no misses, no extras, no warnings
    assert len(result.rejected) == 0 and result.summary["appointments_checked"] == 2400


@pytest.mark.slow
def test_synth_is_deterministic_for_a_seed(cli, tmp_path):
    for run in ("a", "b", "c"):
        r = cli("synth", "--clinics", "5", "--seed", "7" if run != "c" else "8", "--out", tmp_path / run)
        assert r.returncode == 0, r.stderr
    files = ("roster.csv", "clinics.csv", "appointments.csv", "planted.csv")
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    assert (tmp_path / "a" / "appointments.csv").read_bytes() != (tmp_path / "c" / "appointments.csv").read_bytes()


def test_rows_missing_required_ids_are_rejected_not_crashed_on(kb, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("appointment_id,start_time,clinic_id,performer_id,procedure\n"
                   ",2026-01-05 09:30,C1,N1,facial\n"
                   "B2,2026-01-05 09:30,,N1,facial\n"
                   "B3,2026-01-05 09:30,C1,,facial\n"
                   "B4,2026-01-05 09:30,C1,E1,\n"
                   "B5,03/02/2026 9:00,C1,E1,facial\n")
    r = kb.audit(FILES["roster"], FILES["clinics"], log)
    mine = r.rejected[r.rejected.file == str(log)]
    reasons = dict(zip(mine.line, mine.reason))
    assert reasons == {2: "no appointment id", 3: "no clinic id", 4: "no performer id", 5: "procedure: empty"}
    assert r.summary["appointments_checked"] == 1  # B5: another date spelling, still read


def test_padded_cells_are_stripped(kb, tmp_path):
    log = tmp_path / "log.csv"
    log.write_text("appointment_id ,start_time,clinic_id,performer_id,procedure\n"
                   "P1 , 2026-01-05T09:30,C1 ,N1\t,botox \n")
    r = kb.audit(FILES["roster"], FILES["clinics"], log)
    assert len(r.rejected[r.rejected.file == str(log)]) == 0
    assert set(r.findings[r.findings.appointment_id == "P1"].check) == {"supervision", "prior-exam"}


def _write(folder, name, text):
    path = folder / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_quoted_newlines_blank_lines_and_short_rows_keep_true_line_numbers(kb, tmp_path):
    log = _write(tmp_path, "log.csv",
                 "appointment_id,start_time,clinic_id,performer_id,procedure,supervisor_id,examiner_id,note\n"
                 'Q1,2026-03-02T09:00,C1,E1,facial,,,"two\nlines"\n'
                 "\n"
                 "Q2,2026-03-02T10:00,C1,E1,facial\n"              # line 5: too few cells
                 "Q3,2026-03-02T11:00,C1,E1,botx,,,\n"             # line 6: unknown procedure
                 "Q4,2026-03-02T12:00,C1,E1,facial,,,,extra\n"     # line 7: too many cells
                 "Q5,2026-03-02T13:00,C1,E1,botox,D1,D1,\n")       # line 8: outside scope
    r = kb.audit(FILES["roster"], FILES["clinics"], log)
    rejected = {(row.line, row.reason.split(":")[0]) for row in r.rejected.itertuples() if row.file == str(log)}
    assert rejected == {(5, "expected 8 cells, found 5"), (6, "procedure"), (7, "expected 8 cells, found 9")}
    f = r.findings[r.findings.appointment_id != ""]
    assert list(zip(f.appointment_id, f.line, f.check)) == [("Q5", 8, "scope")]
    s = r.summary
    assert s["appointments_read"] == 5 == s["appointments_checked"] + s["appointments_rejected"]


def test_cells_are_stripped_and_a_byte_order_mark_is_ignored(kb, tmp_path):
    log = _write(tmp_path, "log.csv", "\ufeffappointment_id , start_time,clinic_id,performer_id,procedure\n"
                                      " P1 ,2026-03-02T09:00 ,C1\t, E1 , botox \n")
    f = kb.audit(FILES["roster"], FILES["clinics"], log).findings
    f = f[f.appointment_id != ""]
    assert list(zip(f.appointment_id, f.staff_id, f.check)) == [("P1", "E1", "scope")]


def test_longer_cycles_self_supervision_and_staff_hanging_below_a_cycle(kb, tmp_path):
    roster = _write(tmp_path, "roster.csv", "staff_id,name,role,licence_jurisdiction,supervisor_id,clinic_id\n"
                                            "D1,Dana,physician,US-FL,,C1\n"
                                            "A,Ann,RN,US-FL,B,C1\nB,Bo,RN,US-FL,C,C1\nC,Cy,RN,US-FL,A,C1\n"
                                            "H,Hal,RN,US-FL,A,C1\n"      # below the cycle, not on it
                                            "S,Sol,RN,US-FL,S,C1\n"      # supervises themself
                                            "U,Uma,RN,US-FL,NOBODY,C1\n")
    chain = kb.audit(roster, FILES["clinics"], FILES["appointments"]).findings
    chain = sorted(chain[chain.check == "staff-chain"].explanation)
    assert chain == ["U's supervisor 'NOBODY' is not on the roster",
                     "supervision cycle: A -> B -> C -> A", "supervision cycle: S -> S"]


def test_progress_is_reported_in_order_up_to_done(kb):
    seen = []
    kb.audit(**FILES, progress=lambda done, what: seen.append((done, what)))
    fractions = [d for d, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) >= 5


@pytest.mark.slow
def test_the_cli_draws_a_progress_bar_on_a_terminal_only(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    args = [sys.executable, "-m", "medspa_graph", "audit", "--roster", FILES["roster"], "--clinics",
            FILES["clinics"], "--appointments", FILES["appointments"], "--out", tmp_path / "f.txt"]
    piped = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert piped.returncode == 1 and "\x1b[" not in piped.stderr
    main, child = pty.openpty()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=child, env={**os.environ, "TERM": "xterm"})
    os.close(child)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=300) == 1
    os.close(main)
    assert b"\x1b[" in seen and b"findings:" in seen  # the bar was drawn (and cleared), then the summary


@pytest.mark.slow
def test_rdf_output_joins_findings_to_rules_and_staff_to_roles_in_sparql(kb, cli, tmp_path):
    import pyoxigraph as ox

    args = ["audit", "--roster", FILES["roster"], "--clinics", FILES["clinics"], "--appointments", FILES["appointments"],
            "--out", tmp_path / "f.txt"]
    r = cli(*args, "--rdf", tmp_path / "audit.ttl", "--rdf-base", "https://clinics.example/")
    assert r.returncode == 1, r.stderr
    store = ox.Store()
    store.load(path=str(tmp_path / "audit.ttl"), format=ox.RdfFormat.TURTLE)
    rows = store.query("""
        PREFIX ms: <https://w3id.org/medspa-graph/ontology#> PREFIX prov: <http://www.w3.org/ns/prov#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?subject ?rule WHERE { ?f a ms:AuditFinding ; ms:auditCheck "supervision" ; dcterms:subject ?subject ;
                                         prov:wasDerivedFrom ?rule }""")
    got = sorted((row["subject"].value, row["rule"].value.rsplit("/", 1)[1]) for row in rows)
    assert got[0] == ("https://clinics.example/appointment/A2", "US-FL-registered-nurse-neurotoxin-injection")
    assert len(got) == 3  # A2, A4, A9
    members = store.query("""PREFIX org: <http://www.w3.org/ns/org#>
        SELECT ?role WHERE { ?m org:member <https://clinics.example/staff/N1> ; org:role ?role ;
                                org:organization <https://clinics.example/clinic/C1> .
                             <https://clinics.example/staff/N1> org:reportsTo <https://clinics.example/staff/D1> }""")
    assert [row["role"].value for row in members] == ["https://w3id.org/medspa-graph/ontology#RegisteredNurse"]
    bad = cli(*args, "--rdf", tmp_path / "audit.xml")
    assert bad.returncode == 2 and "needs a .ttl or .nt" in bad.stderr and not (tmp_path / "audit.xml").exists()


@pytest.mark.slow
def test_the_readme_example_network_finds_its_planted_violations(cli, tmp_path):
    import pandas as pd

    ex = Path(__file__).parents[1] / "examples" / "audit"
    r = cli("audit", "--roster", ex / "roster.csv", "--clinics", ex / "clinics.csv",
            "--appointments", ex / "appointments.csv", "--format", "csv", "--out", tmp_path / "f.csv")
    assert r.returncode == 1, r.stderr
    found, planted = pd.read_csv(tmp_path / "f.csv", dtype=str), pd.read_csv(ex / "planted.csv", dtype=str)
    assert sorted(zip(found.appointment_id, found.check)) == sorted(zip(planted.appointment_id, planted.check))


def test_a_quoted_cell_never_closed_is_an_error_not_rows_silently_merged(kb, tmp_path):
    log = _write(tmp_path, "log.csv", "appointment_id,start_time,clinic_id,performer_id,procedure\n"
                                      'A1,2026-03-02T09:00,C1,N1,5\'10" client\n'  # a quote inside a cell is text
                                      'A2,2026-03-02T09:00,C1,N1,"botox\n'
                                      "A3,2026-03-02T10:00,C1,N1,botox\n")
    with pytest.raises(UnreadableInputError, match=r"log.csv:3: CSV syntax error: a quoted cell is never closed"):
        kb.audit(FILES["roster"], FILES["clinics"], log)


@pytest.mark.slow
def test_safe_csv_defuses_formula_cells_and_plain_csv_keeps_them(cli, tmp_path):
    """A log cell such as =HYPERLINK(...) reaches the findings CSV as written (documented);
    --safe-csv starts it with ' so a spreadsheet shows text instead of running a formula."""
    log = tmp_path / "appointments.csv"
    log.write_text("appointment_id,start_time,clinic_id,performer_id,procedure,supervisor_id,examiner_id,note\n"
                   'A1,2026-03-02T09:00,C1,N1,botox,,D1,"=HYPERLINK(""http://x.example/"",""open"")"\n'
                   "A2,2026-03-02T10:00,C1,N1,botox,,D1,@SUM(A1)\n")
    args = ["audit", "--roster", DATA / "roster.csv", "--clinics", DATA / "clinics.csv", "--appointments", log,
            "--format", "csv"]
    import csv
    import io

    plain = list(csv.DictReader(io.StringIO(cli(*args).stdout)))
    safe = list(csv.DictReader(io.StringIO(cli(*args, "--safe-csv").stdout)))
    notes = {r["appointment_id"]: r["note"] for r in plain if r["appointment_id"]}
    assert notes == {"A1": '=HYPERLINK("http://x.example/","open")', "A2": "@SUM(A1)"}
    safe_notes = {r["appointment_id"]: r["note"] for r in safe if r["appointment_id"]}
    assert safe_notes == {"A1": "'=HYPERLINK(\"http://x.example/\",\"open\")", "A2": "'@SUM(A1)"}
    assert all(not v.startswith(("=", "+", "-", "@")) for r in safe for v in r.values())
