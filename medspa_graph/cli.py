"""The ``medspa-graph`` command line: thin wrappers over the Python API.

Exit codes: 0 answer or success; 1 data violations found (validate, build);
2 bad input (unreadable file, unknown term or jurisdiction, bad query);
3 unreachable or failing SPARQL endpoint; 130 interrupted.
"""

from __future__ import annotations

__all__ = ["main", "build_parser"]

import argparse
import sys

EXIT_CODES = """exit codes:
  0  success (an answer, valid data, a finished build)
  1  the data has violations (validate, build)
  2  bad input: unreadable file, unknown term or jurisdiction, bad query or option
  3  the SPARQL endpoint is unreachable or failed
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="medspa-graph",
        description="Who may do what in a medical spa: a sourced knowledge graph. Not legal advice.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    v = sub.add_parser("validate", help="check the curated data (and FILEs) against shapes and checks")
    v.add_argument("files", nargs="*", metavar="FILE", help="extra Turtle/N-Triples/JSON-LD files")
    v.set_defaults(func=cmd_validate)

    b = sub.add_parser("build", help="write the validated, reasoned graph as Turtle, N-Triples and JSON-LD")
    b.add_argument("--out", default="build", metavar="DIR", help="output folder (default: build)")
    b.add_argument("--no-reason", action="store_true", help="skip OWL 2 RL inference")
    b.add_argument("files", nargs="*", metavar="FILE", help="extra files to include")
    b.set_defaults(func=cmd_build)

    from .commands import add_question_commands

    add_question_commands(sub)
    return p


def _version() -> str:
    from . import __version__

    return f"medspa-graph {__version__}"


def cmd_validate(args) -> int:
    from .loading import parse_files
    from .paths import curated_files
    from .validation import validate_graph

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
    from .export import write_build

    summary = write_build(args.out, extra=args.files, reason=not args.no_reason)
    width = max(len(k) for k in summary["counts"])
    for kind, n in summary["counts"].items():
        print(f"{kind:<{width}}  {n:>6}")
    print(f"{'triples':<{width}}  {summary['triples']:>6}")
    for path in summary["files"]:
        print(f"wrote {path}")
    return 0


def main(argv=None) -> int:
    """Run the CLI; return the exit code."""
    from .errors import MedspaGraphError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except MedspaGraphError as e:
        print(f"medspa-graph: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("medspa-graph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
