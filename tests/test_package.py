"""The package as users get it: the cache, --version, what a slow step says, and the wheel itself."""

import gzip
import os
import pty
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medspa_graph.cli.main import main
from medspa_graph.knowledge import cache

pytestmark = pytest.mark.slow  # wheels built and installed into fresh venvs

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    """A cache folder of this test alone."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("MEDSPA_GRAPH_CACHE", str(folder))
    return folder


def _env(**extra):
    env = os.environ.copy()
    env.update(extra)
    return env


def test_cache_path_is_the_platform_user_cache_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MEDSPA_GRAPH_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert main(["cache", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "xdg" / "medspa-graph")


def test_cache_path_follows_medspa_graph_cache(own_cache, capsys):
    assert main(["cache", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(own_cache)


def test_cache_clear_removes_graphs_and_nothing_else(own_cache, capsys):
    own_cache.mkdir()
    (own_cache / "graph-0.1.0-abc.nt").write_bytes(b"x" * 1000)
    (own_cache / ".graph-0.1.0-abc.nt.123.tmp").write_bytes(b"y")
    (own_cache / "notes.txt").write_text("mine")
    assert main(["cache", "clear"]) == 0
    assert capsys.readouterr().out.startswith(f"removed 2 file(s), 0.0 MB, from {own_cache}")
    assert sorted(p.name for p in own_cache.iterdir()) == ["notes.txt"]


def test_cache_without_an_action_exits_2(own_cache, capsys):
    with pytest.raises(SystemExit) as e:
        main(["cache"])
    assert e.value.code == 2


def test_a_new_entry_removes_other_versions_and_all_but_the_newest_of_this_one(own_cache):
    own_cache.mkdir()
    old = own_cache / "graph-0.0.9-aaa.nt"
    old.write_bytes(b"old release")
    unversioned = own_cache / ("graph-" + "f" * 32 + ".nt")  # the layout before versioned names
    unversioned.write_bytes(b"older still")
    mine = []
    for i in range(cache.KEEP + 2):
        p = own_cache / f"graph-1.0-{i:03d}.nt"
        p.write_bytes(b"this release")
        os.utime(p, (1_000_000 + i, 1_000_000 + i))
        mine.append(p)
    new = cache.store_graph("1.0", "new", b"<a:b> <a:c> <a:d> .\n")
    left = sorted(p.name for p in own_cache.iterdir())
    assert new.name in left and old.name not in left and unversioned.name not in left
    # each entry written by store_graph carries its checksum; the hand-made ones above have none
    assert left == sorted([new.name, new.name + ".sha256", *(p.name for p in mine[-(cache.KEEP - 1):])])
    assert cache.cached_graph("1.0", "new") == new
    assert cache.cached_graph("1.0", f"{cache.KEEP + 1:03d}") is None  # no checksum: never answered from


def test_the_key_changes_with_the_version_and_the_data(tmp_path):
    f = tmp_path / "a.ttl"
    f.write_text("<a:b> <a:c> <a:d> .\n")
    k1 = cache.graph_key([f], "1.0")
    assert cache.graph_key([f], "1.1") != k1
    f.write_text("<a:b> <a:c> <a:e> .\n")
    assert cache.graph_key([f], "1.0") != k1


def test_a_shipped_graph_for_this_data_is_used_instead_of_building(own_cache, tmp_path, monkeypatch):
    from medspa_graph import __version__
    from medspa_graph.kb import built_ntriples
    from medspa_graph.utils.paths import curated_files

    key = cache.graph_key(curated_files(), __version__)
    shipped = tmp_path / "prebuilt"
    shipped.mkdir()
    triple = b"<https://example.org/shipped> <https://example.org/p> <https://example.org/o> .\n"
    (shipped / "graph.nt.gz").write_bytes(gzip.compress(triple))
    (shipped / "graph.key").write_text(key + "\n")
    monkeypatch.setattr(cache, "PREBUILT", shipped)
    path, got = built_ntriples()
    assert got == key and Path(path).read_bytes() == triple and Path(path).parent == own_cache


def test_a_shipped_graph_for_other_data_is_ignored(tmp_path, monkeypatch):
    shipped = tmp_path / "prebuilt"
    shipped.mkdir()
    (shipped / "graph.nt.gz").write_bytes(gzip.compress(b"stale"))
    (shipped / "graph.key").write_text("0" * 32 + "\n")
    monkeypatch.setattr(cache, "PREBUILT", shipped)
    assert cache.shipped_graph("1" * 32) is None


def test_build_fills_the_cache_the_questions_read(own_cache, tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "medspa_graph", "build", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, env=_env(MEDSPA_GRAPH_CACHE=str(own_cache)), timeout=600)
    assert r.returncode == 0, r.stderr
    entries = cache.entries(own_cache)
    assert len(entries) == 1
    built = set((tmp_path / "out" / "medspa-graph.nt").read_bytes().splitlines())
    assert set(entries[0].read_bytes().splitlines()) == built
    before = entries[0].stat().st_mtime_ns
    q = subprocess.run([sys.executable, "-m", "medspa_graph", "who-can", "botox", "-j", "US-FL"],
                       capture_output=True, text=True, env=_env(MEDSPA_GRAPH_CACHE=str(own_cache)), timeout=600)
    assert q.returncode == 0 and "onsite/direct" in q.stdout
    assert cache.entries(own_cache) == entries and entries[0].stat().st_mtime_ns == before


def test_a_build_of_cached_inputs_writes_the_same_graph_without_building(own_cache, tmp_path):
    from medspa_graph.knowledge.export import write_build

    first = write_build(tmp_path / "a")
    second = write_build(tmp_path / "b")
    assert "validate" in first["timings"] and set(second["timings"]) == {"cached"}
    assert (tmp_path / "a" / "medspa-graph.nt").read_bytes() == (tmp_path / "b" / "medspa-graph.nt").read_bytes()
    assert first["counts"] == second["counts"] and first["triples"] == second["triples"]


def test_a_build_after_editing_the_data_builds_again(own_cache, tmp_path, monkeypatch):
    import shutil

    from medspa_graph.knowledge.export import write_build
    from medspa_graph.utils.paths import ontology_dir

    root = tmp_path / "ontology"
    shutil.copytree(ontology_dir(), root)
    monkeypatch.setenv("MEDSPA_GRAPH_ONTOLOGY", str(root))
    write_build(tmp_path / "a")
    with open(root / "data" / "roles.ttl", "a") as f:
        f.write("\n# an edit\n")
    assert "validate" in write_build(tmp_path / "b")["timings"]


def test_version_names_package_counts_newest_source_and_hash(kb, capsys):
    import medspa_graph

    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    v = kb.version()
    assert v["package"] == medspa_graph.__version__
    assert out.splitlines()[0] == f"medspa-graph {v['package']}"
    assert (f"{v['scope_rules']} scope rules, {v['referral_rules']} referral rules, {v['sources']} sources "
            f"(newest {v['newest_source']}), content hash {v['data_hash']}") in out
    assert re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", v["newest_source"])


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    import medspa_graph

    assert medspa_graph.__version__ == version("medspa-graph")


SLOW_FIRST_RUNS = {  # commands whose first run, with an empty cache, builds the graph
    "question": ["who-can", "botox", "-j", "US-FL"],
    "build": ["build", "--out", "{tmp}/out"],
    "version": ["--version"],
}


def _first_run(what, tmp_path, stderr):
    args = [a.format(tmp=tmp_path) for a in SLOW_FIRST_RUNS[what]]
    return subprocess.run([sys.executable, "-m", "medspa_graph", *args], stdout=subprocess.PIPE, stderr=stderr,
                          env=_env(MEDSPA_GRAPH_CACHE=str(tmp_path / "empty-cache")), timeout=600)


@pytest.mark.parametrize("what", sorted(SLOW_FIRST_RUNS))
def test_a_slow_first_run_says_nothing_when_piped(what, tmp_path):
    r = _first_run(what, tmp_path, subprocess.PIPE)
    assert r.returncode == 0 and r.stderr == b""


@pytest.mark.parametrize("what", sorted(SLOW_FIRST_RUNS))
def test_a_slow_first_run_says_what_it_is_doing_on_a_terminal(what, tmp_path):
    main_fd, term = pty.openpty()
    try:
        r = _first_run(what, tmp_path, term)
        os.close(term)
        term = None
        said = b""
        while True:
            try:
                chunk = os.read(main_fd, 4096)
            except OSError:  # the terminal's other side is closed: all read
                break
            if not chunk:
                break
            said += chunk
    finally:
        if term is not None:
            os.close(term)
        os.close(main_fd)
    assert r.returncode == 0
    assert b"medspa-graph: building the knowledge graph" in said


# -- the wheel, installed as a user would ----------------------------------------------------------

def test_wheel_installed_in_an_empty_folder_answers_builds_and_loads(tmp_path):
    """Build the wheel, install it in a fresh venv with an empty pip cache, and use it from an
    empty folder: a question, ``build --out`` and ``medspa_graph.load()``."""
    dist = tmp_path / "dist"
    r = subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
                       capture_output=True, text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    wheel, = dist.glob("medspa_graph-*.whl")
    release = wheel.name.split("-")[1]
    work = tmp_path / "empty"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MEDSPA_GRAPH_", "PYTHON", "VIRTUAL_ENV"))}
    env.update(PIP_CACHE_DIR=str(tmp_path / "pip-cache"), XDG_CACHE_HOME=str(tmp_path / "xdg"),
               HOME=str(tmp_path / "home"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, cwd=work, env=env)
    r = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], capture_output=True, text=True,
                       cwd=work, env=env, timeout=1800)
    assert r.returncode == 0, r.stderr[-2000:]

    def run(*args):
        return subprocess.run([*map(str, args)], capture_output=True, text=True, cwd=work, env=env, timeout=600)

    t = time.perf_counter()
    ask = run(venv / "bin" / "medspa-graph", "who-can", "botox", "-j", "US-FL")
    first = time.perf_counter() - t
    assert ask.returncode == 0, ask.stderr
    assert "Who can perform neurotoxin injection in US-FL" in ask.stdout and "onsite/direct" in ask.stdout
    assert ask.stderr == ""
    # the wheel's prebuilt graph, not a build: the cache holds exactly it, under this version
    assert [p.name.split("-")[1] for p in (tmp_path / "xdg" / "medspa-graph").glob("graph-*.nt")] == [release]
    print(f"first answer after install: {first:.2f} s")
    built = run(venv / "bin" / "medspa-graph", "build", "--out", "out")
    assert built.returncode == 0, built.stderr
    assert (work / "out" / "medspa-graph.ttl").stat().st_size > 100_000
    loaded = run(venv / "bin" / "python", "-c",
                 "import medspa_graph; kb = medspa_graph.load(); print(kb.count() > 10000, kb.version()['package'])")
    assert loaded.returncode == 0 and loaded.stdout.split() == ["True", release], loaded.stderr
    version = run(venv / "bin" / "medspa-graph", "--version")
    assert version.returncode == 0 and "scope rules" in version.stdout
    assert sorted(os.listdir(work)) == ["out"]  # nothing else written where the user stands


HEAVY = ("pandas", "pyarrow", "pyvis", "rich", "pyshacl", "numpy")


@pytest.mark.parametrize("argv", [["--help"], ["who-can", "botox", "-j", "US-FL"], ["--version"]],
                         ids=["help", "question", "version"])
def test_a_question_imports_no_heavy_module(argv, kb):
    """pandas, pyarrow, pyvis, rich (and pySHACL) are imported where used: not to ask or to --help."""
    code = ("import sys, contextlib, io\nfrom medspa_graph.cli.main import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    try:\n        main({argv!r})\n    except SystemExit:\n        pass\n"
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(), timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "[]"


def test_the_ontology_header_names_the_package_version():
    """pyproject.toml holds the version; the ontology's header repeats it (owl:versionInfo, versionIRI),
    and this test is what keeps the two from drifting apart."""
    import rdflib
    from rdflib import OWL

    import medspa_graph
    from medspa_graph.utils.paths import ontology_dir

    g = rdflib.Graph().parse(ontology_dir() / "medspa.ttl")
    onto = g.value(None, rdflib.RDF.type, OWL.Ontology)
    assert str(g.value(onto, OWL.versionInfo)) == medspa_graph.__version__
    assert str(g.value(onto, OWL.versionIRI)).endswith("/" + medspa_graph.__version__)
