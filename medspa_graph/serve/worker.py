"""A query worker: one child process holding the dataset, run by :mod:`medspa_graph.serve.pool`.

Queries run in child processes so that a runaway query can be stopped (the
process is killed; Oxigraph has no way to cancel a query in flight) and so that
one slow query never blocks other clients. The worker imports only pyoxigraph.

Frames on stdin/stdout are a 4-byte big-endian length and a payload; a request
is one JSON frame, a reply is a JSON header frame and a body frame.

Before it opens the dataset, a worker cuts itself off the network
(:func:`medspa_graph.sparql.fence.install`), so a query that got past the guard still
cannot reach anything, and caps its memory (:func:`medspa_graph.sparql.sandbox.limit_memory`).
Each query runs on a large stack (:func:`medspa_graph.sparql.sandbox.on_engine_stack`).
An error the query caused (syntax, an unknown function, a type error) is a 400;
only the worker's own faults are 500s.

Usage: ``python -m medspa_graph.serve.worker snapshot FILE.nq [MEMORY_BYTES]`` (loaded into
memory) or ``python -m medspa_graph.serve.worker store DIR [MEMORY_BYTES]`` (an Oxigraph
database, read-only).
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
        result = store.query(req["query"], **kwargs)
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
    args = argv or sys.argv[1:]
    kind, path = args[:2]
    memory = int(args[2]) if len(args) > 2 else None
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    from medspa_graph.sparql.fence import install
    from medspa_graph.sparql.sandbox import MEMORY_LIMIT, engine_error, limit_memory, on_engine_stack

    fence = install()  # before the engine exists: nothing it does later can reach the network
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
    limit_memory(MEMORY_LIMIT if memory is None else memory)
    write_frame(out, json.dumps({"ok": True, "ready": True, "fence": fence.describe()}).encode())
    write_frame(out, b"")
    out.flush()
    while True:
        try:
            req = json.loads(read_frame(inp))
        except EOFError:
            return 0
        try:
            header, body = on_engine_stack(handle, ox, store, req)
        except Exception as e:  # the query's own error is a 4xx; anything else the parent logs as a 500
            known = engine_error(e)
            status, error = known if known else (500, f"{type(e).__name__}: {_first_line(e)}")
            header, body = {"ok": False, "status": status, "error": error}, b""
        write_frame(out, json.dumps(header).encode())
        write_frame(out, body)
        out.flush()


if __name__ == "__main__":
    sys.exit(main())
