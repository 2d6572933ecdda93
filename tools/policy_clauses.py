"""Remove each clause of the resolution policy in turn and list the decision-table cases that fail.

Usage: python tools/policy_clauses.py   (from the repository root, with the test extra installed)

Each clause of the policy in medspa_graph/questions/rules.py is switched off in a scratch copy of the
repository, and tests/test_policy.py is run against it: every clause must make at least its
own named case fail. A finer check of the same code is `mutmut run` (pyproject.toml).
"""
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

SRC = pathlib.Path(__file__).resolve().parent.parent
MUT = {
 "A1 hierarchy": ("        if r.role not in role_anc or r.procedure not in proc_anc:", "        if r.role != role or r.procedure != procedure:"),
 "A3 date": ("    if rule.effective_date and rule.effective_date > day:", "    if False:"),
 "A3 end date": ("    if rule.invalidated and rule.invalidated[:10] <= day:", "    if False:"),
 "A4 depth": ("    if rule.max_depth is not None:", "    if False:"),
 "A5 device": ("    if rule.devices and not any(", "    if False and not any("),
 "B1 licence": ('    cands = _most_specific(cands, lambda r: context.licence(r.role), anc, "narrower-role", verdicts)\n', ""),
 "B1 by licence, not by role": ("lambda r: context.licence(r.role)", "lambda r: r.role"),
 "B2 procedure": ('    cands = _most_specific(cands, lambda r: r.procedure, anc, "narrower-procedure", verdicts)\n', ""),
 "B3 state over baseline": ("    if state:\n", "    if False:\n"),
 "B3b role within a licence": ('        cands = state\n    cands = _most_specific(cands, lambda r: r.role, anc, "narrower-role", verdicts)\n',
                               "        cands = state\n"),
 "B4 conflict": ("    return len({(a.permission, a.supervision) for a in answers}) > 1", "    return False"),
 "C practice authority": ("    if (auth is not None and", "    if (False and"),
 "C state's own NP rule stands": ("            and not (not rule.baseline and auth.role in ctx.ancestors(rule.role))):", "            ):"),
 "D requirements": ('    if out.requirements and out.permission == "permitted":', "    if False:"),
}
SCRATCH = pathlib.Path(tempfile.mkdtemp(prefix="policy-clauses-"))
missed = []
for name, (old, new) in MUT.items():
    dst = SCRATCH / "repo"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(SRC, dst, ignore=shutil.ignore_patterns(".venv", "mutants", ".git", "__pycache__"))
    f = dst / "medspa_graph/questions/rules.py"
    s = f.read_text()
    assert s.count(old) == 1, name
    f.write_text(s.replace(old, new))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:nbmake", "-o", "addopts=",
                        "-p", "no:cacheprovider", "tests/test_policy.py"], cwd=dst, capture_output=True, text=True,
                       env={"PYTHONPATH": str(dst), "PATH": "/usr/bin:/bin", "MEDSPA_GRAPH_CACHE": str(SCRATCH / "cache")})
    failed = sorted(set(re.findall(r"FAILED tests/test_policy.py::(\S+)", r.stdout)))
    print(f"{name}: {len(failed)} failing: " + ", ".join(failed), flush=True)
    if not failed:
        missed.append(name)
shutil.rmtree(SCRATCH, ignore_errors=True)
sys.exit(f"no case fails without: {', '.join(missed)}" if missed else 0)
