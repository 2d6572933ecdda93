"""The ``medspa-graph`` command line: thin wrappers over the Python API.

Exit codes: 0 answer or success; 1 data violations found (validate, build);
2 bad input (unreadable file, unknown term or jurisdiction, a marketing title that is no
licence, bad query, unwritable --out);
3 unreachable or failing SPARQL endpoint; 130 interrupted (SIGINT, Ctrl-C);
143 terminated (SIGTERM).
"""

from __future__ import annotations

__all__ = ["main", "build_parser"]

import argparse
import sys

from medspa_graph.cli.commands import check_seconds
from medspa_graph.utils.formats import ANSWER_FORMATS

EXIT_CODES = """exit codes:
  0  success (an answer, valid data, a finished build, an audit with no violations)
  1  the data has violations (validate, build); the audit found violations; no chain exists
  2  bad input: unreadable file, unknown term or jurisdiction, a title that is no licence,
     bad query or option, an --out that cannot be written
  3  the SPARQL endpoint is unreachable or failed
  130  interrupted (Ctrl-C, SIGINT); 143  terminated (SIGTERM): nothing half-written is left
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="medspa-graph",
        description="Who may do what in a medical spa: a sourced knowledge graph. Not legal advice.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="store_true",
                   help="print the package version and the data's rule and source counts, newest source "
                        "date and content hash, then exit")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    c = sub.add_parser("cache", help="where built graphs are cached (path), or empty the cache (clear)")
    c.add_argument("action", choices=("path", "clear"), help="path: print the folder; clear: remove its graphs")
    c.set_defaults(func=cmd_cache)

    v = sub.add_parser("validate", help="check the curated data (and FILEs) against shapes and checks")
    v.add_argument("files", nargs="*", metavar="FILE", help="extra Turtle/N-Triples/JSON-LD files")
    v.set_defaults(func=cmd_validate)

    b = sub.add_parser("build", help="write the validated, reasoned graph as Turtle, N-Triples and JSON-LD")
    b.add_argument("--out", default="build", metavar="DIR", help="output folder (default: build)")
    b.add_argument("--no-reason", action="store_true", help="skip OWL 2 RL inference")
    b.add_argument("files", nargs="*", metavar="FILE", help="extra files to include")
    b.set_defaults(func=cmd_build)

    from medspa_graph.cli.commands import add_engine_option, add_question_commands, add_store_options

    add_question_commands(sub)

    s = sub.add_parser("serve", help="serve the graph over the SPARQL 1.1 Protocol (read-only by default)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, loopback only)")
    s.add_argument("--port", type=int, default=8787, help="port (default: 8787; 0 picks a free one)")
    s.add_argument("--store", metavar="PATH", help="serve an embedded Oxigraph store on disk (read-only)")
    s.add_argument("--workers", type=int, default=2, metavar="N", help="query worker processes (default: 2)")
    s.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="query time limit (default: 10)")
    s.add_argument("--max-result-bytes", type=int, default=16 << 20, metavar="N",
                   help="largest result sent (default: 16 MiB)")
    s.add_argument("--max-body", type=int, default=1 << 20, metavar="N", help="largest request body (default: 1 MiB)")
    s.add_argument("--worker-memory", type=int, default=2048, metavar="MIB",
                   help="memory a query may use in a worker (default: 2048 MiB); past it the answer is a 503")
    s.add_argument("--idle-timeout", type=float, default=20.0, metavar="SECONDS",
                   help="time a connection has to send a whole request, from its opening or its previous "
                        "answer; then it is closed (default: 20)")
    s.add_argument("--max-connections", type=int, default=None, metavar="N",
                   help="open connections served at once; past them a new one gets a 503 (default: half the "
                        "descriptor limit, at most 512)")
    s.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                   help="allow cross-origin requests from ORIGIN (repeatable; none by default)")
    s.add_argument("--allow-update", action="store_true",
                   help="accept SPARQL updates bearing the token in $MEDSPA_GRAPH_TOKEN (in-memory store only)")
    s.add_argument("--quiet", action="store_true", help="no request log on stderr")
    s.set_defaults(func=cmd_serve)

    z = sub.add_parser("viz", help="write an interactive picture (offline HTML)")
    z.add_argument("--focus", metavar="TERM", help="a term and everything within two steps of it")
    z.add_argument("--jurisdiction", "-j", metavar="CODE", help="that jurisdiction's rules (default: US baseline)")
    z.add_argument("--chain", nargs=2, metavar=("ROLE", "PROCEDURE"), help="a supervision chain, highlighted")
    z.add_argument("--refer", metavar="ROLE", help="referral paths from ROLE, the shortest highlighted")
    z.add_argument("--to", metavar="ROLE", help="with --refer: the role referred to")
    z.add_argument("--condition", metavar="CONDITION", help="with --refer: only referrals for CONDITION")
    z.add_argument("--max-nodes", type=int, default=2500, metavar="N", help="node cap (default: 2500)")
    z.add_argument("--out", default="medspa-graph.html", metavar="FILE.html",
                   help="where to write (default: medspa-graph.html); nothing else is written")
    add_store_options(z)
    z.set_defaults(func=cmd_viz)

    a = sub.add_parser("audit", help="check a roster and appointment log (CSV) against the scope rules")
    a.add_argument("--roster", required=True, metavar="R.csv", help="staff: id, name, role, licence jurisdiction, "
                                                                     "supervisor id, clinic id")
    a.add_argument("--clinics", required=True, metavar="C.csv", help="clinics: id, name, jurisdiction, medical director id")
    a.add_argument("--appointments", required=True, metavar="A.csv",
                   help="appointments: id, start time, clinic id, performer id, procedure, supervisor id, examiner id")
    a.add_argument("--format", choices=ANSWER_FORMATS, default="table")
    a.add_argument("--safe-csv", action="store_true",
                   help="with --format csv: start every cell beginning with = + - @ (or a tab) with ', "
                        "so a spreadsheet shows it as text instead of running it as a formula")
    a.add_argument("--out", metavar="FILE", help="write the findings here (atomically) instead of standard output")
    a.add_argument("--rdf", metavar="FILE.ttl|FILE.nt",
                   help="also write the roster, clinics and findings as RDF (W3C ORG memberships, PROV-O)")
    a.add_argument("--rdf-base", metavar="IRI", help="the base IRI of staff, clinics and findings in --rdf "
                                                     "(default: https://example.org/clinic-network/)")
    add_store_options(a)
    a.set_defaults(func=cmd_audit)

    y = sub.add_parser("synth", help="write a synthetic roster, clinics and appointment log with planted violations")
    y.add_argument("--clinics", type=int, default=10, metavar="N", help="number of clinics (default: 10)")
    y.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default: 0)")
    y.add_argument("--appointments-per-clinic", type=int, default=100, metavar="N", help="(default: 100)")
    y.add_argument("--violation-rate", type=float, default=0.02, metavar="P",
                   help="share of appointments with a planted violation (default: 0.02)")
    y.add_argument("--out", required=True, metavar="DIR", help="folder for roster.csv, clinics.csv, "
                                                               "appointments.csv and planted.csv")
    y.set_defaults(func=cmd_synth)

    u = sub.add_parser("push", help="upload the built graph to a SPARQL server (Graph Store Protocol)")
    u.add_argument("--endpoint", required=True, metavar="URL", help="the server's SPARQL query URL")
    u.add_argument("--graph", default=None, metavar="IRI", help="target named graph (default: https://w3id.org/medspa-graph/graph/kb)")
    u.add_argument("--update-endpoint", metavar="URL", help="SPARQL update URL (guessed for Oxigraph, Fuseki, Virtuoso)")
    u.add_argument("--store-endpoint", metavar="URL", help="Graph Store Protocol URL (guessed for Oxigraph, Fuseki, "
                                                            "Virtuoso)")
    u.add_argument("--in-place", action="store_true",
                   help="upload straight into the graph, no staging graph and no MOVE (for graphs too large "
                        "for the server's MOVE; readers see the graph being replaced)")
    add_engine_option(u)
    u.add_argument("--timeout", type=float, default=300.0, metavar="SECONDS",
                   help="how long any one request may wait for the server (default: 300)")
    u.set_defaults(func=cmd_push)
    return p


def version_text(info: dict) -> str:
    """``--version``'s text from :meth:`KnowledgeBase.version`.

    >>> print(version_text({"package": "1.0", "scope_rules": 3, "referral_rules": 1, "sources": 2,
    ...                     "newest_source": "2025-01-02", "data_hash": "ab" * 16}))
    medspa-graph 1.0
    data: 3 scope rules, 1 referral rules, 2 sources (newest 2025-01-02), content hash abababababababababababababababab
    """
    newest = f" (newest {info['newest_source']})" if info["newest_source"] else ""
    digest = f", content hash {info['data_hash']}" if info["data_hash"] else ""
    return (f"medspa-graph {info['package']}\n"
            f"data: {info['scope_rules']} scope rules, {info['referral_rules']} referral rules, "
            f"{info['sources']} sources{newest}{digest}")


def cmd_version(args) -> int:
    from medspa_graph.kb import load

    print(version_text(load().version()))
    return 0


def cmd_cache(args) -> int:
    from medspa_graph.knowledge.cache import cache_dir, clear

    if args.action == "path":
        print(cache_dir())
        return 0
    n, size = clear()
    print(f"removed {n} file(s), {size / 1e6:.1f} MB, from {cache_dir()}")
    return 0


def cmd_validate(args) -> int:
    from medspa_graph.knowledge.loading import parse_files
    from medspa_graph.knowledge.validation import validate_graph
    from medspa_graph.utils.paths import curated_files

    files = [*curated_files(), *args.files]
    graph, origin = parse_files(files)
    found = validate_graph(graph, origin)
    violations = [f for f in found if f.severity == "Violation"]
    for f in found:
        print(f"{f.severity.lower()}: {f}")
    if violations:
        print(f"{len(violations)} violation(s) in {len(files)} file(s)", file=sys.stderr)
        return 1
    print(f"ok: {len(files)} file(s), {len(graph)} triples conform", file=sys.stderr)
    return 0


def cmd_build(args) -> int:
    from medspa_graph.knowledge.export import write_build

    summary = write_build(args.out, extra=args.files, reason=not args.no_reason)
    width = max(len(k) for k in summary["counts"])
    for kind, n in summary["counts"].items():
        print(f"{kind:<{width}}  {n:>6}")
    print(f"{'triples':<{width}}  {summary['triples']:>6}")
    for path in summary["files"]:
        print(f"wrote {path}")
    return 0


def cmd_serve(args) -> int:
    import os
    import signal
    import threading

    from medspa_graph.errors import MedspaGraphError
    from medspa_graph.serve.server import SparqlServer, serve

    token = scratch = None  # scratch: a snapshot written because the cache could not hold one
    if args.allow_update:
        token = os.environ.get("MEDSPA_GRAPH_TOKEN", "")
        if len(token) < 16:
            raise MedspaGraphError("--allow-update needs a token of 16+ characters in $MEDSPA_GRAPH_TOKEN")
        if args.store:
            raise MedspaGraphError("--allow-update works on the in-memory store, not with --store")
    for name in ("workers", "max_result_bytes", "max_body", "worker_memory"):
        if getattr(args, name) <= 0:
            raise MedspaGraphError(f"--{name.replace('_', '-')} must be positive")
    check_seconds(args.timeout, "--timeout")
    check_seconds(args.idle_timeout, "--idle-timeout")
    if args.max_connections is not None and args.max_connections <= 0:
        raise MedspaGraphError("--max-connections must be positive")
    if not 0 <= args.port <= 65535:
        raise MedspaGraphError(f"--port must be from 0 to 65535, got {args.port}")
    import socket

    try:  # before any work: an address that cannot be bound is one line, not a traceback
        socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as e:
        raise MedspaGraphError(f"cannot listen on {args.host}:{args.port}: {getattr(e, 'strerror', None) or e}") \
            from None
    if args.store:
        from medspa_graph.kb import load

        load(store=args.store)  # builds or refreshes the database; the workers open it read-only
        import gc

        gc.collect()  # close our read-write handle before they do
        kind, path = "store", args.store
    else:
        from medspa_graph.kb import built_ntriples

        source, _ = built_ntriples()
        if isinstance(source, bytes):
            import tempfile

            from medspa_graph.errors import UnwritableOutputError

            try:
                fd, tmp = tempfile.mkstemp(prefix="medspa-graph-", suffix=".nt")
            except OSError as e:
                raise UnwritableOutputError(tempfile.gettempdir(), f"the server's snapshot: {e.strerror or e}") \
                    from None
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(source)
            except OSError as e:
                os.unlink(tmp)
                raise UnwritableOutputError(tmp, f"the server's snapshot: {e.strerror or e}") from None
            source = scratch = tmp
        kind, path = "snapshot", str(source)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"medspa-graph: warning: binding {args.host}: the endpoint is reachable from other machines",
              file=sys.stderr)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # a service manager's stop: like Ctrl-C
    try:
        try:
            server = SparqlServer(kind, path, host=args.host, port=args.port, workers=args.workers,
                                  timeout=args.timeout, max_result_bytes=args.max_result_bytes,
                                  max_body=args.max_body, cors_origins=args.cors, update_token=token,
                                  quiet=args.quiet, pages=_picture_pages(),
                                  worker_memory=args.worker_memory << 20, idle_timeout=args.idle_timeout,
                                  max_connections=args.max_connections)
        except OSError as e:
            raise MedspaGraphError(f"cannot listen on {args.host}:{args.port}: {e.strerror or e}") from None
        serve(server, announce=lambda m: print(m, flush=True))
    finally:
        if scratch:
            os.unlink(scratch)
    return 0


def _picture_pages() -> dict:
    """``/viz`` for the server: pictures of the built knowledge base, loaded on first use."""
    import threading

    from medspa_graph.viz.network import http_pages

    lock, box = threading.Lock(), []

    def get_kb():
        with lock:
            if not box:
                from medspa_graph.kb import load

                box.append(load())
            return box[0]

    from medspa_graph.viz.usmap import http_pages as map_pages

    return {**http_pages(get_kb), **map_pages(get_kb)}


def cmd_viz(args) -> int:
    from medspa_graph.cli.commands import _kb
    from medspa_graph.viz.network import picture

    if args.to and not args.refer:
        from medspa_graph.errors import MedspaGraphError

        raise MedspaGraphError("--to goes with --refer ROLE")
    pic = picture(_kb(args), focus=args.focus, jurisdiction=args.jurisdiction,
                  chain=tuple(args.chain) if args.chain else None, refer=args.refer, to=args.to,
                  condition=args.condition, max_nodes=args.max_nodes)
    path = pic.write(args.out)
    print(f"wrote {path} ({len(pic.nodes)} nodes, {len(pic.edges)} edges)" + (f"; {pic.note}" if pic.note else ""))
    return 0


def cmd_audit(args) -> int:
    from medspa_graph.cli.audit import command

    return command(args)


def cmd_synth(args) -> int:
    from medspa_graph.audit.synth import synthesize
    from medspa_graph.errors import MedspaGraphError
    from medspa_graph.kb import load

    if args.clinics <= 0 or args.appointments_per_clinic <= 0 or not 0 <= args.violation_rate <= 1:
        raise MedspaGraphError("--clinics and --appointments-per-clinic must be positive, --violation-rate in [0, 1]")
    counts = synthesize(load(), args.out, clinics=args.clinics, seed=args.seed,
                        appointments_per_clinic=args.appointments_per_clinic, violation_rate=args.violation_rate)
    print(f"wrote {args.out}: {counts['clinics']} clinics, {counts['staff']} staff, "
          f"{counts['appointments']} appointments, {counts['planted']} planted violations")
    return 0


def cmd_push(args) -> int:
    from medspa_graph.kb import built_ntriples, load
    from medspa_graph.sparql.remote import push
    from medspa_graph.sparql.store import KB_GRAPH

    check_seconds(args.timeout, "--timeout")
    kb = load()
    source, _ = built_ntriples()
    result = push(source, kb.count(), args.endpoint, graph=args.graph or KB_GRAPH,
                  update_endpoint=args.update_endpoint, store_endpoint=args.store_endpoint, engine=args.engine,
                  in_place=args.in_place, timeout=args.timeout)
    print(f"pushed {result['triples']} triples to <{result['graph']}> at {result['urls'].store} "
          f"(replacing {result['previous']})")
    return 0


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread like Ctrl-C's KeyboardInterrupt, so cleanups run."""


def _terminate(signum, frame):
    raise _Terminated()


def main(argv=None) -> int:
    """Run the CLI; return the exit code."""
    import logging
    import signal
    import threading

    from medspa_graph.errors import MedspaGraphError
    from medspa_graph.utils.escaping import printable

    # rdflib logs a warning per odd IRI it meets while parsing; the parse error or the
    # validation report already says what is wrong, in one line each
    logging.getLogger("rdflib").addHandler(logging.NullHandler())
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        args.func = cmd_version
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    on_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if on_main else None
    try:
        return args.func(args)
    except MedspaGraphError as e:
        print(f"medspa-graph: error: {printable(e)}", file=sys.stderr)  # names and bodies from outside
        return e.exit_code
    except KeyboardInterrupt:
        print("medspa-graph: interrupted", file=sys.stderr)
        return 130
    except _Terminated:
        print("medspa-graph: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:
        return 0
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous)
        # free what an error left reachable only through cycles (an Arrow table in a
        # traceback's frame) now, while Arrow's thread pools still run: freed at
        # interpreter exit it can abort the process ("terminate called ...", apache/arrow#34314)
        import gc

        gc.collect()
