"""Draw a seeded random sample of scope rules, with their sources, for a human accuracy review.

The reviewer reads each rule against the page its sources point to and fills in
the ``verdict`` column (``right``, ``wrong``, ``wider`` than its source, or
``unsure``) and ``notes``. The same seed and the same data always draw the same
rules, so a review can be repeated or checked by someone else. The tally of
the last review lives in ``ontology/data/ACCURACY.md``.

Usage::

    python tools/sample_rules.py                       # 40 rules, seed 15, Markdown to stdout
    python tools/sample_rules.py -n 60 --seed 7 --format csv --out review.csv
    python tools/sample_rules.py -j US-TX -j US-CA     # only these jurisdictions
    python tools/sample_rules.py --category-only       # only rules on a category or an inherited role
    python tools/sample_rules.py --new-since 32c2640   # only rules added since that commit
    python tools/sample_rules.py -j US-AK --new-since 32c2640   # US-AK's rules plus every new rule

``-j`` and ``--new-since`` select rules; given together, the pool is their union (the rules of
those jurisdictions *and* the rules new since the commit), so one draw can cover "these states
and whatever was added since". ``--category-only`` then narrows that pool.

It reads the Turtle under ``ontology/`` with rdflib only (no store, no
reasoning), so it runs anywhere the package's dependencies are installed.
"""

from __future__ import annotations

__all__ = ["load_rules", "rule_ids_at", "sample_rules", "to_csv", "to_markdown", "main"]

import argparse
import csv
import io
import random
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MS = "https://w3id.org/medspa-graph/ontology#"
PROV = "http://www.w3.org/ns/prov#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
SCHEMA = "https://schema.org/"

COLUMNS = ["n", "rule", "jurisdiction", "role", "procedure", "permission", "supervision", "supervisors",
           "prior_exam_by", "requires_order", "effective_date", "conditions", "on_category_or_inherited_role",
           "sources", "verdict", "notes"]


def _graph(data_dir: Path):
    import rdflib

    g = rdflib.Graph()
    files = [data_dir.parent / "medspa.ttl", *sorted(data_dir.glob("*.ttl")),
             *sorted(data_dir.glob("jurisdictions/*.ttl"))]
    for f in files:
        g.parse(f, format="turtle")
    return g


def load_rules(data_dir: Path | str = ROOT / "ontology" / "data") -> list[dict]:
    """Every scope rule under ``data_dir`` as a plain dict, sorted by rule IRI.

    Parameters
    ----------
    data_dir : path
        The ``ontology/data`` folder (its parent must hold ``medspa.ttl``).

    Returns
    -------
    list of dict
        One dict per rule with the columns of :data:`COLUMNS` (without ``n``,
        ``verdict`` and ``notes``); ``sources`` is a list of dicts with ``url``,
        ``date``, ``confidence`` and ``title``.
    """
    from rdflib import RDF, URIRef

    g = _graph(Path(data_dir))
    ms = lambda local: URIRef(MS + local)  # noqa: E731
    label = lambda t: str(g.value(t, URIRef(RDFS + "label")) or str(t).rsplit("#", 1)[-1])  # noqa: E731
    notation = lambda t: str(g.value(t, URIRef(SKOS + "notation")) or str(t).rsplit("/", 1)[-1])  # noqa: E731
    has_sub = {o for _, o in g.subject_objects(URIRef(RDFS + "subClassOf"))}
    rules = []
    for r in sorted(g.subjects(RDF.type, ms("ScopeRule")), key=str):
        role, proc = g.value(r, ms("role")), g.value(r, ms("procedure"))
        sources = []
        for s in sorted(g.objects(r, URIRef(PROV + "wasDerivedFrom")), key=str):
            grade = g.value(s, ms("confidence"))
            sources.append({"id": str(s).rsplit("/", 1)[-1],
                            "url": str(g.value(s, URIRef(SCHEMA + "url")) or ""),
                            "date": str(g.value(s, ms("sourceDate")) or ""),
                            "confidence": notation(grade) if grade else "",
                            "title": str(g.value(s, URIRef(DCT + "title")) or "")})
        order = g.value(r, ms("requiresOrder"))
        rules.append({
            "rule": str(r).rsplit("/", 1)[-1],
            "jurisdiction": notation(g.value(r, ms("jurisdiction"))),
            "role": label(role), "procedure": label(proc),
            "permission": notation(g.value(r, ms("permission"))),
            "supervision": notation(g.value(r, ms("supervision"))),
            "supervisors": "; ".join(sorted(label(x) for x in g.objects(r, ms("supervisor")))),
            "prior_exam_by": "; ".join(sorted(label(x) for x in g.objects(r, ms("priorExaminer")))),
            "requires_order": "" if order is None else str(order).lower(),
            "effective_date": str(g.value(r, ms("effectiveDate")) or ""),
            "conditions": str(g.value(r, ms("conditions")) or ""),
            "on_category_or_inherited_role": ", ".join(
                k for k, v in (("category", proc in has_sub), ("inherited role", role in has_sub)) if v),
            "sources": sources,
        })
    return rules


def rule_ids_at(commit: str, data_dir: Path | str = ROOT / "ontology" / "data") -> set[str]:
    """The local names of the scope rules under ``data_dir`` as they stood at git ``commit``.

    Reads every ``*.ttl`` of that folder (and ``jurisdictions/``) at the commit with
    ``git show``, without touching the working tree.

    Raises
    ------
    ValueError
        If ``commit`` is not a commit of the repository holding ``data_dir``.
    """
    import rdflib
    from rdflib import RDF, URIRef

    data_dir = Path(data_dir).resolve()
    git = lambda *a: subprocess.run(["git", "-C", str(data_dir), *a], capture_output=True,  # noqa: E731
                                    text=True, check=True).stdout
    try:
        top = Path(git("rev-parse", "--show-toplevel").strip())
        git("rev-parse", "--verify", "--quiet", f"{commit}^{{commit}}")
    except subprocess.CalledProcessError as e:
        raise ValueError(f"not a commit here: {commit}") from e
    rel = data_dir.relative_to(top).as_posix()
    names = [f for f in git("ls-tree", "-r", "--name-only", "--full-tree", commit).splitlines()
             if f.startswith(rel + "/")]
    names = [f for f in names
             if f.endswith(".ttl") and f.count("/") - rel.count("/") <= 2]
    g = rdflib.Graph()
    for f in names:
        g.parse(data=git("show", f"{commit}:{f}"), format="turtle")
    return {str(r).rsplit("/", 1)[-1] for r in g.subjects(RDF.type, URIRef(MS + "ScopeRule"))}


def sample_rules(rules: list[dict], n: int = 40, seed: int = 15, jurisdictions=(),
                 category_only=False, new_rules=None) -> list[dict]:
    """A seeded random sample of ``n`` rules (all of them if fewer), in sampling order.

    ``jurisdictions`` and ``new_rules`` (a set of rule names that did *not* exist at some
    earlier point, see :func:`rule_ids_at`) select rules; when both are given, a rule is in the
    pool if either selects it. ``category_only`` narrows the pool further.

    >>> rs = [{"rule": f"r{i}", "jurisdiction": "US", "on_category_or_inherited_role": ""} for i in range(10)]
    >>> [r["rule"] for r in sample_rules(rs, 3, seed=1)] == [r["rule"] for r in sample_rules(rs, 3, seed=1)]
    True
    >>> len(sample_rules(rs, 30))
    10
    >>> sorted(r["rule"] for r in sample_rules(rs, 30, new_rules={"r2", "r5"}))
    ['r2', 'r5']
    """
    def selected(r):
        if not jurisdictions and new_rules is None:
            return True
        return r["jurisdiction"] in jurisdictions or (new_rules is not None and r["rule"] in new_rules)

    pool = [r for r in rules if selected(r) and (not category_only or r["on_category_or_inherited_role"])]
    pool = sorted(pool, key=lambda r: r["rule"])
    picked = random.Random(seed).sample(pool, min(n, len(pool)))
    return [dict(r, n=i + 1, verdict="", notes="") for i, r in enumerate(picked)]


def _sources_text(sources, sep="; "):
    return sep.join(f"{s['url']} ({s['date'] or 'n.d.'}, {s['confidence']})" for s in sources)


def to_csv(rows: list[dict]) -> str:
    """The sample as CSV, one row per rule, sources joined with ``" | "``."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({**{k: r.get(k, "") for k in COLUMNS}, "sources": _sources_text(r["sources"], " | ")})
    return buf.getvalue()


def to_markdown(rows: list[dict], seed: int | None = None) -> str:
    """The sample as a Markdown review sheet: one section per rule, with a verdict line to fill in."""
    out = ["# Scope-rule accuracy review sheet", ""]
    if seed is not None:
        out += [f"{len(rows)} rules drawn with seed {seed} by `tools/sample_rules.py`. For each: open every "
                "source, read it against the rule, and set the verdict to right, wrong, wider (than its "
                "source) or unsure.", ""]
    for r in rows:
        sup = f", supervised by {r['supervisors']}" if r["supervisors"] else ""
        out += [f"## {r['n']}. {r['rule']}", "",
                f"- **{r['jurisdiction']}**: {r['role']} / {r['procedure']}: "
                f"**{r['permission']}**, {r['supervision']}{sup}"]
        if r["prior_exam_by"]:
            out.append(f"- prior exam by: {r['prior_exam_by']}")
        if r["requires_order"]:
            out.append(f"- requires order: {r['requires_order']}")
        if r["effective_date"]:
            out.append(f"- in force from: {r['effective_date']}")
        if r["on_category_or_inherited_role"]:
            out.append(f"- placed on: {r['on_category_or_inherited_role']} "
                       "(check that the source reaches every part)")
        if r["conditions"]:
            out.append(f"- conditions: {r['conditions']}")
        out.append("- sources:")
        out += [f"  - {s['url']} ({s['date'] or 'n.d.'}, {s['confidence']}): {s['title']}"
                for s in r["sources"]]
        out += ["- verdict: ", "- notes: ", ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=40, help="how many rules (default 40)")
    p.add_argument("--seed", type=int, default=15, help="random seed (default 15)")
    p.add_argument("--format", choices=("md", "csv"), default="md")
    p.add_argument("-j", "--jurisdiction", action="append", default=[],
                   help="only this jurisdiction (repeatable)")
    p.add_argument("--new-since", metavar="COMMIT",
                   help="only rules whose IRI did not exist in the data at this git commit "
                        "(with -j: those jurisdictions' rules plus the new ones)")
    p.add_argument("--category-only", action="store_true",
                   help="only rules placed on a procedure category or on a role other roles inherit")
    p.add_argument("--data", type=Path, default=ROOT / "ontology" / "data",
                   help="the ontology/data folder")
    p.add_argument("--out", type=Path, help="write here instead of stdout")
    a = p.parse_args(argv)
    if a.n < 1:
        p.error("-n must be at least 1")
    rules = load_rules(a.data)
    new_rules = None
    if a.new_since:
        try:
            old = rule_ids_at(a.new_since, a.data)
        except ValueError as e:
            p.error(str(e))
        new_rules = {r["rule"] for r in rules} - old
    rows = sample_rules(rules, a.n, a.seed, tuple(a.jurisdiction), a.category_only, new_rules)
    text = to_csv(rows) if a.format == "csv" else to_markdown(rows, a.seed) + "\n"
    if a.out:
        a.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
