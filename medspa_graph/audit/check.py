"""Compliance audit of a staff roster, a clinic list and an appointment log (CSV).

Every check is driven by the scope rules: the rule that governs a role
performing a procedure in a jurisdiction (found by :func:`~medspa_graph.questions.rules.effective_rules`,
the same precedence the questions use) says whether it is permitted, what
supervision it needs and by whom, and whose prior examination. Python only
joins the tables and compares.

Checks
------
``scope``          the performer's role may perform the procedure in the clinic's jurisdiction
``licence``        the performer is licensed in the clinic's jurisdiction
``supervision``    on-site supervision was recorded on the appointment (other levels: the
                   performer's roster supervisor), by a role the rule accepts
``prior-exam``     a required prior examination was recorded, by a role the rule accepts
``staff-chain``    the person-level supervision graph has no cycle, and each chain ends with
                   someone who may act independently (an independent rule in their jurisdiction)
``medical-director`` each clinic's medical director is on the roster and may direct it

Severities: ``violation`` (outside scope or missing a required person), ``warning``
(conditional permission, conflicting sources, no rule at all).

Rows that cannot be read (unknown role, procedure, jurisdiction or staff id, a
duplicate id, a bad date) are rejected with their file, line and reason; rows in =
rows checked + rows rejected.

Scale: the roster and clinics are read whole (they are the indexes); the appointment
log is streamed in batches (:func:`read_csv_batches`) with the same rows, lines, rejected
rows and messages as a whole-file read, and findings go to a sink as they are found
(:class:`Collect` keeps them; :class:`~medspa_graph.audit.findings.FindingsWriter` writes
them). Lookups that do not depend on the data's size live in
:mod:`medspa_graph.audit.index`, once per knowledge base; :mod:`medspa_graph.audit.parts`
splits a log by clinic or state for several machines and merges the parts' findings.
"""

from __future__ import annotations

__all__ = ["audit", "AuditResult", "Collect", "GROUPS", "read_csv", "read_csv_batches", "Batch", "BATCH_BYTES",
           "COLUMNS", "MAX_COLUMNS", "defuse_formulas"]

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

from medspa_graph.errors import UnreadableInputError

#: Required and optional columns of each input, with the other names accepted for them.
COLUMNS = {
    "roster": {
        "required": {"staff_id": ("id", "staff"), "name": ("staff_name", "full_name"), "role": ("title", "job_title"),
                     "licence_jurisdiction": ("license_jurisdiction", "licence_state", "license_state", "jurisdiction"),
                     "clinic_id": ("clinic",)},
        "optional": {"supervisor_id": ("supervisor_staff_id", "supervisor")},
    },
    "clinics": {
        "required": {"clinic_id": ("id", "clinic"), "name": ("clinic_name",), "jurisdiction": ("state",),
                     "medical_director_id": ("medical_director_staff_id", "medical_director")},
        "optional": {},
    },
    "appointments": {
        "required": {"appointment_id": ("id", "appointment"), "start_time": ("start", "time", "date"),
                     "clinic_id": ("clinic",), "performer_id": ("performer_staff_id", "performer", "staff_id"),
                     "procedure": ("service", "treatment")},
        "optional": {"supervisor_id": ("supervising_staff_id", "supervisor_present_id", "supervisor"),
                     "examiner_id": ("prior_exam_by", "prior_examination_by", "examined_by", "examiner")},
    },
}


#: The most columns an input CSV may have: the inputs need under ten, and each column costs the reader time.
MAX_COLUMNS = 1024


def _norm(col: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", col.strip().lower()).strip("_")


def _record_lines(raw: bytes, records: int, newlines: int | None = None):
    """The physical line where each of the ``records`` CSV records starts (the header
    first), skipping blank lines as the reader does; a newline inside a quoted value
    starts no record (it follows an odd number of quotes). ``newlines``: ``raw.count(b"\\n")``,
    if known."""
    import numpy as np

    if b'"' not in raw:  # then a record is a non-blank line: if no line is blank, lines and records agree
        lines = (raw.count(b"\n") if newlines is None else newlines) + (not raw.endswith(b"\n"))
        if records == lines:
            return np.arange(1, lines + 1)
    b = np.frombuffer(raw, dtype=np.uint8)
    nl = np.flatnonzero(b == 10)
    ends = nl[np.searchsorted(np.flatnonzero(b == 34), nl) % 2 == 0] if b'"' in raw else nl
    starts = np.concatenate(([0], ends + 1))
    starts = starts[starts < len(b)]
    nxt = b[np.minimum(starts + 1, len(b) - 1)]
    blank = (b[starts] == 10) | ((b[starts] == 13) & (nxt == 10))
    return (np.searchsorted(nl, starts) + 1)[~blank]


def _unclosed_quote(raw: bytes):
    """The offset of a quote that opens a cell and is never closed, or None. A quote opens
    a cell after a comma, a line end or the file's start, and closes one before them or
    the file's end; quotes elsewhere are text or doubled quotes inside a quoted cell."""
    import numpy as np

    if b'"' not in raw:
        return None
    b = np.frombuffer(raw, dtype=np.uint8)
    q = np.flatnonzero(b == 34)
    ends = np.array([44, 10, 13], dtype=np.uint8)
    opens = (q == 0) | np.isin(b[np.maximum(q - 1, 0)], ends)
    closes = ((q == len(b) - 1) | np.isin(b[np.minimum(q + 1, len(b) - 1)], ends)) & ~opens
    if opens.sum() <= closes.sum():
        return None
    # the count says a cell may be open; an RFC 4180 cell such as "Smith,""Bob"" Jr" fools
    # it (a doubled quote after a comma looks like an opening), so read the quotes in order
    return _unclosed_quote_exact(raw, q)


def _unclosed_quote_exact(raw: bytes, quotes) -> int | None:
    r"""The offset of the quote that opens a cell never closed, reading the quotes in order
    as RFC 4180 does (a doubled quote inside a quoted cell is a quote); linear in the quotes.

    >>> row = b'a,"Smith,""Bob"" Jr"\n'
    >>> _unclosed_quote_exact(row, [i for i, c in enumerate(row) if c == 34])
    >>> _unclosed_quote_exact(b'a,"open\nb,c\n', [2])
    2
    """
    inside, opened, skip = False, None, False
    for k, at in enumerate(quotes):
        at = int(at)
        if skip:
            skip = False
            continue
        if not inside:
            if at == 0 or raw[at - 1] in b",\n\r":
                inside, opened = True, at
        elif k + 1 < len(quotes) and int(quotes[k + 1]) == at + 1:
            skip = True  # a doubled quote: text
        else:
            inside = False
    return opened if inside else None


def _record_lines_by_parser(text: str):
    """As :func:`_record_lines`, by Python's csv parser: for the rare file whose quotes
    the parity rule misreads (a quote inside an unquoted value)."""
    import numpy as np

    reader, lines, start = csv.reader(io.StringIO(text, newline="")), [], 1
    for row in reader:
        if row:
            lines.append(start)
        start = reader.line_num + 1
    return np.array(lines, dtype=np.int64)


def read_csv(path, kind: str):
    """Read one input CSV: columns matched case-insensitively (and by their other names).

    Every cell is read as text and stripped of surrounding blanks; a row with the wrong
    number of cells is not fatal: it comes back in ``bad`` with its line and reason.
    Returns ``(frame, bad)``: a DataFrame with canonical column names plus any extra
    columns and a ``line`` column (the physical line each row starts on), and a list of
    ``(line, text, reason)``. Raises UnreadableInputError naming the file for a file that
    cannot be read at all (missing, not UTF-8, empty, no required column).
    """
    import pandas as pd

    frames, bad = [], []
    for batch in read_csv_batches(path, kind, batch_bytes=None):
        frames.append(batch.frame)
        bad += batch.bad
    return (frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)), bad


#: The bytes of CSV read at a time by the streaming reader (about 250,000 appointments).
BATCH_BYTES = 16 << 20


@dataclass
class Batch:
    """One batch of a CSV read by :func:`read_csv_batches`: the rows (as :func:`read_csv`
    returns them), the rows with the wrong number of cells, and how far into the file it ends."""

    frame: object  # pandas.DataFrame
    bad: list
    done: int  # bytes of the file read so far
    size: int  # bytes in the file


def read_csv_batches(path, kind: str, batch_bytes: int | None = BATCH_BYTES):
    """:func:`read_csv`, a batch at a time: yields :class:`Batch` objects of about ``batch_bytes``
    bytes each (``None``: the whole file at once), in file order.

    The file is cut only between records (never inside a quoted cell), and each batch is
    read by the same Arrow reader with the same checks, so the rows, their line numbers, the
    rejected rows and the errors are those of the whole-file read; memory holds one batch.
    An error found in a later batch is raised when that batch is reached (the caller's output
    is written all or nothing, so nothing half-done is kept).
    """
    from medspa_graph.utils.files import max_file_bytes, open_regular

    path = Path(path)
    limit = max_file_bytes()
    try:
        f = open_regular(path, limit)
    except FileNotFoundError:
        raise UnreadableInputError(path, "no such file") from None
    except OSError as e:
        raise UnreadableInputError(path, e.strerror or str(e)) from None
    with f:
        yield from _batches(f, path, kind, limit, batch_bytes)


def _batches(f, path, kind, limit, batch_bytes):
    import os

    size = os.fstat(f.fileno()).st_size
    batch = limit + 1 if batch_bytes is None else max(int(batch_bytes), 1 << 16)
    step = batch
    reader = _Chunks(path, kind)
    buf, done, eof = b"", 0, False
    while not eof:
        try:
            data = f.read(step)
        except OSError as e:
            raise UnreadableInputError(path, e.strerror or str(e)) from None
        done += len(data)
        if done > limit:
            raise UnreadableInputError(path, f"file is over the {limit}-byte limit (MEDSPA_GRAPH_MAX_FILE_BYTES)")
        eof = not data or batch_bytes is None
        buf = buf + data if buf else data
        if reader.header is None and not reader.start(buf, eof):
            continue  # all blank so far (or under the header's first MiB): read on
        while buf and (eof or len(buf) >= batch):  # batches of about ``batch`` bytes, each ending between records
            whole = eof and len(buf) <= batch
            cut = len(buf) if whole else _cut(buf[:batch])
            if not cut and len(buf) > batch:
                cut = len(buf) if eof else _cut(buf)  # one record longer than a batch
            if not cut:  # (or a quote never closed): read on, twice as much each time
                step = min(2 * step, limit + 1)
                break
            step = batch
            chunk, buf = buf[:cut], buf[cut:]
            rows = reader.read(chunk, last=eof and not buf)
            if rows is not None:
                yield Batch(rows[0], rows[1], done - len(buf), max(size, done))
    reader.finish()


def _cut(buf: bytes) -> int:
    """Where to end a batch of ``buf`` (which starts at a record): just after the last line end
    that is not inside a quoted cell; 0 if there is none."""
    end = buf.rfind(b"\n") + 1
    if b'"' not in buf:
        return end
    while end > 0:
        opened = _unclosed_quote(buf[:end])
        if opened is None:
            return end
        end = buf.rfind(b"\n", 0, opened) + 1  # before the record holding the open quote
    return 0


class _Chunks:
    """The state of reading one CSV in pieces: its header, the column names, the lines read."""

    def __init__(self, path, kind):
        self.path, self.kind, self.spec = path, kind, COLUMNS[kind]
        self.header = None
        self.offset = 0  # bytes (after a byte order mark) before the current piece
        self.lines = 0  # physical lines before the current piece
        self.pending = None  # an error found in the header, raised after the file is read, as before

    def start(self, buf: bytes, eof: bool) -> bool:
        """Read the header from the file's first bytes; False while they are all blank."""
        raw = buf.removeprefix(codecs.BOM_UTF8)
        if not re.search(rb"\S", raw):
            if not eof:
                return False
            raise UnreadableInputError(self.path, f"empty file: the {self.kind} CSV needs a header row")
        if len(raw) < 1 << 20 and not eof:
            return False  # the header is read from the first MiB, as from a whole file
        self.bom = len(buf) - len(raw)
        head = raw[: 1 << 20]
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as e:
            if e.start < len(head) - 3 or (eof and len(head) == len(raw)):
                raise self._not_utf8(raw, e.start) from None
            text = head[: e.start].decode("utf-8")  # a character cut at the 1 MiB mark
        header = next(csv.reader(io.StringIO(text, newline="")), [])
        if len(header) > MAX_COLUMNS:
            raise UnreadableInputError(self.path, f"{len(header)} columns; at most {MAX_COLUMNS} are read", 1)
        from collections import Counter

        twice = sorted(h for h, n in Counter(header).items() if n > 1)
        if twice:
            raise UnreadableInputError(self.path, f"column {twice[0]!r} appears more than once", 1)
        self.header = header
        names, seen = {}, {}
        wanted = {**self.spec["required"], **self.spec["optional"]}
        for col in header:
            n = _norm(col)
            for canon, others in wanted.items():
                if n == canon or n in others:
                    if canon in seen:
                        self.pending = UnreadableInputError(self.path, f"columns {seen[canon]!r} and {col!r} "
                                                                       f"both mean {canon}", 1)
                        break
                    seen[canon] = col
                    names[col] = canon
                    break
            if self.pending:
                break
        missing = [c for c in self.spec["required"] if c not in seen]
        if missing and not self.pending:
            found = [c if c.isprintable() and len(c) <= 40 else repr(c[:40]) for c in header[:20]]
            self.pending = UnreadableInputError(self.path, f"missing column{'s' if len(missing) > 1 else ''} "
                                                           f"{', '.join(missing)} (found: {', '.join(found)}"
                                                           f"{', ...' if len(header) > 20 else ''})", 1)
        self.names, self.wanted = names, wanted
        return True

    def _not_utf8(self, raw: bytes, at: int) -> UnreadableInputError:
        return UnreadableInputError(self.path, f"not UTF-8 (byte {self.offset + at})",
                                    self.lines + raw.count(b"\n", 0, at) + 1)

    def read(self, chunk: bytes, last: bool):
        """The rows of one piece (which ends between records): ``(frame, bad)``, or None when
        the file's header is missing a column (then only errors that come first are looked for)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        first = self.offset == 0 and self.lines == 0
        raw = chunk[self.bom:] if first else chunk
        header, invalid = self.header, []

        def read(threads: bool):
            invalid.clear()
            return pacsv.read_csv(
                pa.py_buffer(raw),
                read_options=pacsv.ReadOptions(use_threads=threads, column_names=None if first else header),
                parse_options=pacsv.ParseOptions(newlines_in_values=True,
                                                 invalid_row_handler=lambda row: invalid.append(row) or "skip"),
                convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(header, pa.string()),
                                                     strings_can_be_null=False, quoted_strings_can_be_null=False))

        def text() -> str:  # Arrow checks the encoding of every cell; this names the first bad byte
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise self._not_utf8(raw, e.start) from None

        if not re.search(rb"[^\r\n]", raw):  # blank lines only: no records
            table = None
        else:
            try:
                table = read(threads=True)
                if any(row.number is None for row in invalid):  # only the serial reader numbers rows
                    table = read(threads=False)
            except pa.ArrowInvalid as e:
                text()  # a bad byte is the likelier cause, and the clearer message
                raise UnreadableInputError(self.path, f"CSV syntax error: {str(e).splitlines()[0]}") from None
            if first and table.column_names != header:
                raise UnreadableInputError(self.path, "the header row could not be read", 1)
        if last:
            unclosed = _unclosed_quote(raw)
            if unclosed is not None:  # the reader takes the rest of the file into that cell: rows would vanish unseen
                raise UnreadableInputError(self.path, "CSV syntax error: a quoted cell is never closed",
                                           self.lines + raw.count(b"\n", 0, unclosed) + 1)
        lines_before = self.lines
        self.offset += len(raw)
        newlines = raw.count(b"\n")
        self.lines += newlines
        if self.pending or table is None:
            return None
        records = table.num_rows + len(invalid) + first
        lines = _record_lines(raw, records, newlines)
        if len(lines) != records:
            lines = _record_lines_by_parser(text())
        lines = lines + lines_before
        bad_records = {row.number - 1 for row in invalid}  # records counted from 1, the header first
        bad = [(int(lines[row.number - 1]), row.text,
                f"expected {row.expected_columns} cells, found {row.actual_columns}") for row in invalid]
        row_lines = np.delete(lines, [*([0] if first else []), *bad_records])

        names = self.names
        table = table.rename_columns([names.get(c, c) for c in header])
        for c in self.spec["optional"]:
            if c not in names.values():
                table = table.append_column(c, pa.array([""] * table.num_rows, pa.string()))
        for c in self.wanted:
            table = table.set_column(table.column_names.index(c), c, pc.utf8_trim_whitespace(table[c]))
        df = table.to_pandas()
        df.insert(0, "line", row_lines)
        return df, bad

    def finish(self) -> None:
        if self.header is None:
            raise UnreadableInputError(self.path, f"empty file: the {self.kind} CSV needs a header row")
        if self.pending:
            raise self.pending


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def defuse_formulas(frame):
    """A copy of ``frame`` in which every text cell a spreadsheet would run as a formula (one
    starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return) starts with ``'``,
    as spreadsheet-export libraries do (OWASP, "CSV injection"): ``--safe-csv``.

    >>> import pandas as pd
    >>> defuse_formulas(pd.DataFrame({"note": ["=1+2", "fine", "-1"], "line": [1, 2, 3]})).note.tolist()
    ["'=1+2", 'fine', "'-1"]
    """
    import pandas as pd

    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col].dtype):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_STARTS) else v)
    return out


@dataclass
class AuditResult:
    """The audit's findings (one row each), rejected rows, and a summary."""

    findings: object  # pandas.DataFrame
    rejected: object  # pandas.DataFrame: file, line, id, reason
    summary: dict = field(default_factory=dict)
    roster: object = None  # pandas.DataFrame: the roster rows read, with role_iri and licence_iri
    clinics: object = None  # pandas.DataFrame: the clinic rows read, with jurisdiction_iri

    def _repr_html_(self) -> str:
        """Jupyter's view: the summary, findings by check and severity, the first findings, rejected rows."""
        import html

        parts = ["<div class='medspa-audit'><h4>Compliance audit</h4>"]
        if self.summary:
            items = "".join(f"<li>{html.escape(str(k).replace('_', ' '))}: {html.escape(str(v))}</li>"
                            for k, v in self.summary.items() if not isinstance(v, (dict, list)))
            parts.append(f"<ul>{items}</ul>")
        findings = self.findings
        if len(findings):
            counts = findings.groupby(["check", "severity"]).size().rename("findings").reset_index()
            parts.append("<p>Findings by check:</p>" + counts.to_html(index=False, escape=True))
            shown = findings.head(10)[[c for c in ("appointment_id", "check", "severity", "explanation",
                                                   "staff_id", "clinic_id") if c in findings.columns]]
            parts.append(f"<p>First {len(shown)} of {len(findings)} findings:</p>"
                         + shown.to_html(index=False, escape=True))
        else:
            parts.append("<p>No findings.</p>")
        if self.rejected is not None and len(self.rejected):
            parts.append(f"<p>{len(self.rejected)} rows rejected; first:</p>"
                         + self.rejected.head(5).to_html(index=False, escape=True))
        parts.append("</div>")
        return "".join(parts)

    def write_rdf(self, path, base: str | None = None):
        """The roster, clinics and findings as RDF (ORG memberships, PROV): see :mod:`medspa_graph.audit.rdf`."""
        from medspa_graph.audit.rdf import DEFAULT_BASE, write_rdf

        return write_rdf(self, path, base or DEFAULT_BASE)


FINDING_COLUMNS = ["appointment_id", "check", "severity", "explanation", "rule", "sources",
                   "staff_id", "clinic_id", "line"]


class _Terms:
    """Names to IRIs (through the knowledge base's :class:`~medspa_graph.audit.index.AuditIndex`,
    so each distinct name is resolved once per knowledge base), and IRIs to small integers shared
    by every column, so the checks compare and join integer arrays; unknown names are -1."""

    def __init__(self, index):
        self.index = index
        self.ids: dict = {}
        self.iris: list = []

    def resolve(self, name: str, kind: str):
        return self.index.resolve(name, kind)

    def error(self, name: str, kind: str) -> str:
        return self.resolve(name, kind)[1] if name else "empty"

    def code(self, iri: str) -> int:
        if iri not in self.ids:
            self.ids[iri] = len(self.iris)
            self.iris.append(iri)
        return self.ids[iri]

    def codes(self, column, kind: str):
        """The code of each cell's term (-1: empty or unknown), resolving each distinct name once."""
        import numpy as np
        import pandas as pd

        codes, uniques = pd.factorize(column)
        per = np.array([self.code(iri) if name and (iri := self.resolve(name, kind)[0]) else -1
                        for name in uniques], dtype=np.int64)
        return per[codes] if len(per) else np.full(len(codes), -1, dtype=np.int64)


def _duplicated(column):
    """True for each repeat of an earlier value; ids are nearly always unique, which
    Arrow's ``unique`` tells faster than marking repeats does."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pa.array(column)
    if len(pc.unique(values)) == len(values):
        return np.zeros(len(values), dtype=bool)
    seen = np.zeros(len(values), dtype=bool)
    seen[np.unique(pc.dictionary_encode(values).indices.to_numpy(), return_index=True)[1]] = True
    return ~seen


def _mix(x):
    """SplitMix64's finaliser over an array of 64-bit words (a bijection that spreads every bit)."""
    import numpy as np

    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _SeenIds:
    """The appointment ids of earlier batches, as two independent 64-bit fingerprints (16 bytes
    an id, the one part of the audit's memory that grows with the log): repeats within a batch
    are found by comparing the ids themselves, repeats of an earlier batch by fingerprint.

    Each fingerprint is keyed with random numbers drawn for each audit: an id of up to 64 bytes
    (its length, then its bytes as 64-bit words) is chained through SplitMix64's finaliser, a
    longer one goes through keyed BLAKE2b. Each fingerprint is kept as
    its own sorted set: an id new to the log is taken for a repeat only if both of its
    fingerprints were seen, a chance of about ``n**3 / 2**128`` in a log of ``n`` ids (10**-15
    for 100 million); the keys are not known ahead, so no file can be written to cause one.
    """

    _WIDTH = 64  # bytes of an id fingerprinted by the vectorised words; longer ones by BLAKE2b

    def __init__(self):
        import secrets

        import numpy as np

        rng = np.random.default_rng(secrets.randbits(128))
        self.keys = rng.integers(0, 2**64, size=(self._WIDTH // 8 + 1, 2), dtype=np.uint64)
        self.key = secrets.token_bytes(32)
        self.runs: list = [[], []]  # per fingerprint: sorted arrays, each at most half the one before
        self.bits = np.zeros(1 << 14, dtype=np.uint64)  # a bitmap of first fingerprints' top bits (16 an id)
        self.count = 0

    def _fingerprints(self, ids):
        import hashlib

        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(ids, pa.string())
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
        n = len(arr)
        bufs = arr.buffers()
        offsets = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=arr.offset * 4).astype(np.int64)
        data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None and n else np.zeros(0, np.uint8)
        lengths = np.diff(offsets)
        long = lengths > self._WIDTH
        short = np.where(long, 0, lengths)
        widest = int(short.max(initial=0))
        words = max(1, -(-widest // 8))
        grid = np.zeros((n, 8 * words), dtype=np.uint8)  # each id's bytes, zero-padded to whole words
        if n and lengths.min() != lengths.max() and not long.any() and pc.all(pc.string_is_ascii(arr)).as_py():
            padded = pc.utf8_rpad(arr, width=widest, padding="\x00")  # ASCII ids of several lengths: one length
            offsets = np.frombuffer(padded.buffers()[1], dtype=np.int32, count=n + 1).astype(np.int64)
            data = np.frombuffer(padded.buffers()[2], dtype=np.uint8)
            width = widest
        else:
            width = int(lengths[0]) if n and lengths.min() == lengths.max() and not long.any() else -1
        if width >= 0 and n:  # ids of one length, the usual
            grid[:, :width] = data[offsets[0]:offsets[-1]].reshape(n, width)
        elif n:
            ends = np.cumsum(short)
            pos = np.arange(int(ends[-1])) - np.repeat(ends - short, short)
            grid[np.repeat(np.arange(n), short), pos] = data[np.repeat(offsets[:-1], short) + pos]
        grid = grid.view("<u8")
        keys = self.keys
        out = []
        own = np.maximum(1, -(-short // 8))  # the words of each id: its fingerprint is its own, whatever the batch
        for t in range(2):  # two fingerprints, each the words chained through SplitMix64's finaliser
            h = _mix(lengths.astype(np.uint64) ^ keys[0, t])
            for k in range(words):
                step = _mix(h ^ grid[:, k] ^ keys[k + 1, t])
                h = step if k == 0 or own.min() > k else np.where(own > k, step, h)
            out.append(h)
        for i in np.flatnonzero(long):  # rare: ids longer than the words chained
            d = hashlib.blake2b(bytes(data[offsets[i]:offsets[i + 1]]), key=self.key, digest_size=16).digest()
            out[0][i], out[1][i] = int.from_bytes(d[:8], "little"), int.from_bytes(d[8:], "little")
        return out[0], out[1]

    @staticmethod
    def _seen(runs, values):
        """The values among ``values`` found in the sorted ``runs`` (usually none)."""
        import numpy as np

        if not runs or not len(values):
            return values[:0]
        needles = np.sort(values)  # sorted needles: searchsorted walks each run once, in order
        hits = []
        for run in runs:
            at = np.minimum(np.searchsorted(run, needles), len(run) - 1)
            hits.append(needles[run[at] == needles])
        return np.concatenate(hits)

    @staticmethod
    def _add(runs, values) -> None:
        import numpy as np

        runs.append(np.sort(values))
        while len(runs) > 1 and 2 * len(runs[-1]) >= len(runs[-2]):
            last = runs.pop()
            runs[-1] = np.concatenate([runs[-1], last])
            runs[-1].sort()

    def _slots(self, hi):
        import numpy as np

        shift = np.uint64(64 - (len(self.bits) * 64).bit_length() + 1)
        at = hi >> shift
        return at >> np.uint64(6), np.left_shift(np.uint64(1), at & np.uint64(63))

    def _maybe(self, hi):
        """False for each first fingerprint surely not seen (the bitmap's bit is clear)."""
        word, bit = self._slots(hi)
        return (self.bits[word] & bit) != 0

    def _mark(self, hi) -> None:
        import numpy as np

        self.count += len(hi)
        if self.count * 16 > len(self.bits) * 64:  # keep 16 bits an id: about 6% of new ids need a search
            self.bits = np.zeros(1 << max(14, (self.count * 32 // 64).bit_length()), dtype=np.uint64)
            for run in self.runs[0]:
                word, bit = self._slots(run)
                np.bitwise_or.at(self.bits, word, bit)
            return
        word, bit = self._slots(hi)
        np.bitwise_or.at(self.bits, word, bit)

    def repeats(self, ids):
        """True for each id read before (in an earlier batch, or earlier in this one); then remembers them."""
        import numpy as np

        hi, lo = self._fingerprints(ids)
        first = np.sort(hi)
        if len(first) > 1 and (first[1:] == first[:-1]).any():  # some fingerprint twice: compare the ids
            dup = _duplicated(ids)
        else:  # every first fingerprint differs, so every id does
            dup = np.zeros(len(hi), dtype=bool)
        asked = np.flatnonzero(self._maybe(hi) & ~dup)  # the bitmap spares most ids the search
        hits = self._seen(self.runs[0], hi[asked])
        if len(hits):
            maybe = asked[np.isin(hi[asked], hits)]
            if len(maybe):
                dup[maybe[np.isin(lo[maybe], self._seen(self.runs[1], lo[maybe]))]] = True
        self._add(self.runs[0], hi)
        self._add(self.runs[1], lo)
        self._mark(hi)
        return dup


def _screen(df, id_col, file, checks, rejected):
    """Reject rows by ``checks`` (``(mask, reason_of_position)``, in order: a row gets the
    first reason that applies) and return the mask of rows kept."""
    import numpy as np

    alive = np.ones(len(df), dtype=bool)
    lines, ids = df.line.to_numpy(), df[id_col]
    for mask, reason in checks:
        hit = alive & np.asarray(mask, dtype=bool)
        for i in np.flatnonzero(hit):
            rejected.append({"file": file, "line": int(lines[i]), "id": ids.iat[i], "reason": reason(i)})
        alive &= ~hit
    return alive


class _Ids:
    """A table's ids (unique), and each id's position: looked up in Arrow's hash table,
    so a million appointment cells never become Python strings."""

    def __init__(self, ids):
        import pyarrow as pa

        self.ids = pa.array(ids)
        self._dict = None

    def __getitem__(self, i) -> str:
        return self.ids[int(i)].as_py()

    def positions(self, cells):
        """The position of each cell's id, -1 where the cell is empty or not an id."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        cells = pa.array(cells, pa.string())
        if isinstance(cells, pa.ChunkedArray):
            cells = cells.combine_chunks()
        cells = pc.dictionary_encode(cells)
        values = cells.dictionary
        if len(values) * 16 <= len(self.ids):  # few distinct cells (supervisors, examiners): a dict, built once
            if self._dict is None:
                self._dict = {v: i for i, v in enumerate(self.ids.to_pylist())}
            get = self._dict.get
            found = np.array([get(v, -1) for v in values.to_pylist()], dtype=np.int64)
        else:  # Arrow's hash table of the ids (built for each call: cheaper than a dict over many cells)
            found = pc.index_in(values, value_set=self.ids).fill_null(-1).to_numpy().astype(np.int64)
        return found[cells.indices.to_numpy()] if len(found) else np.full(len(cells), -1, dtype=np.int64)


#: The order findings come out in: each appointment check in turn (all of the log's rows for
#: one before the next), then the roster's supervision chains, then the clinics' medical directors.
GROUPS = ("licence", "scope-none", "scope-conflict", "scope-no", "scope-conditional", "supervision-missing",
          "supervision-wrong", "prior-exam-missing", "prior-exam-wrong", "staff-chain", "medical-director")


class Collect:
    """The findings sink :func:`audit` uses by default: keeps every finding, in order, in memory."""

    def __init__(self):
        self.groups: dict = {}
        self.columns: list = []

    def start(self, columns: list) -> None:
        """Called once, before any finding, with the findings' columns."""
        self.columns = list(columns)

    def add(self, group: int, frame) -> None:
        """Findings of :data:`GROUPS` ``[group]``, in file order within the group."""
        self.groups.setdefault(group, []).append(frame)

    def frame(self):
        import pandas as pd

        frames = [f for g in sorted(self.groups) for f in self.groups[g] if len(f)]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in self.columns})
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)


def audit(kb, roster, clinics, appointments, progress=None, *, sink=None,
          batch_bytes: int | None = BATCH_BYTES) -> AuditResult:
    """Audit the three CSV files (paths) against the knowledge base; see the module doc.

    The roster and the clinics are read whole (they are the indexes the log is checked
    against); the appointment log is read ``batch_bytes`` at a time (:func:`read_csv_batches`),
    so memory holds the roster, one batch and 16 bytes per appointment id (for duplicates), not
    the log. ``progress(fraction, what)``, if given, is called as the work advances, with the
    share of the log's bytes read. ``sink``, if given (see :class:`Collect`), receives the
    findings as they are found, and the result's ``findings`` is then None.
    """
    import numpy as np
    import pandas as pd

    from medspa_graph.audit.index import audit_index

    step = progress or (lambda fraction, what: None)
    files = {"roster": str(roster), "clinics": str(clinics), "appointments": str(appointments)}
    rejected: list[dict] = []
    counts = {}

    def reject_bad(kind, bad):
        rejected.extend({"file": files[kind], "line": line, "id": "", "reason": f"{reason}: {text[:80]!r}"}
                        for line, text, reason in bad)

    tables = {}
    for n, (kind, path) in enumerate((("roster", roster), ("clinics", clinics))):
        step(0.05 * n, f"reading {Path(path).name}")
        tables[kind], bad = read_csv(path, kind)
        reject_bad(kind, bad)
        counts[kind] = len(tables[kind]) + len(bad)
    staff, clin = tables["roster"], tables["clinics"]
    index = audit_index(kb)
    terms = _Terms(index)

    step(0.1, "resolving names")
    role = terms.codes(staff.role, "role")
    lic = terms.codes(staff.licence_jurisdiction, "jurisdiction")
    keep = _screen(staff, "staff_id", files["roster"], [
        (staff.staff_id == "", lambda i: "no staff id"),
        (_duplicated(staff.staff_id), lambda i: f"duplicate staff id {staff.staff_id.iat[i]!r}"),
        (role < 0, lambda i: "role: " + terms.error(staff.role.iat[i], "role")),
        (lic < 0, lambda i: "licence jurisdiction: " + terms.error(staff.licence_jurisdiction.iat[i], "jurisdiction")),
    ], rejected)
    staff, role, lic = staff[keep].reset_index(drop=True), role[keep], lic[keep]
    sidx = _Ids(staff.staff_id)
    boss = sidx.positions(staff.supervisor_id)  # the roster supervisor of each staff member, -1 if none

    cjur = terms.codes(clin.jurisdiction, "jurisdiction")
    keep = _screen(clin, "clinic_id", files["clinics"], [
        (clin.clinic_id == "", lambda i: "no clinic id"),
        (_duplicated(clin.clinic_id), lambda i: f"duplicate clinic id {clin.clinic_id.iat[i]!r}"),
        (cjur < 0, lambda i: "jurisdiction: " + terms.error(clin.jurisdiction.iat[i], "jurisdiction")),
    ], rejected)
    clin, cjur = clin[keep].reset_index(drop=True), cjur[keep]
    cidx = _Ids(clin.clinic_id)
    ctx = _Context(index, terms, staff, sidx, role, lic, boss)

    out = sink if sink is not None else Collect()
    tally: dict = {}
    extra = None
    seen = _SeenIds()
    read = checked = 0

    def found(group, frame, appts=None):
        rows = frame.pop("_row").to_numpy(dtype=np.int64)
        for c in extra:
            values = appts[c].to_numpy(dtype=object) if appts is not None else np.zeros(0, dtype=object)
            frame[c] = np.where(rows >= 0, values[np.maximum(rows, 0)] if len(values) else "", "")
        for key, n in frame.groupby(["check", "severity"]).size().items():
            tally[key] = tally.get(key, 0) + int(n)
        out.add(group, frame)

    step(0.15, f"reading {Path(appointments).name}")
    import pyarrow as pa

    pool = pa.default_memory_pool()
    for batch in read_csv_batches(appointments, "appointments", batch_bytes):
        appts = batch.frame
        reject_bad("appointments", batch.bad)
        read += len(appts) + len(batch.bad)
        if extra is None:
            extra = [c for c in appts.columns if c not in FINDING_COLUMNS and c != "line"
                     and c not in COLUMNS["appointments"]["required"] and c not in COLUMNS["appointments"]["optional"]]
            out.start([*FINDING_COLUMNS, *extra])
        appts, at, proc = _screen_appointments(appts, terms, cidx, sidx, seen, files["appointments"], rejected)
        checked += len(appts)
        for group, frame in _appointment_findings(ctx, appts, at, proc, cjur):
            found(group, frame, appts)
        pool.release_unused()  # the batch's Arrow buffers go back to the system, not to a growing pool
        step(0.15 + 0.75 * batch.done / max(batch.size, 1), "checking appointments")
    if extra is None:  # a header-only log read as no batch at all
        extra = []
        out.start(list(FINDING_COLUMNS))

    step(0.9, "checking supervision chains and medical directors")
    for group, frame in ((GROUPS.index("staff-chain"), _chain_findings(ctx)),
                         (GROUPS.index("medical-director"), _director_findings(ctx, clin, cjur))):
        if len(frame):
            found(group, frame)
    index.save()

    step(0.95, "writing findings")
    rej = pd.DataFrame(rejected, columns=["file", "line", "id", "reason"]).sort_values(
        ["file", "line"], kind="stable", ignore_index=True)
    summary = {
        "appointments_read": read,
        "appointments_checked": checked,
        "appointments_rejected": int((rej.file == files["appointments"]).sum()),
        "roster_read": counts["roster"], "roster_rejected": int((rej.file == files["roster"]).sum()),
        "clinics_read": counts["clinics"], "clinics_rejected": int((rej.file == files["clinics"]).sum()),
        "findings": {f"{k[0]}/{k[1]}": v for k, v in sorted(tally.items())},
    }
    iris = np.array(terms.iris, dtype=object)
    staff = staff.assign(role_iri=iris[role], licence_iri=iris[lic])
    clin = clin.assign(jurisdiction_iri=iris[cjur])
    step(1.0, "done")
    return AuditResult(out.frame() if sink is None else None, rej, summary, staff.drop(columns="line"),
                       clin.drop(columns="line"))


def _screen_appointments(appts, terms, cidx, sidx, seen, file, rejected):
    """Reject a batch's unreadable rows; the rows kept, their people and clinic as roster and
    clinic positions, and their procedures as term codes."""
    import numpy as np
    import pandas as pd

    proc = terms.codes(appts.procedure, "procedure")
    when = pd.to_datetime(appts.start_time, errors="coerce", utc=True, format="ISO8601")
    if when.isna().any():  # other spellings ("03/02/2026 9:00"), parsed one by one
        retry = when.isna()
        when[retry] = pd.to_datetime(appts.start_time[retry], errors="coerce", utc=True, format="mixed")
    at = {"clinic_id": cidx.positions(appts.clinic_id)}
    for col in ("performer_id", "supervisor_id", "examiner_id"):
        at[col] = sidx.positions(appts[col])
    empty = {col: np.asarray(appts[col] == "", dtype=bool) for col in ("appointment_id", *at)}
    checks = [(empty["appointment_id"], lambda i: "no appointment id"),
              (seen.repeats(appts.appointment_id), lambda i: f"duplicate appointment id {appts.appointment_id.iat[i]!r}"),
              (proc < 0, lambda i: "procedure: " + terms.error(appts.procedure.iat[i], "procedure")),
              (when.isna(), lambda i: f"start time: not a date and time: {appts.start_time.iat[i]!r}"),
              (empty["clinic_id"], lambda i: "no clinic id"), (empty["performer_id"], lambda i: "no performer id")]
    for col, what in (("clinic_id", "clinic"), ("performer_id", "performer"), ("supervisor_id", "supervisor"),
                      ("examiner_id", "examiner")):
        checks.append((~empty[col] & (at[col] < 0), lambda i, col=col, what=what: f"unknown {what} id {appts[col].iat[i]!r}"))
    keep = _screen(appts, "appointment_id", file, checks, rejected)
    if keep.all():
        return appts, at, proc
    return appts[keep].reset_index(drop=True), {col: v[keep] for col, v in at.items()}, proc[keep]


class _Context:
    """What the checks share: the knowledge base's audit index (rules, looked up once per
    distinct (jurisdiction, role, procedure)), the terms, and the roster as arrays."""

    def __init__(self, index, terms, staff, sidx, role, lic, boss):
        self.index, self.kb, self.terms, self.staff, self.sidx = index, index.kb, terms, staff, sidx
        self.role, self.lic, self.boss = role, lic, boss
        self.label, self.code = index.label, index.code
        self.accepts, self.urls = index.accepts, index.urls
        from medspa_graph.questions.rules import today

        self.day = today()  # the audit's rules are those in force on the day it starts

    def governing(self, jur: str, role: str, proc: str):
        return self.index.governing(jur, role, proc, self.day)

    def iri(self, code: int) -> str:
        return self.terms.iris[code]

    def staff_id(self, i: int) -> str:
        return self.sidx[i]


def _frame(records):
    import pandas as pd

    return pd.DataFrame(records, columns=[*FINDING_COLUMNS, "_row"])


def _appointment_findings(ctx, appts, at, proc, cjur):
    """The per-appointment checks of one batch, on integer arrays: rules are looked up once per
    distinct (jurisdiction, role, procedure) in the knowledge base's life, acceptability once per
    distinct (rule, person's role) in the batch. Returns ``(group, frame)`` pairs (:data:`GROUPS`)."""
    import numpy as np
    import pandas as pd

    code, iri = ctx.code, ctx.iri
    perf = at["performer_id"]
    jur, role = cjur[at["clinic_id"]], ctx.role[perf]
    width = len(ctx.terms.iris) + 1
    combo, keys = pd.factorize((jur * width + role) * width + proc)
    info = [ctx.index.info(iri(key // width // width), iri(key // width % width), iri(key % width), ctx.day)
            for key in keys]
    ids, staff_ids, clinic_ids = appts.appointment_id, appts.performer_id, appts.clinic_id
    lines = appts.line.to_numpy()
    out = []

    def emit(mask, group, check, severity, explanation, rule=None, sources=None):
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        c = combo[idx]
        out.append((GROUPS.index(group), pd.DataFrame({
            "appointment_id": ids.iloc[idx].to_numpy(dtype=object), "check": check, "severity": severity,
            "explanation": explanation(idx, c),
            "rule": ([info[k]["iris"] for k in c] if rule is None
                     else [info[k]["head"].iri for k in c] if rule == "head" else rule),
            "sources": [info[k]["src"] for k in c] if sources is None else sources,
            "staff_id": staff_ids.iloc[idx].to_numpy(dtype=object),
            "clinic_id": clinic_ids.iloc[idx].to_numpy(dtype=object), "line": lines[idx], "_row": idx})))

    def per_combo(fn, dtype=object):
        return np.array([fn(i) for i in info], dtype=dtype)[combo]

    status = per_combo(lambda i: "none" if not i["perms"] else "no" if i["perms"] == {"not-permitted"}
                       else "conflict" if len(i["perms"]) > 1 else "conditional" if i["perms"] == {"conditional"}
                       else "yes")
    lic = ctx.lic[perf]
    emit(lic != jur, "licence", "licence", "violation", lambda idx, c: [
        f"{staff_ids.iat[i]} ({info[k]['role']}) is licensed in {code(iri(lic[i]))}, not in "
        f"{info[k]['code']} where the clinic is" for i, k in zip(idx, c)], rule="", sources="")
    emit(status == "none", "scope-none", "scope", "warning", lambda idx, c: [
        f"no rule covers {_a(info[k]['role'])} performing {info[k]['proc']} in {info[k]['code']}" for k in c])
    emit(status == "conflict", "scope-conflict", "scope", "warning", lambda idx, c: [
        f"sources conflict on {_a(info[k]['role'])} performing {info[k]['proc']} in {info[k]['code']}: "
        + ", ".join(sorted(info[k]["perms"])) for k in c])
    emit(status == "no", "scope-no", "scope", "violation", lambda idx, c: [
        f"{_a(info[k]['role'])} may not perform {info[k]['proc']} in {info[k]['code']}" for k in c])

    def conditions(k):
        cond = next((x.conditions for x in info[k]["rules"] if x.conditions), None)
        return f": {cond}" if cond else ""

    emit(status == "conditional", "scope-conditional", "scope", "warning", lambda idx, c: [
        f"{_a(info[k]['role'])} may perform {info[k]['proc']} in {info[k]['code']} only on conditions"
        + conditions(k) for k in c])
    label = ctx.label
    live = (status != "none") & (status != "no")
    sup_kind = per_combo(lambda i: i["sup_kind"])
    sup = np.where(sup_kind == "onsite", at["supervisor_id"], ctx.boss[perf])
    _check_person(ctx, emit, live & (sup_kind != None), sup, combo, info, "supervision",  # noqa: E711
                  lambda i: i["head"].supervisors,
                  lambda i: (f"{i['what']} needs {i['head'].supervision} supervision by "
                             f"{_a(' or '.join(label(s) for s in i['head'].supervisors))}; none recorded "
                             + ("on site (recorded on the appointment)" if i["sup_kind"] == "onsite"
                                else "as the performer's supervisor on the roster")),
                  lambda i, who, r: (f"supervisor {who} is {_a(label(r))}; {i['what']} needs "
                                     f"{_a(' or '.join(label(s) for s in i['head'].supervisors))}"))
    needs_exam = live & per_combo(lambda i: bool(i["head"] and i["head"].examiners), bool)
    _check_person(ctx, emit, needs_exam, at["examiner_id"], combo, info, "prior-exam",
                  lambda i: i["head"].examiners,
                  lambda i: (f"{i['what']} needs a prior examination by "
                             f"{_a(' or '.join(label(s) for s in i['head'].examiners))}; none recorded"),
                  lambda i, who, r: (f"examiner {who} is {_a(label(r))}; the prior examination needs "
                                     f"{_a(' or '.join(label(s) for s in i['head'].examiners))}"))
    return out


def _check_person(ctx, emit, needs, person, combo, info, check, allowed, missing_text, wrong_text):
    """Rows that need a person (``person``: roster positions, -1 for none): flag those with
    none recorded, and those whose role the rule does not accept."""
    import numpy as np
    import pandas as pd

    emit(needs & (person < 0), f"{check}-missing", check, "violation", lambda idx, c: [missing_text(info[k]) for k in c],
         rule="head")
    idx = np.flatnonzero(needs & (person >= 0))
    if not len(idx):
        return
    roles = ctx.role[person[idx]]
    pairs, keys = pd.factorize(combo[idx] * (len(ctx.terms.iris) + 1) + roles)
    width = len(ctx.terms.iris) + 1
    ok = np.array([ctx.accepts(allowed(info[k // width]), ctx.iri(k % width)) for k in keys], dtype=bool)[pairs]
    wrong = np.zeros(len(needs), dtype=bool)
    wrong[idx[~ok]] = True
    emit(wrong, f"{check}-wrong", check, "violation", lambda rows, c: [
        wrong_text(info[k], ctx.staff_id(person[i]), ctx.iri(ctx.role[person[i]])) for i, k in zip(rows, c)],
        rule="head")


def _chain_findings(ctx):
    """The person-level supervision graph (staff -> roster supervisor; at most one way up
    from each): cycles, supervisors not on the roster, and chains whose top may not act
    independently anywhere. Each chain's top is found for all staff at once by pointer
    jumping; networkx describes the few cycles."""
    import numpy as np

    staff, boss, n = ctx.staff, ctx.boss, len(ctx.boss)
    out = []

    def find(staff_id, explanation):
        out.append({"appointment_id": "", "check": "staff-chain", "severity": "violation",
                    "explanation": explanation, "rule": "", "sources": "", "staff_id": staff_id,
                    "clinic_id": "", "line": None, "_row": -1})

    named = staff.supervisor_id.to_numpy(dtype=object)
    for i in np.flatnonzero((named != "") & (boss < 0)):
        find(ctx.staff_id(i), f"{ctx.staff_id(i)}'s supervisor {named[i]!r} is not on the roster")
    top = np.where(boss >= 0, boss, np.arange(n))
    for _ in range(max(1, int(n).bit_length())):  # after k rounds each points 2**k steps up (or to its top)
        top = top[top]
    endless = (boss[top] >= 0) if n else np.zeros(0, dtype=bool)  # still going up: the chain is a cycle
    if endless.any():
        import networkx as nx  # only to describe cycles (its import is a third of a second)

        on_cycles = np.flatnonzero(endless)
        g = nx.DiGraph((ctx.staff_id(i), ctx.staff_id(boss[i])) for i in on_cycles)
        for cycle in sorted(nx.simple_cycles(g), key=min):
            first = cycle.index(min(cycle))
            cycle = cycle[first:] + cycle[:first]
            find(cycle[0], "supervision cycle: " + " -> ".join([*cycle, cycle[0]]))
    independent: dict = {}
    for t in np.unique(top[(boss >= 0) & ~endless]):
        key = (ctx.role[t], ctx.lic[t])
        if key not in independent:
            independent[key] = ctx.index.independent_somewhere(ctx.iri(key[0]), ctx.iri(key[1]))
        if not independent[key]:
            below = sorted(ctx.staff_id(i) for i in np.flatnonzero(top == t) if i != t)
            find(ctx.staff_id(t), f"the supervision chain of {', '.join(below[:5])}{' ...' if len(below) > 5 else ''} "
                                  f"ends with {ctx.staff_id(t)} ({ctx.label(ctx.iri(ctx.role[t]))}), "
                                  "who may not act independently in any procedure")
    return _frame(out)


def _director_findings(ctx, clin, cjur):
    """Each clinic's medical director is on the roster and may direct a med spa there."""
    md = str(ctx.kb.resolve("medical direction of a med spa", "procedure"))
    who = ctx.sidx.positions(clin.medical_director_id)
    out = []
    columns = (clin[c].tolist() for c in ("clinic_id", "medical_director_id", "line"))
    for clinic, d, line, w, j in zip(*columns, who.tolist(), cjur.tolist()):
        problem, rules = None, []
        if not d:
            problem = f"clinic {clinic} names no medical director"
        elif w < 0:
            problem = f"clinic {clinic}'s medical director {d!r} is not on the roster"
        else:
            rules = ctx.governing(ctx.iri(j), ctx.iri(ctx.role[w]), md)
            if not rules or all(r.permission == "not-permitted" for r in rules):
                problem = (f"clinic {clinic}'s medical director {d} is {_a(ctx.label(ctx.iri(ctx.role[w])))}, "
                           f"who may not direct a med spa in {ctx.code(ctx.iri(j))}")
        if problem:
            out.append({"appointment_id": "", "check": "medical-director", "severity": "violation",
                        "explanation": problem, "rule": " ".join(r.iri for r in rules),
                        "sources": " ".join(ctx.urls(rules)), "staff_id": d if w >= 0 else "",
                        "clinic_id": clinic, "line": line, "_row": -1})
    return _frame(out)


def _a(label: str) -> str:
    """``label`` with its indefinite article: "an esthetician", "a physician"."""
    return ("an " if label[:1].lower() in "aeio" else "a ") + label
