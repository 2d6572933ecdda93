"""The audit's findings written as they are found (CSV or JSON), then put in place whole.

:class:`FindingsWriter` is a sink for :func:`medspa_graph.audit.check.audit`: each batch's findings
are formatted at once and appended to a spool file of their group (:data:`~medspa_graph.audit.check.GROUPS`),
so memory never holds more than a batch of them. At the end :meth:`FindingsWriter.finish` writes
the summary and the spools, in group order, to a temporary file beside the output and renames
it into place (:func:`medspa_graph.utils.paths.atomic_output`): the bytes are those of the whole-table
writers (``DataFrame.to_csv``, ``json.dump(indent=2)``), and an error at any point leaves no
half-written file.
"""

from __future__ import annotations

__all__ = ["FindingsWriter", "JSON_STYLE"]

import json
import shutil
import sys
import tempfile
from pathlib import Path

#: How the JSON findings file is written (json.dump keyword arguments).
JSON_STYLE = {"indent": 2, "ensure_ascii": False, "default": str}
_encode = json.JSONEncoder(ensure_ascii=False, default=str).encode


def _column(series) -> list:
    """Each value of ``series`` as JSON text (strings through the C string encoder directly)."""
    from json.encoder import encode_basestring

    values = series.tolist()
    if all(type(v) is str for v in values):
        return [encode_basestring(v) for v in values]
    return [_encode(v) for v in values]


class FindingsWriter:
    """Spool findings as ``"csv"`` or ``"json"``; ``safe=True`` defuses formula cells (``--safe-csv``).

    Use as a context manager, so the spools are removed whatever happens.
    """

    def __init__(self, fmt: str, *, safe: bool = False):
        if fmt not in ("csv", "json"):
            raise ValueError(fmt)
        self.fmt, self.safe = fmt, safe
        self.columns: list = []
        self.folder = Path(tempfile.mkdtemp(prefix="medspa-graph-findings-"))
        self.spools: dict = {}
        self.count = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for f in self.spools.values():
            f.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def start(self, columns: list) -> None:
        self.columns = list(columns)

    def add(self, group: int, frame) -> None:
        if not len(frame):
            return
        if group not in self.spools:
            self.spools[group] = open(self.folder / f"{group:02d}", "w+", encoding="utf-8", newline="")
        spool = self.spools[group]
        frame = frame[self.columns]
        if self.fmt == "csv":
            if self.safe:
                from medspa_graph.audit.check import defuse_formulas

                frame = defuse_formulas(frame)
            frame.to_csv(spool, index=False, header=False, lineterminator="\n")
        else:
            # json.dump(indent=2)'s bytes for flat records, from the C encoder a column at a time
            cells = [[f"      {_encode(c)}: " + v for v in _column(frame[c])] for c in frame.columns]
            for values in zip(*cells):
                spool.write((",\n    {\n" if self.count else "    {\n") + ",\n".join(values) + "\n    }")
                self.count += 1
        self.count += 0 if self.fmt == "json" else len(frame)

    def _body(self, out) -> None:
        for group in sorted(self.spools):
            spool = self.spools[group]
            spool.flush()
            spool.seek(0)
            shutil.copyfileobj(spool, out, 1 << 20)

    def finish(self, path, summary: dict, rejected) -> None:
        """Write the findings (with the summary and rejected rows, for JSON) to ``path``, all or
        nothing, or to standard output when ``path`` is None."""
        if path is None:
            self._write(sys.stdout, summary, rejected)
            sys.stdout.flush()
            return
        from medspa_graph.errors import UnwritableOutputError
        from medspa_graph.utils.files import atomic_output

        try:
            with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as out:
                self._write(out, summary, rejected)
        except OSError as e:
            raise UnwritableOutputError(path, e.strerror or str(e)) from None

    def _write(self, out, summary: dict, rejected) -> None:
        if self.fmt == "csv":
            import csv

            csv.writer(out, lineterminator="\n").writerow(self.columns)
            self._body(out)
            return
        if not self.count:
            json.dump({"summary": summary, "findings": [], "rejected": rejected.to_dict("records")}, out, **JSON_STYLE)
            out.write("\n")
            return
        mark = "\u0000findings\u0000"
        text = json.dumps({"summary": summary, "findings": [mark], "rejected": rejected.to_dict("records")}, **JSON_STYLE)
        before, after = text.split(f"    {json.dumps(mark)}", 1)
        out.write(before)
        self._body(out)
        out.write(after)
        out.write("\n")
