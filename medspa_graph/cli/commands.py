"""CLI subcommands for questions: who-can, scope, compare, chain, refer, explain, query."""

from __future__ import annotations

__all__ = ["add_question_commands", "add_engine_option", "add_store_options", "check_seconds"]

import sys

from medspa_graph.cli.output import emit
from medspa_graph.utils.formats import ANSWER_FORMATS, names


def _common(p, formats=ANSWER_FORMATS) -> None:
    p.add_argument("--format", choices=formats, default="table", help="output format (default: table)")
    add_store_options(p)


def check_seconds(value: float, option: str) -> float:
    """``value`` if it is a positive, finite number of seconds; else a one-line error naming ``option``.

    >>> check_seconds(float("nan"), "--timeout")
    Traceback (most recent call last):
    ...
    medspa_graph.errors.MedspaGraphError: --timeout must be a positive number of seconds, got nan
    """
    import math

    from medspa_graph.errors import MedspaGraphError

    if not (math.isfinite(value) and value > 0):
        raise MedspaGraphError(f"{option} must be a positive number of seconds, got {value:g}")
    return value


def add_store_options(p) -> None:
    """Where the knowledge base is read from: ``--endpoint`` (``--graph``, ``--engine``) or ``--store``."""
    p.add_argument("--endpoint", metavar="URL", help="read from a SPARQL endpoint holding the pushed graph")
    p.add_argument("--graph", metavar="IRI", default=None,
                   help="with --endpoint: the named graph to read (default: where push writes; "
                        "'default' for the endpoint's default graph)")
    p.add_argument("--store", metavar="PATH", help="use an embedded Oxigraph store on disk")
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                   help="with --endpoint: how long each request may take, whole answer included (default: 60); "
                        "query text or a .rq file on the embedded store: its time limit (default: 10)")
    add_engine_option(p)


def add_engine_option(p) -> None:
    """``--engine``: which server's adapter ``--endpoint`` speaks to (see ``medspa_graph/sparql/engines.py``)."""
    from medspa_graph.sparql.engines import ENGINES

    p.add_argument("--engine", choices=["auto", *ENGINES], default="auto",
                   help="with --endpoint: the server's engine (default: auto, asked from the server)")


def add_question_commands(sub) -> None:
    """Register the question subcommands on ``sub`` (an argparse subparsers object)."""
    p = sub.add_parser("who-can", help="who may perform a procedure in a jurisdiction")
    p.add_argument("procedure", help='procedure name or synonym, e.g. "botox"')
    p.add_argument("--jurisdiction", "-j", default="US", metavar="CODE", help="ISO 3166-2 code, e.g. US-CA")
    _as_of(p)
    _common(p)
    p.set_defaults(func=cmd_who_can)

    p = sub.add_parser("scope", help="what a role may do in a jurisdiction")
    p.add_argument("role", help='role name or synonym, e.g. "aesthetician", "RN"')
    p.add_argument("--jurisdiction", "-j", default="US", metavar="CODE")
    _as_of(p)
    _common(p)
    p.set_defaults(func=cmd_scope)

    p = sub.add_parser("compare", help="a procedure or role side by side across jurisdictions")
    p.add_argument("term", help="procedure or role")
    p.add_argument("--jurisdiction", "-j", action="append", required=True, metavar="CODE",
                   help="repeat for each jurisdiction")
    _common(p)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("chain", help="supervision chains for a role performing a procedure")
    p.add_argument("role")
    p.add_argument("procedure")
    p.add_argument("--jurisdiction", "-j", default="US", metavar="CODE")
    _common(p)
    p.set_defaults(func=cmd_chain)

    p = sub.add_parser("changes", help="scope rules that began or ended since a date, with their sources")
    p.add_argument("--since", required=True, metavar="YYYY-MM-DD", help="the first day to list")
    p.add_argument("--jurisdiction", "-j", default=None, metavar="CODE", help="one jurisdiction (default: all)")
    _common(p)
    p.set_defaults(func=cmd_changes)

    p = sub.add_parser("coverage", help="how much of the core matrix each jurisdiction answers from its own law")
    p.add_argument("--jurisdiction", "-j", default=None, metavar="CODE", help="one jurisdiction's matrix (default: all)")
    _common(p)
    p.set_defaults(func=cmd_coverage)

    p = sub.add_parser("map", help="a map of the states and DC coloured by who-can's answer for one role")
    p.add_argument("role", help='role name or synonym, e.g. "registered nurse"')
    p.add_argument("procedure", help='procedure name or synonym, e.g. "botox"')
    p.add_argument("--out", default="map.html", metavar="FILE.html|FILE.svg",
                   help="where to write the map: a page (.html, default map.html) or an image (.svg)")
    _as_of(p)
    add_store_options(p)
    p.set_defaults(func=cmd_map)

    p = sub.add_parser("refer", help="referral paths from a role (to a role, for a condition)")
    p.add_argument("role")
    p.add_argument("--to", metavar="ROLE")
    p.add_argument("--condition", metavar="CONDITION")
    _common(p)
    p.set_defaults(func=cmd_refer)

    p = sub.add_parser("explain", help="the contest behind one answer: every candidate rule and why it won or lost")
    p.add_argument("role")
    p.add_argument("procedure")
    p.add_argument("--jurisdiction", "-j", default="US", metavar="CODE")
    _as_of(p)
    _common(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("query", help="run a named query, a .rq file or SPARQL text (any query form)")
    p.add_argument("query", nargs="?", metavar="NAME|FILE.rq|-|TEXT",
                   help="a named query (see --list), a file, - for standard input, or the text itself")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="bind a parameter")
    p.add_argument("--list", action="store_true", help="list the named queries and exit")
    _common(p, ("table", *names("results"), *names("graph")))
    p.set_defaults(func=cmd_query)


def _as_of(p) -> None:
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="the day asked about: rules not yet in force do not apply "
                                                         "(default: today)")


def _date(args) -> str | None:
    """``--as-of`` checked: an ISO date, or ``None`` for today."""
    import datetime

    from medspa_graph.errors import MedspaGraphError

    if args.as_of:
        try:
            datetime.date.fromisoformat(args.as_of)
        except ValueError:
            raise MedspaGraphError(f"--as-of takes a date YYYY-MM-DD, got {args.as_of!r}") from None
    return args.as_of


def _kb(args):
    from medspa_graph.kb import load
    from medspa_graph.sparql.store import KB_GRAPH

    timeout = 60.0 if args.timeout is None else check_seconds(args.timeout, "--timeout")
    graph = KB_GRAPH if args.graph is None else (None if args.graph == "default" else args.graph)
    return load(store=args.store, endpoint=args.endpoint, graph=graph, engine=getattr(args, "engine", "auto"),
                timeout=timeout)


def cmd_who_can(args) -> int:
    from medspa_graph.questions.answers import who_can

    ans = who_can(_kb(args), args.procedure, args.jurisdiction, _date(args))
    parts = len(ans["answered_for"]) > 1  # a category: each row says which part it answers
    columns = [_RULE_COLUMNS_ROLE[0], ("procedure", "procedure"), *_RULE_COLUMNS_ROLE[1:]] if parts else _RULE_COLUMNS_ROLE
    emit(ans, args.format, title=f"Who can perform {ans['procedure']['label']} in {ans['jurisdiction']}",
         records=ans["practitioners"], columns=columns)
    return 0


def cmd_scope(args) -> int:
    from medspa_graph.questions.answers import scope

    ans = scope(_kb(args), args.role, args.jurisdiction, _date(args))
    parts = len(ans["answered_for"]) > 1  # a general role: each row says which role it answers
    columns = [_RULE_COLUMNS_PROC[0], ("role", "role"), *_RULE_COLUMNS_PROC[1:]] if parts else _RULE_COLUMNS_PROC
    emit(ans, args.format, title=f"Scope of {ans['role']['label']} in {ans['jurisdiction']}",
         records=ans["procedures"], columns=columns)
    return 0


def cmd_compare(args) -> int:
    from medspa_graph.questions.answers import compare

    ans = compare(_kb(args), args.term, args.jurisdiction)
    axis = "role" if ans["kind"] == "procedure" else "procedure"
    flat = []
    for row in ans["rows"]:
        rec = {axis: row[axis]["label"]}
        for code, cell in row["cells"].items():
            rec[code] = "; ".join(
                f"{x['permission']} ({x['supervision']})" + ("*" if x["basis"] == "baseline" else "")
                + ("!" if x["conflict"] else "") for x in cell
            ) or "-"
        rec["differs"] = "yes" if row["differs"] else ""
        flat.append(rec)
    emit(ans, args.format, title=f"{ans['term']['label']} compared (* = US baseline, ! = conflict)",
         records=flat, columns=[(axis, axis), *[(c, c) for c in ans["jurisdictions"]], ("differs", "differs")])
    return 0


def cmd_chain(args) -> int:
    from medspa_graph.questions.answers import supervision_chains

    ans = supervision_chains(_kb(args), args.role, args.procedure, args.jurisdiction)
    if args.format != "table":
        emit(ans, args.format, records=[{"chain": " -> ".join(s["label"] for s in c)} for c in ans["chains"]],
             columns=[("chain", "chain")])
    else:
        print(f"Supervision chains: {ans['role']['label']} performing {ans['procedure']['label']} "
              f"in {ans['jurisdiction']}")
        for c in ans["chains"]:
            print("  " + " -> ".join(s["label"] for s in c))
    if ans["status"] != "ok":
        from medspa_graph.utils.escaping import printable

        print(printable(f"medspa-graph: no chain ({ans['status']}): {ans['problem']}"), file=sys.stderr)
        return 1
    return 0


def cmd_changes(args) -> int:
    from medspa_graph.questions.changes import changes

    rows = changes(_kb(args), args.since, args.jurisdiction)
    if args.format == "json":
        emit({"since": args.since, "changes": rows}, "json", records=[], columns=[])
    elif args.format == "csv":
        import csv

        w = csv.writer(sys.stdout, lineterminator="\n")
        fields = ["date", "change", "jurisdiction", "role", "procedure", "permission", "supervision", "rule",
                  "replaced_by", "sources"]
        w.writerow(fields)
        for r in rows:
            w.writerow([" ".join(r[f]) if f == "sources" else (r[f] or "") for f in fields])
    else:
        where = f" in {args.jurisdiction}" if args.jurisdiction else ""
        shown = [{k: v for k, v in r.items() if k not in ("sources", "rule")} for r in rows]
        emit({"changes": rows}, "table", title=f"Scope rules that began or ended since {args.since}{where}",
             records=shown, columns=[("date", "date"), ("change", "change"), ("jurisdiction", "where"),
                                     ("role", "role"), ("procedure", "procedure"), ("permission", "permission")])
        urls = sorted({u for r in rows for u in r["sources"]})
        if urls:
            from medspa_graph.cli.output import fit_url

            print("\nSources:\n" + "\n".join("  " + fit_url(u, 77) for u in urls))
    return 0


def cmd_coverage(args) -> int:
    from medspa_graph.questions.coverage import CORE_PROCEDURES, CORE_ROLES, coverage, summary

    cells = coverage(_kb(args), args.jurisdiction)
    sums = summary(cells)
    share = float((cells.status == "state rule").mean()) if len(cells) else 0.0
    answer = {"roles": CORE_ROLES, "procedures": CORE_PROCEDURES, "state_share": round(share, 3),
              "jurisdictions": sums.to_dict("records"), "cells": cells.to_dict("records")}
    if args.format == "json":
        emit(answer, "json", records=[], columns=[])
    elif args.format == "csv":
        cells.to_csv(sys.stdout, index=False, lineterminator="\n")
    elif args.jurisdiction:
        code = cells.jurisdiction.iloc[0]
        print(f"Core matrix in {code}: S state rule, B US baseline, - no rule; "
              "N searched, no state rule found (then what answers: N/B, N/-)\n")
        procs = list(dict.fromkeys(cells.procedure))
        short = {p: p.replace(" injection", "").replace("chemical ", "")[:14] for p in procs}
        print(f"{'':<26}" + "".join(f"{short[p]:>15}" for p in procs))
        letter = {"state rule": "S", "baseline": "B", "no rule": "-"}
        for role, group in cells.groupby("role", sort=False):
            marks = {p: letter[st] if st in letter else "N/" + letter[fb]
                     for p, st, fb in zip(group.procedure, group.status, group.fallback)}
            print(f"{role:<26}" + "".join(f"{marks[p]:>15}" for p in procs))
        row = sums.iloc[0]
        print(f"\n{row['state rule']} of {row['cells']} cells from a state rule ({row['state share']:.0%}), "
              f"{row['searched-not-found']} searched and found silent, {row['baseline']} from the baseline, "
              f"{row['no rule']} with no rule")
    else:
        emit(answer, "table", title="Core matrix answered from each jurisdiction's own law",
             records=sums.to_dict("records"),
             columns=[("jurisdiction", "jurisdiction"), ("state rule", "state rule"),
                      ("searched-not-found", "searched"), ("baseline", "baseline"), ("no rule", "no rule"),
                      ("state share", "state share")])
        print(f"\n{len(sums)} jurisdictions; {share:.0%} of {len(cells)} cells answered by a state rule")
    return 0


def cmd_map(args) -> int:
    from collections import Counter

    from medspa_graph.viz.usmap import CATEGORIES, us_map

    m = us_map(_kb(args), args.role, args.procedure, _date(args))
    path = m.write(args.out)
    counts = Counter(m.colours.values())
    print(f"wrote {path}: {m.title()}")
    for c, (label, _colour) in CATEGORIES.items():
        if counts[c]:
            print(f"  {counts[c]:>2}  {label}")
    return 0


def _route(path, hops) -> str:
    """A referral path in words: ``~>`` marks an inferred hop, ``(inherited)`` a broader role's referral."""
    out = path[0]["label"]
    for step, hop in zip(path[1:], hops):
        out += (" ~> " if hop["inferred"] else " -> ") + step["label"] + (" (inherited)" if hop["inherited"] else "")
    return out


def cmd_refer(args) -> int:
    from medspa_graph.questions.answers import referral_paths

    ans = referral_paths(_kb(args), args.role, args.to, args.condition)
    records = [{"path": " -> ".join(s["label"] for s in p), "conditions": [c["label"] for c in cs],
                "inferred_hops": [i for i, h in enumerate(hops, 1) if h["inferred"]],
                "inherited_hops": [i for i, h in enumerate(hops, 1) if h["inherited"]]}
               for p, cs, hops in zip(ans["paths"], ans["conditions"], ans["hops"])]
    if args.format != "table":
        emit(ans, args.format, records=records,
             columns=[("path", "path"), ("conditions", "conditions"), ("inferred_hops", "inferred hops"),
                      ("inherited_hops", "inherited hops")])
    else:
        what = f" for {ans['condition']['label']}" if ans["condition"] else ""
        to = f" to {ans['to']['label']}" if ans["to"] else ""
        print(f"Referral paths from {ans['from']['label']}{to}{what}, shortest first")
        for p, cs, hops in zip(ans["paths"], ans["conditions"], ans["hops"]):
            print("  " + _route(p, hops) + "   [for " + ", ".join(c["label"] for c in cs) + "]")
        if not ans["paths"]:
            print("  (none)")
        elif any(h["inferred"] or h["inherited"] for hops in ans["hops"] for h in hops):
            print("~> inferred hop (its sources are graded inferred); (inherited): a broader role's referral")
    return 0


def cmd_explain(args) -> int:
    """The contest behind one answer (see the policy in :mod:`medspa_graph.questions.rules`)."""
    from medspa_graph.questions.answers import contest

    ans = contest(_kb(args), args.role, args.procedure, args.jurisdiction, _date(args))
    rows = [{**c, "answer": f"{c['permission']} ({c['supervision']})",
             "written_for": f"{c['rule_role']['label']} / {c['rule_procedure']['label']}"} for c in ans["candidates"]]
    authority = f"; NP practice authority: {ans['practice_authority']}" if ans["practice_authority"] else ""
    emit(ans, args.format, records=rows,
         title=f"Which rule governs {ans['role']['label']} performing {ans['procedure']['label']} in "
               f"{ans['jurisdiction']} on {ans['date']}{authority}",
         columns=[("outcome", "outcome"), ("jurisdiction", "rule of"), ("written_for", "written for"),
                  ("answer", "answer"), ("why", "why")])
    return 0


def _query_text(arg: str):
    """The query ``arg`` names: ``-`` (standard input), a named query, a ``.rq`` file, or text."""
    from medspa_graph.errors import QueryError
    from medspa_graph.sparql.queries import as_query
    from medspa_graph.sparql.text import NamedQuery

    if arg == "-":
        data = sys.stdin.buffer.read()
        try:
            return NamedQuery("stdin", data.decode("utf-8-sig"))
        except UnicodeDecodeError as e:
            line = data[: e.start].count(b"\n") + 1
            raise QueryError(f"<stdin>:{line}: cannot read query: not valid UTF-8") from None
    return as_query(arg)


def cmd_query(args) -> int:
    from medspa_graph.errors import QueryError
    from medspa_graph.sparql.queries import named_queries, prepare
    from medspa_graph.sparql.text import query_form
    from medspa_graph.utils.formats import media_type

    if args.list:
        for name, q in sorted(named_queries().items()):
            params = " ".join(f"{p}=<{k}>" for p, (k, _d) in q.params.items())
            print(f"{name:<28} {q.question}" + (f"  [{params}]" if params else ""))
        return 0
    if not args.query:
        raise QueryError("name a query, a .rq file, - for standard input, or give the text "
                         "(medspa-graph query --list shows the named ones)")
    params = {}
    for item in args.param:
        if "=" not in item:
            raise QueryError(f"--param takes NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        params[k.strip()] = v
    q = _query_text(args.query)
    from medspa_graph.sparql.guard import check_offline

    check_offline(q.sparql)  # refusals first: a LOAD is refused as a fetch, not as a form
    form = query_form(q.sparql)
    graph_form = form in ("CONSTRUCT", "DESCRIBE")
    graphs, results = names("graph"), names("results")
    if graph_form and args.format not in ("table", *graphs):
        raise QueryError(f"a {form} query answers with a graph: use --format " + ", ".join(graphs))
    if not graph_form and args.format in graphs:
        raise QueryError(f"a {form} query answers with results: use --format table, " + ", ".join(results))
    if form == "ASK" and args.format in ("csv", "tsv"):
        raise QueryError("an ASK query answers true or false: use --format table, json or xml")
    kb = _kb(args)
    sparql, bindings = prepare(kb, q, params)
    fence = {"untrusted": not q.trusted, "timeout": args.timeout}  # text and files run behind the fence
    if graph_form:
        media = media_type("ttl" if args.format == "table" else args.format)
        data = kb.store.serialize_query(sparql, media, bindings or None, **fence)
    elif args.format != "table":
        data = kb.store.serialize_query(sparql, media_type(args.format), bindings or None, **fence)
    else:
        result = kb.store.run(sparql, bindings or None, **fence)
        if form == "ASK":
            print("true" if result.boolean else "false")
            return 0
        if not result.variables:
            print(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''}, no variables)")
            return 0
        title = q.question or (q.name if q.trusted else None)
        emit({"rows": result.rows}, "table", title=title, records=result.rows,
             columns=[(c, c) for c in result.variables])
        return 0
    sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
    return 0


_RULE_COLUMNS_ROLE = [("role", "role"), ("permission", "permission"), ("supervision", "supervision"),
                      ("supervisors", "supervisors"), ("prior_exam_by", "prior exam")]
_RULE_COLUMNS_PROC = [("procedure", "procedure"), ("permission", "permission"), ("supervision", "supervision"),
                      ("supervisors", "supervisors"), ("prior_exam_by", "prior exam")]
