"""The bad-input corpus: every hostile or malformed input in ``tests/data/bad-input/`` through
the entry point a user would feed it to, with the documented outcome.

``manifest.toml`` lists the cases. Each CLI case runs ``python -m medspa_graph`` in an empty
working folder and checks the exit code (README "Exit codes"), that standard error is one line
naming what and where, with no traceback, that no output file appeared (and an existing one is
unchanged), and that nothing connected to a listening loopback socket the input points at.
Each HTTP case sends the request, raw where needed, to a real server on loopback and checks the
status (README "medspa-graph serve"), a one-line plain-text body and the same silence.
"""

import http.client
import os
import re
import socket
import tomllib
from pathlib import Path

import pytest
from conftest import run_cli, start_server

pytestmark = pytest.mark.slow  # the CLI and a real server for each corpus case

CORPUS = Path(__file__).parent / "data" / "bad-input"
AUDIT = Path(__file__).parent / "data" / "audit"
CASES = tomllib.loads((CORPUS / "manifest.toml").read_text(encoding="utf-8"))["case"]
TOKEN = "corpus-token-0123456789"
PREVIOUS = "previous output\n"


def _id(case) -> str:
    return case.get("id") or Path(case["file"]).stem


def _entry(case) -> str:
    return case.get("entry") or ("http" if "status" in case else "cli")


def _expand(text: str, values: dict) -> str:
    """Placeholders of the manifest: {name} from ``values``, {c*N} the text c N times
    (innermost first, so {X: {a*9}\r\n*3} is three lines of nine a's)."""
    repeat = re.compile(r"\{([^{}*]+)\*(\d+)\}")
    while repeat.search(text):
        text = repeat.sub(lambda m: m.group(1) * int(m.group(2)), text)
    for name, value in values.items():
        text = text.replace("{" + name + "}", str(value))
    return text


def _checked_one_line(text: str, case, trap) -> str:
    assert "Traceback" not in text, text[-2000:]
    assert text.endswith("\n") and text.count("\n") == 1, f"not one line: {text[:2000]!r}"
    assert case["message"].replace("TRAP_URL", trap.url) in text, text
    return text


def _checked_absent(text: str, case) -> None:
    """``absent``: what must never show (a password, a raw terminal escape, a wrong answer)."""
    for what in ([case["absent"]] if isinstance(case.get("absent"), str) else case.get("absent", [])):
        assert what not in text, f"{what!r} shown: {text[-2000:]!r}"


def test_the_corpus_has_at_least_60_inputs_and_every_file_is_used():
    ids = [_id(c) for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 60
    used = {c.get("file") for c in CASES} | {c.get("body_file") for c in CASES}
    on_disk = {p.name for p in CORPUS.iterdir()} - {"manifest.toml"}
    assert on_disk <= used, f"files no case uses: {sorted(on_disk - used)}"


# -- the CLI and the Python API ------------------------------------------------------------

@pytest.fixture
def scratch(tmp_path, trap):
    """An empty working folder, an output folder with one existing file and one empty folder,
    and the inputs with TRAP_URL pointing at the trap."""
    cwd, out, inputs = tmp_path / "cwd", tmp_path / "out", tmp_path / "inputs"
    for d in (cwd, out, inputs, out / "a-folder"):
        d.mkdir()
    (out / "existing.txt").write_text(PREVIOUS)
    return {"cwd": cwd, "out": out, "inputs": inputs, "tmp": tmp_path}


def _values(case, scratch, trap, hostile=None) -> dict:
    values = {"trap": trap.url, "out": scratch["out"] / "result", "existing": scratch["out"] / "existing.txt",
              "dir": scratch["out"] / "a-folder", "tmp": scratch["tmp"], "roster": AUDIT / "roster.csv",
              "clinics": AUDIT / "clinics.csv", "appointments": AUDIT / "appointments.csv",
              "hostile": hostile.url if hostile else ""}
    if case.get("file"):
        target = scratch["inputs"] / case.get("name", case["file"])
        target.write_bytes((CORPUS / case["file"]).read_bytes().replace(b"TRAP_URL", trap.url.encode()))
        values["file"] = target
    elif case.get("make"):  # a path that is not a regular file
        target = scratch["inputs"] / case["name"]
        if case["make"] == "fifo":
            os.mkfifo(target)
        elif case["make"] == "link-to-dev-zero":
            target.symlink_to("/dev/zero")
        values["file"] = target
    return values


def _corrupt_cache(kind: str, folder: Path) -> None:
    """A copy of the session's build cache in ``folder``, its graph damaged the way ``kind`` says."""
    import shutil

    from medspa_graph.kb import built_ntriples

    source, key = built_ntriples()
    folder.mkdir()
    for p in Path(source).parent.glob(f"graph-*{key}*"):
        shutil.copy(p, folder / p.name)
    graph = folder / Path(source).name
    data = graph.read_bytes()
    lines = data.splitlines(keepends=True)
    if kind == "lines-cut":  # whole lines gone (every source's URL, under 1% of them): it still parses
        graph.write_bytes(b"".join(ln for ln in lines if not (ln.startswith(b"<https://w3id.org/medspa-graph/source/")
                                                            and b"<https://schema.org/url>" in ln)))
    elif kind == "cut-mid-line":
        graph.write_bytes(data[: len(data) // 2 + 7])
    elif kind == "garbage":
        graph.write_bytes(bytes(range(256)) * (len(data) // 256))
    elif kind == "link-to-dev-zero":
        graph.unlink()
        graph.symlink_to("/dev/zero")
    else:
        raise ValueError(kind)


def _nothing_written(scratch):
    assert list(scratch["cwd"].iterdir()) == [], "a file appeared in the working folder"
    assert sorted(p.name for p in scratch["out"].iterdir()) == ["a-folder", "existing.txt"]
    assert list((scratch["out"] / "a-folder").iterdir()) == []
    assert (scratch["out"] / "existing.txt").read_text() == PREVIOUS


CLI_CASES = [c for c in CASES if _entry(c) == "cli"]


@pytest.fixture
def held_store(tmp_path):
    """An Oxigraph store folder this (test) process holds open, as another program would."""
    import pyoxigraph

    path = tmp_path / "held-store"
    store = pyoxigraph.Store(str(path))
    yield path
    del store


@pytest.mark.parametrize("case", CLI_CASES, ids=[_id(c) for c in CLI_CASES])
def test_cli(case, scratch, trap, hostile_endpoint, request):
    values = _values(case, scratch, trap, hostile_endpoint)
    if case.get("hold_store"):
        values["held_store"] = request.getfixturevalue("held_store")
    env = {k: _expand(v, values) for k, v in case.get("env", {}).items()}
    if case.get("cache"):
        _corrupt_cache(case["cache"], scratch["tmp"] / "cache")
        env["MEDSPA_GRAPH_CACHE"] = str(scratch["tmp"] / "cache")
    r = run_cli(*[_expand(a, values) for a in case["args"]], cwd=scratch["cwd"], env=env,
                timeout=case.get("timeout", 300))
    assert r.returncode == case["exit"], (r.returncode, r.stderr[-2000:])
    _checked_absent(r.stdout + r.stderr, case)
    if case.get("stderr") == "rejections":  # one line per rejected row, then the summary
        lines = r.stderr.splitlines()
        assert "Traceback" not in r.stderr
        name = Path(case["file"]).name
        mine = [ln for ln in lines if ln.startswith(str(values["file"]))]
        assert mine and all(re.match(rf".*{re.escape(name)}:\d+: rejected ", ln) for ln in mine), lines
        assert case["message"] in lines[-1]
    elif case["exit"] in (2, 3):  # bad input, or an endpoint that failed: one line, no answer
        line = _checked_one_line(r.stderr, case, trap)
        assert line.startswith("medspa-graph: error: ") and r.stdout == ""
    else:  # an answer, or a report on standard output and one line on standard error
        assert case["message"] in r.stdout + r.stderr and "Traceback" not in r.stderr
        if case.get("stderr") != "report":  # "report": the fixtures' own rejections may come too
            assert r.stderr.count("\n") <= 1, r.stderr
    _nothing_written(scratch)
    assert trap.connections() == 0


API_CASES = [c for c in CASES if _entry(c) == "api"]


@pytest.mark.parametrize("case", API_CASES, ids=[_id(c) for c in API_CASES])
def test_api(case, scratch, trap, capfd, kb):
    import medspa_graph
    import medspa_graph.errors as errors

    values = _values(case, scratch, trap)
    capfd.readouterr()
    with pytest.raises(getattr(errors, case["raises"])) as info:
        if case["call"] == "load":
            medspa_graph.load(values["file"])
        elif case["call"] == "query":
            kb.query(Path(values["file"]).read_text(encoding="utf-8"))
    _checked_one_line(str(info.value) + "\n", case, trap)
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out, printed.err[-2000:]
    _nothing_written(scratch)
    assert trap.connections() == 0


# -- HTTP ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(kb):
    from medspa_graph.viz.network import http_pages

    srv = start_server(workers=2, timeout=5, max_body=10_000, update_token=TOKEN,
                       cors_origins=["https://allowed.example"], pages=http_pages(lambda: kb))
    yield srv
    srv.close()


def _send(server, case, trap) -> tuple[int, dict, bytes]:
    def fill(text: str) -> str:
        return _expand(text, {}).replace("TRAP_URL", trap.url).replace("TOKEN", TOKEN)

    if "raw" in case:
        sock = socket.create_connection((server.host, server.port), timeout=30)
        try:
            try:
                sock.sendall(fill(case["raw"]).encode("latin-1"))
            except (BrokenPipeError, ConnectionResetError):
                pass  # refused before all of it was read, as it should be: the answer is waiting
            resp = http.client.HTTPResponse(sock)
            resp.begin()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            sock.close()
    method, target = case["request"].split(" ", 1)
    if "body_file" in case:
        body = fill((CORPUS / case["body_file"]).read_text(encoding="utf-8")).encode()
    elif "body" in case:
        body = fill(case["body"]).encode(case.get("body_encoding", "utf-8"))
    else:
        body = None
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request(method, fill(target), body=body, headers={k: fill(v) for k, v in case.get("headers", {}).items()})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


HTTP_CASES = [c for c in CASES if _entry(c) == "http"]


@pytest.mark.parametrize("case", HTTP_CASES, ids=[_id(c) for c in HTTP_CASES])
def test_http(case, server, trap):
    status, headers, body = _send(server, case, trap)
    assert status == case["status"], (status, body[:500])
    assert headers["Content-Type"] == "text/plain; charset=utf-8" and headers["X-Content-Type-Options"] == "nosniff"
    text = _checked_one_line(body.decode("utf-8"), case, trap)
    assert "/work" not in text and ".py" not in text and str(Path.home()) + "/" not in text
    assert trap.connections() == 0
    status, _, _ = _send(server, {"request": "GET /health"}, trap)
    assert status == 200  # and the server is still answering


# -- where --out points ----------------------------------------------------------------------

AUDIT_ARGS = ["audit", "--roster", AUDIT / "roster.csv", "--clinics", AUDIT / "clinics.csv",
              "--appointments", AUDIT / "appointments.csv", "--format", "csv"]


def test_out_into_a_named_pipe_writes_through_it_and_leaves_the_pipe(tmp_path):
    """Like --out /dev/stdout: a path that is not a regular file is written to, never replaced
    (as root, replacing /dev/null or /dev/stdout with a file breaks the machine)."""
    import os
    import stat
    import threading

    pipe = tmp_path / "findings.pipe"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()), daemon=True)
    reader.start()
    r = run_cli(*AUDIT_ARGS, "--out", pipe, cwd=tmp_path)
    assert stat.S_ISFIFO(pipe.lstat().st_mode), "the pipe was replaced by a file"  # before waiting on it
    reader.join()
    assert r.returncode == 1, r.stderr  # the fixtures hold violations
    assert got[0].startswith(b"appointment_id,check,severity")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.pipe"]


def test_out_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "reports" / "findings.csv"
    target.parent.mkdir()
    target.write_text(PREVIOUS)
    link = tmp_path / "latest.csv"
    link.symlink_to(target)
    r = run_cli(*AUDIT_ARGS, "--out", link, cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    assert link.is_symlink() and target.read_text().startswith("appointment_id,check,severity")
    assert sorted(p.name for p in target.parent.iterdir()) == ["findings.csv"]
