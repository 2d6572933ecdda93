"""The audit at scale (issue 22): the log streamed in batches finds what the whole-file read
finds, byte for byte; memory does not grow with the log; the fixed costs are paid once per
knowledge base; a log split by clinic audits in parts that merge to the whole audit."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from medspa_graph.audit.check import audit, read_csv_batches
from medspa_graph.errors import UnreadableInputError

SMALL = 1 << 16  # the smallest batch: 64 KiB, about a thousand appointments


@pytest.fixture(scope="module")
def network(kb, tmp_path_factory):
    """A synthetic network of 8,000 appointments with planted violations, and unreadable rows
    planted across batch boundaries: too few cells, a quoted cell with a newline, an unknown
    procedure, a blank line, and duplicates of an id thousands of rows before."""
    from medspa_graph.audit.synth import synthesize

    folder = tmp_path_factory.mktemp("scale")
    synthesize(kb, folder, clinics=40, seed=22, appointments_per_clinic=200, violation_rate=0.05)
    log = folder / "appointments.csv"
    lines = log.read_text().splitlines(keepends=True)
    lines[1500:1500] = ['Z1,2026-01-05T09:00,C00003,S0000051,"Botox\nand more",,\n', "\n",
                        "Z2,2026-01-05T09:00,C00003\n", lines[20], "Z3,2026-01-05T09:00,C00003,S0000051,botx,,\n"]
    lines[6000:6000] = [lines[3000], "Z4,2026-01-05T09:00,C00009,S0000201,facial,,,extra\n"]
    log.write_text("".join(lines))
    return {"roster": folder / "roster.csv", "clinics": folder / "clinics.csv", "appointments": log}


def _records(frame):
    return frame.astype({"line": object}).to_dict("records")


def test_the_log_is_read_in_many_batches_each_cut_between_records(network):
    batches = list(read_csv_batches(network["appointments"], "appointments", SMALL))
    assert len(batches) > 5
    whole = next(iter(read_csv_batches(network["appointments"], "appointments", None)))
    lines = [line for b in batches for line in b.frame.line]
    assert lines == list(whole.frame.line)  # every row once, on its own line, in order
    assert [bad for b in batches for bad in b.bad] == whole.bad
    assert batches[-1].done == batches[-1].size == network["appointments"].stat().st_size


def test_batches_find_exactly_what_the_whole_file_read_finds(kb, network):
    import pandas as pd

    whole = audit(kb, **network, batch_bytes=None)
    streamed = audit(kb, **network, batch_bytes=SMALL)
    assert _records(streamed.findings) == _records(whole.findings)
    assert streamed.rejected.to_dict("records") == whole.rejected.to_dict("records")
    assert streamed.summary == whole.summary
    reasons = {r.reason.split(":")[0].split(" '")[0] for r in streamed.rejected.itertuples()}
    assert {"expected 7 cells, found 3", "expected 7 cells, found 8", "procedure", "duplicate appointment id"} <= reasons
    assert (streamed.rejected.reason.str.startswith("duplicate appointment id")).sum() == 2  # thousands of rows apart
    planted = pd.read_csv(Path(network["appointments"]).parent / "planted.csv", dtype=str)
    f = streamed.findings
    assert sorted(zip(f.appointment_id, f.check)) == sorted(zip(planted.appointment_id, planted.check))


def test_the_command_writes_the_same_bytes_as_the_whole_table_writers(kb, cli, network, tmp_path):
    """CSV and JSON findings are spooled as found and put in place at the end: the bytes are
    those of DataFrame.to_csv and json.dump(indent=2) of the whole result."""
    from medspa_graph.audit.check import defuse_formulas

    result = kb.audit(**network)
    args = ["audit", "--roster", network["roster"], "--clinics", network["clinics"],
            "--appointments", network["appointments"]]
    r = cli(*args, "--format", "json", "--out", tmp_path / "f.json")
    assert r.returncode == 1, r.stderr
    want = json.dumps({"summary": result.summary, "findings": result.findings.to_dict("records"),
                       "rejected": result.rejected.to_dict("records")}, indent=2, ensure_ascii=False, default=str)
    assert (tmp_path / "f.json").read_text() == want + "\n"
    r = cli(*args, "--format", "csv", "--safe-csv")
    assert r.returncode == 1 and r.stdout == defuse_formulas(result.findings).to_csv(index=False, lineterminator="\n")
    assert "rejected : expected 7 cells, found 3: 'Z2," in r.stderr


@pytest.mark.parametrize("damage, message", [
    (b"Z9,2026-01-05T09:00,C00003,S0000051,bo\xfftox,,\n", r"not UTF-8 \(byte \d+\)"),
    (b'Z9,2026-01-05T09:00,C00003,S0000051,"botox,,\n', "CSV syntax error: a quoted cell is never closed"),
])
def test_an_error_late_in_the_log_is_the_whole_file_error_and_writes_nothing(kb, network, tmp_path, damage, message):
    from medspa_graph.audit.findings import FindingsWriter

    log = tmp_path / "appointments.csv"
    raw = network["appointments"].read_bytes()
    cut = raw.index(b"\n", len(raw) * 3 // 4) + 1
    log.write_bytes(raw[:cut] + damage + raw[cut:])
    files = {**network, "appointments": log}
    with pytest.raises(UnreadableInputError, match=message) as whole:
        audit(kb, **files, batch_bytes=None)
    out = tmp_path / "findings.json"
    with FindingsWriter("json") as writer, pytest.raises(UnreadableInputError) as streamed:
        audit(kb, **files, batch_bytes=SMALL, sink=writer)
    assert str(streamed.value) == str(whole.value)  # the same line, the same byte
    line = raw[:cut].count(b"\n") + 1
    assert f"appointments.csv:{line}: " in str(streamed.value)
    assert not out.exists() and not writer.folder.exists()  # the spools went with the error


def test_progress_moves_with_the_bytes_read(kb, network):
    seen = []
    audit(kb, **network, batch_bytes=SMALL, progress=lambda done, what: seen.append((done, what)))
    log = [d for d, what in seen if what == "checking appointments"]
    assert len(log) > 5 and log == sorted(log) and len(set(log)) == len(log)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1] == (1.0, "done")


def test_an_id_has_one_fingerprint_whatever_batch_it_is_in():
    import random

    import pyarrow as pa

    from medspa_graph.audit.check import _SeenIds

    seen, rnd, known = _SeenIds(), random.Random(5), {}
    pool = ["".join(rnd.choice("ab\x00é-9") for _ in range(rnd.randrange(0, 90))) for _ in range(400)]
    for _ in range(40):
        batch = rnd.sample(pool, 30)
        for x, *fp in zip(batch, *seen._fingerprints(pa.array(batch))):
            assert known.setdefault(x, fp) == fp, repr(x)
    assert len({tuple(v) for v in known.values()}) == len(known)
    fresh = _SeenIds()
    assert list(fresh.repeats(pa.array(["a", "b", "a"]))) == [False, False, True]
    assert list(fresh.repeats(pa.array(["c", "b", "a" * 70, ""]))) == [False, True, False, False]
    assert list(fresh.repeats(pa.array(["a" * 70, "", "d"]))) == [True, True, False]


_CHILD = """
import sys
import medspa_graph
from medspa_graph.audit.check import audit

def status(key):
    return next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith(key + ":"))

kb = medspa_graph.load()
folder, batch = sys.argv[1], int(sys.argv[3])
audit(kb, folder + "/roster.csv", folder + "/clinics.csv", folder + "/empty.csv")  # warm: imports, caches
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak (VmHWM) starts again from here
audit(kb, folder + "/roster.csv", folder + "/clinics.csv", sys.argv[2], batch_bytes=batch or None)
print(status("VmHWM") - before)
"""


def _audit_peak_mib(folder, log, batch) -> float:
    """How far the peak RSS of a fresh process rises (MiB) while it audits ``log`` (after one
    audit of an empty log, so imports and caches are not counted)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(folder), str(log), str(batch)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    return int(out.stdout.split()[-1]) / 1024


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux's peak-RSS reset")
def test_a_log_ten_times_longer_does_not_need_ten_times_the_memory(kb, tmp_path):
    """Peak RSS of child processes, as a ratio: the memory an audit adds for a log ten times
    longer is not ten times as much (the roster and a batch, plus 16 bytes an id)."""
    from medspa_graph.audit.synth import synthesize

    synthesize(kb, tmp_path, clinics=20, seed=3, appointments_per_clinic=15_000, violation_rate=0.01)
    log = tmp_path / "appointments.csv"
    rows = log.read_text().splitlines(keepends=True)
    (tmp_path / "empty.csv").write_text(rows[0])
    (tmp_path / "tenth.csv").write_text("".join(rows[: len(rows) // 10]))
    small, big = (_audit_peak_mib(tmp_path, tmp_path / name, 1 << 20) for name in ("tenth.csv", log.name))
    assert big < 3 * small, (small, big)


def test_rules_are_kept_per_knowledge_base_and_on_disk_so_a_new_one_queries_none(kb, network):
    """The first audit in a process used to spend seconds on one SPARQL query per jurisdiction;
    they are asked once per knowledge base, kept in the cache folder, and read back by the next."""
    import medspa_graph
    from medspa_graph.audit.index import audit_index

    first = kb.audit(**network)
    index = audit_index(kb)
    assert index._file().is_file() and audit_index(kb) is index
    fresh = medspa_graph.load()

    def no_queries(jurisdiction):
        raise AssertionError(f"rules of {jurisdiction} queried again")

    fresh.catalog.rules = no_queries
    again = fresh.audit(**network)
    assert _records(again.findings) == _records(first.findings)


def test_a_damaged_rules_file_is_ignored_and_rewritten(kb, network):
    import medspa_graph
    from medspa_graph.audit.index import audit_index

    first = kb.audit(**network)
    path = audit_index(kb)._file()
    path.write_text('{"format": 3, "data_hash": "' + kb.data_hash + '", "rules": [{"iri": 1}]')
    fresh = medspa_graph.load()
    again = fresh.audit(**network)
    assert _records(again.findings) == _records(first.findings)
    assert json.loads(path.read_text())["rules"]  # rewritten whole


@pytest.mark.parametrize("by", ["clinic", "state"])
def test_a_log_split_in_two_parts_audits_and_merges_to_the_whole_audit(kb, network, tmp_path, by):
    """The README's recipe for more than one machine, on one: split by clinic (or state), audit
    each part on its own, merge; the findings, rejected rows and counts are the whole audit's."""
    from medspa_graph.audit.parts import merge, split

    whole = kb.audit(**network)
    folders = split(network["roster"], network["clinics"], network["appointments"], tmp_path, parts=2, by=by)
    parts = [kb.audit(f / "roster.csv", f / "clinics.csv", f / "appointments.csv") for f in folders]
    assert all(p.summary["appointments_read"] for p in parts)  # both parts have work
    merged = merge(parts, folders, **network)
    assert _records(merged.findings) == _records(whole.findings)
    assert merged.rejected.to_dict("records") == whole.rejected.to_dict("records")
    assert merged.summary == whole.summary
