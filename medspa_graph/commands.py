"""CLI subcommands for questions: who-can, scope, compare, chain, refer, explain, query."""

from __future__ import annotations

__all__ = ["add_question_commands", "add_engine_option", "add_store_options"]

import sys

from .output import emit


def _common(p, formats=("table", "json", "csv")) -> None:
    p.add_argument("--format", choices=formats, default="table", help="output format (default: table)")
    add_store_options(p)


def add_store_options(p) -> None:
    """Where the knowledge base is read from: ``--endpoint`` (``--graph``, ``--engine``) or ``--store``."""
    p.add_argument("--endpoint", metavar="URL", help="read from a SPARQL endpoint holding the pushed graph")
    p.add_argument("--graph", metavar="IRI", default=None,
                   help="with --endpoint: the named graph to read (default: where push writes; "
                        "'default' for the endpoint's default graph)")
    p.add_argument("--store", metavar="PATH", help="use an embedded Oxigraph store on disk")
    add_engine_option(p)


def add_engine_option(p) -> None:
    """``--engine``: which server's adapter ``--endpoint`` speaks to (see ``medspa_graph/engines.py``)."""
    from .engines import ENGINES

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

    p = sub.add_parser("query", help="run a named query or a .rq file")
    p.add_argument("query", nargs="?", metavar="NAME|FILE.rq", help="a named query (see --list) or a file")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="bind a parameter")
    p.add_argument("--list", action="store_true", help="list the named queries and exit")
    _common(p, ("table", "json", "csv", "tsv", "xml"))
    p.set_defaults(func=cmd_query)


def _as_of(p) -> None:
    p.add_argument("--as-of", metavar="YYYY-MM-DD", help="the day asked about: rules not yet in force do not apply "
                                                         "(default: today)")


def _date(args) -> str | None:
    """``--as-of`` checked: an ISO date, or ``None`` for today."""
    import datetime

    from .errors import MedspaGraphError

    if args.as_of:
        try:
            datetime.date.fromisoformat(args.as_of)
        except ValueError:
            raise MedspaGraphError(f"--as-of takes a date YYYY-MM-DD, got {args.as_of!r}") from None
    return args.as_of


def _kb(args):
    from .kb import load

    from .store import KB_GRAPH

    graph = KB_GRAPH if args.graph is None else (None if args.graph == "default" else args.graph)
    return load(store=args.store, endpoint=args.endpoint, graph=graph, engine=getattr(args, "engine", "auto"))


def _sources_line(rec) -> str:
    return ", ".join(f"{s['confidence']} {s['url']}" for s in rec["sources"])


def cmd_who_can(args) -> int:
    from .questions import who_can

    ans = who_can(_kb(args), args.procedure, args.jurisdiction, _date(args))
    parts = len(ans["answered_for"]) > 1  # a category: each row says which part it answers
    columns = [_RULE_COLUMNS_ROLE[0], ("procedure", "procedure"), *_RULE_COLUMNS_ROLE[1:]] if parts else _RULE_COLUMNS_ROLE
    emit(ans, args.format, title=f"Who can perform {ans['procedure']['label']} in {ans['jurisdiction']}",
         records=ans["practitioners"], columns=columns)
    return 0


def cmd_scope(args) -> int:
    from .questions import scope

    ans = scope(_kb(args), args.role, args.jurisdiction, _date(args))
    parts = len(ans["answered_for"]) > 1  # a general role: each row says which role it answers
    columns = [_RULE_COLUMNS_PROC[0], ("role", "role"), *_RULE_COLUMNS_PROC[1:]] if parts else _RULE_COLUMNS_PROC
    emit(ans, args.format, title=f"Scope of {ans['role']['label']} in {ans['jurisdiction']}",
         records=ans["procedures"], columns=columns)
    return 0


def cmd_compare(args) -> int:
    from .questions import compare

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
    from .questions import supervision_chains

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
        print(f"medspa-graph: no chain ({ans['status']}): {ans['problem']}", file=sys.stderr)
        return 1
    return 0


def _route(path, hops) -> str:
    """A referral path in words: ``~>`` marks an inferred hop, ``(inherited)`` a broader role's referral."""
    out = path[0]["label"]
    for step, hop in zip(path[1:], hops):
        out += (" ~> " if hop["inferred"] else " -> ") + step["label"] + (" (inherited)" if hop["inherited"] else "")
    return out


def cmd_refer(args) -> int:
    from .questions import referral_paths

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
    """The contest behind one answer (see the policy in :mod:`medspa_graph.rules`)."""
    from .questions import contest

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


def cmd_query(args) -> int:
    from .queries import named_queries, prepare, resolve_query
    from .store import RESULT_TYPES

    if args.list:
        for name, q in sorted(named_queries().items()):
            params = " ".join(f"{p}=<{k}>" for p, (k, _d) in q.params.items())
            print(f"{name:<28} {q.question}" + (f"  [{params}]" if params else ""))
        return 0
    if not args.query:
        from .errors import QueryError

        raise QueryError("name a query or a .rq file (medspa-graph query --list shows the named ones)")
    params = {}
    for item in args.param:
        if "=" not in item:
            from .errors import QueryError

            raise QueryError(f"--param takes NAME=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        params[k.strip()] = v
    kb = _kb(args)
    q = resolve_query(args.query)
    sparql, bindings = prepare(kb, q, params)
    if args.format in ("json", "csv", "tsv", "xml"):
        data = kb.store.serialize_query(sparql, RESULT_TYPES[args.format], bindings or None)
        sys.stdout.buffer.write(data if data.endswith(b"\n") else data + b"\n")
        return 0
    rows = kb.store.select(sparql, bindings or None)
    cols = list(dict.fromkeys(k for r in rows for k in r))
    emit({"rows": rows}, "table", title=q.question or q.name, records=rows, columns=[(c, c) for c in cols])
    return 0


_RULE_COLUMNS_ROLE = [("role", "role"), ("permission", "permission"), ("supervision", "supervision"),
                      ("supervisors", "supervisors"), ("prior_exam_by", "prior exam")]
_RULE_COLUMNS_PROC = [("procedure", "procedure"), ("permission", "permission"), ("supervision", "supervision"),
                      ("supervisors", "supervisors"), ("prior_exam_by", "prior exam")]
