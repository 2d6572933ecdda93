"""Printing answers: an 80-column table, stable JSON, or CSV."""

from __future__ import annotations

__all__ = ["emit", "table", "RULE_CSV_FIELDS"]

import csv
import json
import re
import shutil
import sys
import textwrap

from medspa_graph.utils.escaping import printable


def _cell(value) -> str:
    from medspa_graph.sparql.text import IRI

    if isinstance(value, IRI):
        return compact(value)
    if isinstance(value, dict):
        return value.get("label") or value.get("id") or ""
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


_PREFIXES = {
    "https://w3id.org/medspa-graph/ontology#": "ms:",
    "https://w3id.org/medspa-graph/rule/": "rule:",
    "https://w3id.org/medspa-graph/source/": "src:",
    "https://w3id.org/medspa-graph/search/": "search:",
    "https://w3id.org/medspa-graph/jurisdiction/": "jur:",
}


def compact(iri: str) -> str:
    """Shorten a project IRI with its prefix for display: ``ms:Esthetician``.

    >>> compact("https://w3id.org/medspa-graph/ontology#Esthetician")
    'ms:Esthetician'
    """
    for ns, prefix in _PREFIXES.items():
        if iri.startswith(ns):
            return prefix + iri[len(ns):]
    return str(iri)


def fit_url(url: str, room: int) -> str:
    """``url`` shortened to ``room`` characters for a table (the scheme first, then the middle of the path).

    JSON and CSV keep every URL whole; this is only what a terminal shows.

    >>> fit_url("https://example.org/a/b", 40)
    'https://example.org/a/b'
    >>> fit_url("https://lengealaw.com/florida-board-of-nursing-clarifies-rn-injection-authority/", 50)
    'lengealaw.com/…g-clarifies-rn-injection-authority/'
    """
    if len(url) <= room:
        return url
    bare = re.sub(r"^https?://", "", url)
    if len(bare) <= room:
        return bare
    host, _, path = bare.partition("/")
    keep = max(room - len(host) - 2, 8)
    return f"{host}/…{path[-keep:]}"


def _pieces(text: str) -> list[str]:
    """Where a cell may wrap: at spaces, after a slash, and after a hyphen between letters (not in a date).

    >>> _pieces("protocol/standing-order, physician 2025-01-09")
    ['protocol/', 'standing-', 'order, ', 'physician ', '2025-01-09']
    """
    return [p for p in re.split(r"(?<=/)(?=\w)|(?<=[A-Za-z]-)(?=[A-Za-z])|(?<= )", text) if p]


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` characters, never breaking inside a piece (a piece may overflow)."""
    lines, line = [], ""
    for piece in _pieces(text):
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    return lines + [line.rstrip()] if line.strip() else lines or [""]


def table(records, columns, width: int | None = None) -> str:
    """Render records as a fixed-width table that wraps long cells to fit ``width``.

    Cells wrap at spaces, slashes and hyphens, never inside a word; a column is never
    narrower than its longest piece.

    >>> print(table([{"s": "protocol/standing-order", "who": "physician"}], [("s", "supervision"), ("who", "by")],
    ...             width=20))
    supervision  by
    -----------  ---------
    protocol/    physician
    standing-
    order
    """
    width = width or min(shutil.get_terminal_size((80, 24)).columns, 120)
    heads = [h for _k, h in columns]
    cells = [[_cell(r.get(k)) for k, _h in columns] for r in records]
    natural = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(heads)]
    budget = width - 2 * (len(columns) - 1)
    floor = [max([len(p.rstrip()) for row in cells for p in _pieces(row[i])] + [len(h)]) for i, h in enumerate(heads)]
    widths = natural[:]
    while sum(widths) > budget:
        slack = [w - f for w, f in zip(widths, floor)]
        if max(slack) <= 0:
            break
        widths[slack.index(max(slack))] -= 1
    lines = ["  ".join(h.ljust(w)[:w] for h, w in zip(heads, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for row in cells:
        wrapped = [_wrap(c, w) for c, w in zip(row, widths)]
        for k in range(max(len(x) for x in wrapped)):
            lines.append("  ".join((x[k] if k < len(x) else "").ljust(w) for x, w in zip(wrapped, widths)).rstrip())
    return "\n".join(lines)


#: The columns of a rule record in CSV: the same fields as the JSON record, flattened.
RULE_CSV_FIELDS = ["role", "procedure", "jurisdiction", "permission", "supervision", "supervisors", "prior_exam_by",
                   "requires_order", "conditions", "requirements", "limits", "effective_date", "basis",
                   "practice_authority", "conflict", "confidence", "rule", "rule_role", "rule_procedure", "sources"]


def _csv_value(value) -> str:
    """A JSON value as one CSV cell: booleans as true/false, lists joined, terms by label."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and value and isinstance(value[0], dict) and "url" in value[0]:
        return " ".join(s.get("url") or s.get("id") or "" for s in value)
    if isinstance(value, list):
        return "; ".join(_cell(v) for v in value)
    return _cell(value)


def _marked(records, columns) -> list[dict]:
    """Records with the first column marked per row: ``*`` baseline, ``+`` practice authority, ``!`` conflict."""
    first = columns[0][0]
    out = []
    for r in records:
        mark = (("*" if r.get("basis") == "baseline" else "") + ("+" if r.get("practice_authority") else "")
                + ("!" if r.get("conflict") else ""))
        out.append({**r, first: f"{_cell(r.get(first))} {mark}"} if mark else r)
    return out


def emit(answer, fmt: str, *, records, columns, title: str | None = None, out=None) -> None:
    """Print ``answer`` as JSON (the whole record), or ``records`` as a table or CSV.

    Rule records (those with a ``rule`` key) carry in CSV every field of the JSON record
    (:data:`RULE_CSV_FIELDS`); in a table each row is marked ``*`` when it comes from the US
    baseline, ``+`` when practice authority set its supervision and ``!`` when it conflicts with
    another rule of equal standing.
    """
    out = out or sys.stdout
    rule_rows = bool(records) and "rule" in records[0]
    if fmt == "json":
        json.dump(answer, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        if rule_rows:
            fields = RULE_CSV_FIELDS + [k for k in ("outcome", "reason", "why", "beaten_by") if k in records[0]]
            w.writerow(fields)
            for r in records:
                w.writerow([_csv_value(r.get(k)) for k in fields])
        else:
            w.writerow([h for _k, h in columns])
            for r in records:
                w.writerow([_csv_value(r.get(k)) for k, _h in columns])
    else:
        if title:
            out.write(title + "\n\n")
        note = answer.get("note") if isinstance(answer, dict) else None
        if note:
            width = min(shutil.get_terminal_size((80, 24)).columns, 120)
            out.write(textwrap.fill(note, width, break_on_hyphens=False) + "\n\n")
        if records:
            out.write(table(_marked(records, columns), columns) + "\n")
            if any(r.get("basis") == "baseline" for r in records):
                out.write("* from the US baseline: the jurisdiction has no rule of its own that governs\n")
            if any(r.get("conflict") for r in records):
                out.write("! conflict: rules of equal standing answer differently; every one is shown\n")
            if any(r.get("practice_authority") for r in records):
                out.write("+ supervision from the NP practice authority: the state's rules are silent\n")
        else:
            out.write("(no rows)\n")
        silent = answer.get("searched") if isinstance(answer, dict) else None
        if silent:
            width = min(shutil.get_terminal_size((80, 24)).columns, 120)
            out.write("\nSearched, no state rule found:\n")
            for s in silent:
                text = (f"{s['role']['label']}, {s['procedure']['label']}: no state rule found (searched "
                        f"{s['searched_on']}: {s['searched']}); {s['fallback']}")
                out.write(textwrap.fill(printable(text), width, initial_indent="  ", subsequent_indent="    ",
                                        break_on_hyphens=False) + "\n")
        if records and "sources" in records[0]:
            out.write("\nSources:\n")
            seen = []
            for r in records:
                for s in r["sources"]:
                    if s["url"] not in seen:
                        seen.append(s["url"])
                        head = f"  [{s['confidence']}] ({s['date']}) "
                        out.write(head + fit_url(s["url"] or "", 79 - len(head)) + "\n")
