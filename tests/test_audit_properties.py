"""The audit's CSV readers, by property: any bytes and any cell text are either read (and every
row accounted for: rows in = rows checked + rows rejected) or one UnreadableInputError, never
anything else."""

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medspa_graph.audit.check import COLUMNS, read_csv
from medspa_graph.errors import UnreadableInputError

pytestmark = pytest.mark.slow  # hundreds of generated CSV files, each audited

AUDIT = Path(__file__).parent / "data" / "audit"
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# cells a hostile or careless export might hold: any text, and the usual suspects
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "C1", "N1", "D1", "E1", "botox", "facial", "2026-03-02T09:00", "03/02/2026 9:00",
                     "9999-99-99", "=cmd|' /C calc'!A0", '"', "a,b", "x\ny", "\r", "\t", "\x00", "<script>", "US-FL"]),
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("csv-properties")


def _write(folder: Path, name: str, rows) -> Path:
    """A well-formed CSV of ``rows`` (the csv module quotes cells holding commas, quotes, CR or LF)."""
    buf = io.StringIO(newline="")
    csv.writer(buf).writerows(rows)
    path = folder / name
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


@SETTINGS
@given(raw=st.one_of(st.binary(max_size=300),
                     st.text(max_size=300).map(lambda t: t.encode("utf-8")),
                     st.lists(st.lists(cells, max_size=9), max_size=6).map(
                         lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8"))),
       kind=st.sampled_from(sorted(COLUMNS)))
def test_any_bytes_are_read_or_one_unreadable_input_error(folder, raw, kind):
    path = folder / f"{kind}.csv"
    path.write_bytes(raw)
    try:
        df = read_csv(path, kind)
    except UnreadableInputError as e:
        assert str(e).startswith(str(path)) and "\n" not in str(e)
    else:
        assert list(df.columns[:1]) == ["line"] and set(COLUMNS[kind]["required"]) <= set(df.columns)


HEADER = ["appointment_id", "start_time", "clinic_id", "performer_id", "procedure", "supervisor_id", "examiner_id"]


@SETTINGS
@given(rows=st.lists(st.lists(cells, min_size=7, max_size=7), min_size=1, max_size=8))
def test_every_appointment_row_is_checked_or_rejected(kb, folder, rows):
    log = _write(folder, "appointments.csv", [HEADER, *rows])
    try:
        result = kb.audit(AUDIT / "roster.csv", AUDIT / "clinics.csv", log)
    except UnreadableInputError as e:
        assert str(e).startswith(str(log)) and "\n" not in str(e)
        return
    s = result.summary
    assert s["appointments_read"] == len(rows)
    assert s["appointments_read"] == s["appointments_checked"] + s["appointments_rejected"]
    mine = result.rejected[result.rejected.file == str(log)]
    last = log.read_bytes().count(b"\n") + 1  # cells may hold newlines: a row starts on its own physical line
    assert len(mine) == s["appointments_rejected"] and mine.line.between(2, last).all()
    assert mine.reason.map(lambda r: "\n" not in r and r != "").all()


ROSTER = ["staff_id", "name", "role", "licence_jurisdiction", "supervisor_id", "clinic_id"]
CLINICS = ["clinic_id", "name", "jurisdiction", "medical_director_id"]


@SETTINGS
@given(staff=st.lists(st.lists(cells, min_size=6, max_size=6), min_size=1, max_size=6),
       clinics=st.lists(st.lists(cells, min_size=4, max_size=4), min_size=1, max_size=4))
def test_every_roster_and_clinic_row_is_kept_or_rejected(kb, folder, staff, clinics):
    roster = _write(folder, "roster.csv", [ROSTER, *staff])
    clinic_list = _write(folder, "clinics.csv", [CLINICS, *clinics])
    try:
        result = kb.audit(roster, clinic_list, AUDIT / "appointments.csv")
    except UnreadableInputError as e:
        assert "\n" not in str(e)
        return
    s = result.summary
    assert (s["roster_read"], s["clinics_read"]) == (len(staff), len(clinics))
    assert s["roster_rejected"] <= s["roster_read"] and s["clinics_rejected"] <= s["clinics_read"]
    assert s["appointments_read"] == s["appointments_checked"] + s["appointments_rejected"]
