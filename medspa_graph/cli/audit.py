"""``medspa-graph audit``: check a roster, print or write the findings, exit 1 on a violation."""

from __future__ import annotations

__all__ = ["command"]

import json
import sys

from medspa_graph.audit.findings import JSON_STYLE, FindingsWriter


def command(args) -> int:
    """``medspa-graph audit``: CSV and JSON findings are written as they are found (then renamed
    into place); the table and ``--rdf`` need every finding at once, and keep them in memory."""
    import io

    from medspa_graph.audit.check import audit
    from medspa_graph.cli.commands import _kb
    from medspa_graph.cli.output import table

    kb = _kb(args)
    streamed = args.format in ("csv", "json") and not args.rdf
    with FindingsWriter(args.format if streamed else "csv", safe=args.safe_csv) as writer:
        sink = writer if streamed else None
        if sys.stderr.isatty():  # a progress bar for people watching; none in logs and pipes
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                          console=Console(stderr=True), transient=True) as bar:
                task = bar.add_task("auditing", total=1.0)
                result = audit(kb, args.roster, args.clinics, args.appointments, sink=sink,
                               progress=lambda done, what: bar.update(task, completed=done, description=what))
        else:
            result = audit(kb, args.roster, args.clinics, args.appointments, sink=sink)
        f, rej, summary = result.findings, result.rejected, result.summary
        if streamed:
            writer.finish(args.out, summary, rej)
        else:
            buf = io.StringIO()
            if args.format == "json":
                json.dump({"summary": summary, "findings": f.to_dict("records"), "rejected": rej.to_dict("records")},
                          buf, **JSON_STYLE)
                buf.write("\n")
            elif args.format == "csv":
                from medspa_graph.audit.check import defuse_formulas

                (defuse_formulas(f) if args.safe_csv else f).to_csv(buf, index=False, lineterminator="\n")
            else:
                who = ("clinic " + f.clinic_id).where(f.check == "medical-director", "staff " + f.staff_id)
                records = f.assign(appointment=f.appointment_id.where(f.appointment_id != "", who))
                buf.write(table(records.to_dict("records"), [("appointment", "appointment / staff"), ("check", "check"),
                                                             ("severity", "severity"),
                                                             ("explanation", "explanation")])
                          if len(f) else "(no findings)")
                buf.write("\n")
            if args.rdf:
                result.write_rdf(args.rdf, args.rdf_base)
            if args.out:
                from medspa_graph.utils.files import write_output

                write_output(args.out, buf.getvalue())
            else:
                sys.stdout.write(buf.getvalue())
    from medspa_graph.utils.escaping import printable

    for r in rej.itertuples(index=False):  # the file's own text: escaped, one line each
        print(printable(f"{r.file}:{r.line}: rejected {r.id}: {r.reason}"), file=sys.stderr)
    by = ", ".join(f"{k} {v}" for k, v in summary["findings"].items()) or "none"
    print(f"appointments: {summary['appointments_read']} read, {summary['appointments_checked']} checked, "
          f"{summary['appointments_rejected']} rejected; findings: {by}", file=sys.stderr)
    return 1 if any(k.endswith("/violation") for k in summary["findings"]) else 0
