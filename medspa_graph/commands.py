"""CLI subcommands for questions: who-can, scope, compare, chain, refer, query."""

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
    p.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                   help="with --endpoint: how long each request may take, whole answer included (default: 60)")
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
    _common(p)
    p.set_defaults(func=cmd_who_can)

    p = sub.add_parser("scope", help="what a role may do in a jurisdiction")
    p.add_argument("role", help='role name or synonym, e.g. "aesthetician", "RN"')
    p.add_argument("--jurisdiction", "-j", default="US", metavar="CODE")
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

    p = sub.add_parser("query", help="run a named query or a .rq file")
    p.add_argument("query", nargs="?", metavar="NAME|FILE.rq", help="a named query (see --list) or a file")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="bind a parameter")
    p.add_argument("--list", action="store_true", help="list the named queries and exit")
    _common(p, ("table", "json", "csv", "tsv", "xml"))
    p.set_defaults(func=cmd_query)


def _kb(args):
    from .kb import load

    from .store import KB_GRAPH

    from .cli import check_seconds

    check_seconds(args.timeout, "--timeout")
    graph = KB_GRAPH if args.graph is None else (None if args.graph == "default" else args.graph)
    return load(store=args.store, endpoint=args.endpoint, graph=graph, engine=getattr(args, "engine", "auto"),
                timeout=args.timeout)


def _sources_line(rec) -> str:
    return ", ".join(f"{s['confidence']} {s['url']}" for s in rec["sources"])


def cmd_who_can(args) -> int:
    from .questions import who_can

    ans = who_can(_kb(args), args.procedure, args.jurisdiction)
    emit(ans, args.format, title=f"Who can perform {ans['procedure']['label']} in {ans['jurisdiction']}",
         records=ans["practitioners"], columns=_RULE_COLUMNS_ROLE)
    return 0


def cmd_scope(args) -> int:
    from .questions import scope

    ans = scope(_kb(args), args.role, args.jurisdiction)
    emit(ans, args.format, title=f"Scope of {ans['role']['label']} in {ans['jurisdiction']}",
         records=ans["procedures"], columns=_RULE_COLUMNS_PROC)
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
                f"{x['permission']} ({x['supervision']})" + ("*" if x["basis"] == "baseline" else "") for x in cell
            ) or "-"
        rec["differs"] = "yes" if row["differs"] else ""
        flat.append(rec)
    emit(ans, args.format, title=f"{ans['term']['label']} compared ({'* = US baseline'})",
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
        from .escaping import printable

        print(printable(f"medspa-graph: no chain ({ans['status']}): {ans['problem']}"), file=sys.stderr)
        return 1
    return 0


def cmd_refer(args) -> int:
    from .questions import referral_paths

    ans = referral_paths(_kb(args), args.role, args.to, args.condition)
    if args.format != "table":
        emit(ans, args.format, records=[{"path": " -> ".join(s["label"] for s in p)} for p in ans["paths"]],
             columns=[("path", "path")])
    else:
        what = f" for {ans['condition']['label']}" if ans["condition"] else ""
        to = f" to {ans['to']['label']}" if ans["to"] else ""
        print(f"Referral paths from {ans['from']['label']}{to}{what}, shortest first")
        for p in ans["paths"]:
            print("  " + " -> ".join(s["label"] for s in p))
        if not ans["paths"]:
            print("  (none)")
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
