"""A query worker: one child process holding the dataset, run by :mod:`medspa_graph.pool`.

Queries run in child processes so that a runaway query can be stopped (the
process is killed; Oxigraph has no way to cancel a query in flight) and so that
one slow query never blocks other clients. The worker imports only pyoxigraph.

Frames on stdin/stdout are a 4-byte big-endian length and a payload; a request
is one JSON frame, a reply is a JSON header frame and a body frame.

Usage: ``python -m medspa_graph.worker snapshot FILE.nq`` (loaded into memory)
or ``python -m medspa_graph.worker store DIR`` (an Oxigraph database, read-only).
"""

from __future__ import annotations

import json
import struct
import sys

_LEN = struct.Struct(">I")


def write_frame(stream, data: bytes) -> None:
    stream.write(_LEN.pack(len(data)))
    stream.write(data)


def read_frame(stream) -> bytes:
    head = stream.read(4)
    if len(head) < 4:
        raise EOFError("worker pipe closed")
    (n,) = _LEN.unpack(head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError("worker pipe closed mid-frame")
    return data


class _TooLarge(Exception):
    pass


class _Capped:
    """A binary sink that refuses to grow past ``cap`` bytes."""

    def __init__(self, cap: int):
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self.over = False

    def write(self, data) -> int:
        self.size += len(data)
        if self.size > self.cap:
            self.over = True
            raise _TooLarge()
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass


def _graph_terms(ox, iris):
    return [ox.DefaultGraph() if i == "" else ox.NamedNode(i) for i in iris]


def handle(ox, store, req: dict) -> tuple[dict, bytes]:
    op = req.get("op")
    if op == "query":
        kwargs = {"base_iri": req.get("base") or None}
        if req.get("default_graph") is not None:
            kwargs["default_graph"] = _graph_terms(ox, req["default_graph"])
        if req.get("named_graphs") is not None:
            kwargs["named_graphs"] = [ox.NamedNode(i) for i in req["named_graphs"]]
        try:
            result = store.query(req["query"], **kwargs)
        except SyntaxError as e:
            return {"ok": False, "status": 400, "error": "SPARQL syntax error: " + _first_line(e)}, b""
        if isinstance(result, ox.QueryTriples):
            fmt = ox.RdfFormat.from_media_type(req["accept"])
        else:
            fmt = ox.QueryResultsFormat.from_media_type(req["accept"])
        if fmt is None:
            return {"ok": False, "status": 406, "error": f"cannot serialise this result as {req['accept']}"}, b""
        sink = _Capped(int(req.get("max_bytes") or 1 << 62))
        try:
            result.serialize(sink, fmt)
        except BaseException:
            if sink.over:
                return {"ok": False, "status": 413,
                        "error": f"result larger than {sink.cap} bytes; add LIMIT or narrow the query"}, b""
            raise
        return {"ok": True, "media_type": req["accept"]}, b"".join(sink.parts)
    if op == "update":
        try:
            store.update(req["update"], base_iri=req.get("base") or None)
        except SyntaxError as e:
            return {"ok": False, "status": 400, "error": "SPARQL update syntax error: " + _first_line(e)}, b""
        return {"ok": True}, b""
    if op == "dump":
        store.dump(req["path"], format=ox.RdfFormat.N_QUADS)
        return {"ok": True}, b""
    if op == "info":
        return {"ok": True, "triples": len(store), "graphs": sorted(g.value for g in store.named_graphs()
                                                                     if isinstance(g, ox.NamedNode))}, b""
    return {"ok": False, "status": 400, "error": f"unknown operation {op!r}"}, b""


def _first_line(e) -> str:
    s = str(e).strip()
    return s.splitlines()[0] if s else type(e).__name__


def main(argv=None) -> int:
    import signal

    import pyoxigraph as ox

    # Ctrl-C in a terminal reaches the whole process group; the server stops its workers itself
    # (it closes their pipes), so a worker ignores it rather than print a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    kind, path = (argv or sys.argv[1:])[:2]
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    try:
        if kind == "store":
            store = ox.Store.read_only(path)
        else:
            store = ox.Store()
            if path:
                store.bulk_load(path=path, format=ox.RdfFormat.N_QUADS)
    except (OSError, SyntaxError, ValueError) as e:
        write_frame(out, json.dumps({"ok": False, "status": 500, "error": _first_line(e)}).encode())
        write_frame(out, b"")
        out.flush()
        return 1
    write_frame(out, json.dumps({"ok": True, "ready": True}).encode())
    write_frame(out, b"")
    out.flush()
    while True:
        try:
            req = json.loads(read_frame(inp))
        except EOFError:
            return 0
        try:
            header, body = handle(ox, store, req)
        except Exception as e:  # reported to the parent, which logs it and answers 500
            header, body = {"ok": False, "status": 500, "error": f"{type(e).__name__}: {_first_line(e)}"}, b""
        write_frame(out, json.dumps(header).encode())
        write_frame(out, body)
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
