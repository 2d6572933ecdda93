"""`medspa-graph build`: the three exports, the summary, and all-or-nothing writes."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rdflib
from rdflib.compare import isomorphic

pytestmark = pytest.mark.slow  # `medspa-graph build` in subprocesses

DATA = Path(__file__).parent / "data"


def test_build_writes_three_isomorphic_exports_and_a_summary(cli, tmp_path):
    out = tmp_path / "out"
    r = cli("build", "--out", out)
    assert r.returncode == 0, r.stderr
    for kind in ("roles", "procedures", "products", "jurisdictions", "scope rules", "sources"):
        assert any(line.startswith(kind) for line in r.stdout.splitlines()), kind
    counts = {l.rsplit(None, 1)[0].strip(): int(l.rsplit(None, 1)[1]) for l in r.stdout.splitlines()
              if l and l.split()[-1].isdigit()}
    assert counts["scope rules"] >= 150
    assert counts["jurisdictions"] >= 14
    graphs = [rdflib.Graph().parse(out / name) for name in
              ("medspa-graph.ttl", "medspa-graph.nt", "medspa-graph.jsonld")]
    assert isomorphic(graphs[0], graphs[1]) and isomorphic(graphs[1], graphs[2])
    assert len(graphs[0]) == counts["triples"]
    assert not list(out.glob(".*.tmp"))


def test_reasoned_build_knows_a_dermatologist_is_a_physician(tmp_path, cli):
    out = tmp_path / "o"
    assert cli("build", "--out", out).returncode == 0
    g = rdflib.Graph().parse(out / "medspa-graph.nt")
    ms = rdflib.Namespace("https://w3id.org/medspa-graph/ontology#")
    assert (ms.Dermatologist, rdflib.RDFS.subClassOf, ms.LicensedHealthcareProfessional) in g


def test_failed_build_leaves_previous_output_untouched(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    previous = {n: f"previous {n}\n" for n in ("medspa-graph.ttl", "medspa-graph.nt", "medspa-graph.jsonld")}
    for n, text in previous.items():
        (out / n).write_text(text)
    r = cli("build", "--out", out, DATA / "broken.ttl")
    assert r.returncode == 2
    assert {p.name: p.read_text() for p in out.iterdir()} == previous


# -- a build stopped by a signal -------------------------------------------------------

NAMES = ("medspa-graph.ttl", "medspa-graph.nt", "medspa-graph.jsonld")


@pytest.fixture(scope="module")
def previous_build(tmp_path_factory, cli):
    """A good earlier build (without reasoning, so its files differ from a full build's)."""
    out = tmp_path_factory.mktemp("previous")
    r = cli("build", "--no-reason", "--out", out)
    assert r.returncode == 0, r.stderr
    return {n: (out / n).read_bytes() for n in NAMES}


def _temporary_files(folder):
    return [e.name for e in os.scandir(folder) if e.name.endswith(".tmp")]


@pytest.mark.parametrize("sig,code,when", [
    pytest.param(signal.SIGINT, 130, "validating", id="SIGINT-validating"),
    pytest.param(signal.SIGINT, 130, "writing", id="SIGINT-writing"),
    pytest.param(signal.SIGTERM, 143, "writing", id="SIGTERM-writing"),
])
def test_a_build_stopped_by_a_signal_leaves_the_previous_output(sig, code, when, previous_build, tmp_path,
                                                                kb):
    """The three previous files stay byte for byte, or (a signal in the last renames) three new ones."""
    out = tmp_path / "out"
    out.mkdir()
    for attempt in range(3):  # writing takes milliseconds: a poll that missed it tries again
        for name, data in previous_build.items():
            (out / name).write_bytes(data)
        # an empty cache folder: a build whose graph is cached skips parse, validate and reason
        env = {**os.environ, "MEDSPA_GRAPH_CACHE": str(tmp_path / f"cache-{attempt}")}
        proc = subprocess.Popen([sys.executable, "-m", "medspa_graph", "build", "--out", str(out)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if when == "validating":
            time.sleep(1.5)  # past start-up (~0.6 s), inside parse, validate, reason (~2-5 s)
        else:  # as soon as the first temporary file appears: the output is being written
            while proc.poll() is None and not _temporary_files(out):
                time.sleep(0.0005)
        sent = proc.poll() is None
        if sent:
            proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=600)
        if sent:
            break
    assert sent, "the build finished every time before the signal could be sent"
    assert proc.returncode == code, stderr
    word = "interrupted" if sig == signal.SIGINT else "terminated"
    assert "Traceback" not in stderr and stderr.strip().splitlines()[-1] == f"medspa-graph: {word}"
    assert _temporary_files(out) == []
    now = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(now) == set(NAMES)
    if now != previous_build:  # the signal came during the renames: all three new, none old
        assert all(now[n] != previous_build[n] for n in NAMES)
        assert len(rdflib.Graph().parse(data=now["medspa-graph.nt"], format="nt")) == kb.count()


def test_a_100000_digit_integer_loads_through_the_api_with_nothing_printed(tmp_path):
    """Valid RDF that rdflib cannot make a Python int of: rdflib logs a traceback per such
    value, which reached the stderr of a program calling load()."""
    code = "import sys, medspa_graph; print(medspa_graph.load(sys.argv[1]).count() > 0)"
    r = subprocess.run([sys.executable, "-c", code, str(DATA / "long-integer.ttl")], capture_output=True,
                       text=True, timeout=600, cwd=tmp_path, env={**os.environ})
    assert r.returncode == 0 and r.stdout == "True\n", r.stderr[-2000:]
    assert r.stderr == ""


def test_a_damaged_cache_is_rebuilt_and_its_checksum_written_again(tmp_path):
    """The cached graph is written with its SHA-256; a cached graph that no longer matches is rebuilt."""
    code = ("import sys; from medspa_graph.kb import built_ntriples; "
            "print(built_ntriples()[0])")
    env = {**os.environ, "MEDSPA_GRAPH_CACHE": str(tmp_path / "cache")}
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    graph = Path(first.stdout.strip())
    checksum = graph.with_name(graph.name + ".sha256").read_text().split()
    good = graph.read_bytes()
    assert checksum[1] == str(len(good))
    graph.write_bytes(good[:-100] + b"x" * 100)  # same length, other bytes
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, env=env)
    assert again.returncode == 0, again.stderr
    assert graph.read_bytes().count(b"\n") == good.count(b"\n") and not graph.read_bytes().endswith(b"x" * 100)
