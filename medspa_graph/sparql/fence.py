"""An operating-system fence around query execution: no network, whatever the query says.

The SPARQL guard (:mod:`medspa_graph.sparql.guard`) refuses ``SERVICE`` and ``LOAD`` before a
query reaches the engine, but a guard is a parser, and a parser can disagree with the
engine it protects. This module is the barrier that does not depend on parsing: a
process that calls :func:`install` can no longer open a network connection.

On Linux it applies two independent layers, each where the kernel allows it:

- a private **network namespace** (``unshare(CLONE_NEWNET)``, with a user namespace
  when the process is not privileged): the process sees only a loopback interface
  of its own that is down, so no address on the machine or beyond is reachable;
- a **seccomp** filter that makes ``socket()`` fail with ``EACCES`` for every address
  family except ``AF_UNIX`` (and ``io_uring_setup``, which could open sockets past it),
  so even a namespace that could not be made leaves no way to connect.

It must be installed in a process with one thread (a freshly forked child, or a worker
before it starts the engine), since the kernel applies both to the calling thread and
what it starts afterwards. Elsewhere (macOS, Windows) nothing is installed, and the
guard is the only barrier; :func:`install` says which layers hold.
"""

from __future__ import annotations

__all__ = ["install", "FenceStatus", "last_status"]

import ctypes
import ctypes.util
import os
import platform
import struct
import sys
from dataclasses import dataclass

_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000

# seccomp and BPF constants (linux/seccomp.h, linux/filter.h, linux/audit.h)
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000
_EACCES = 13
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
_AF_UNIX = 1

# per architecture: (AUDIT_ARCH value, socket syscall number, io_uring_setup number)
_ARCHES = {
    "x86_64": (0xC000003E, 41, 425),
    "aarch64": (0xC00000B7, 198, 425),
}


@dataclass(frozen=True)
class FenceStatus:
    """Which layers of the fence hold in this process."""

    namespace: bool
    seccomp: bool
    reason: str = ""

    @property
    def active(self) -> bool:
        """True when at least one layer keeps the process off the network."""
        return self.namespace or self.seccomp

    def describe(self) -> str:
        layers = [n for n, on in (("network namespace", self.namespace), ("seccomp socket filter", self.seccomp))
                  if on]
        return " + ".join(layers) if layers else f"none ({self.reason or 'not supported here'})"


_status: FenceStatus | None = None


def last_status() -> FenceStatus | None:
    """The status of the last :func:`install` in this process, or None if it never ran."""
    return _status


def _libc():
    name = ctypes.util.find_library("c") or "libc.so.6"
    return ctypes.CDLL(name, use_errno=True)


def _unshare_network(libc) -> bool:
    for flags in (_CLONE_NEWNET, _CLONE_NEWUSER | _CLONE_NEWNET):
        if libc.unshare(flags) == 0:
            return True
    return False


#: What a denied call gets: ``EACCES`` (the query fails with an error), or, for the
#: differential tests, the end of the process (a ``SIGSYS`` no ``SILENT`` can swallow).
_DENY = {"error": _RET_ERRNO | _EACCES, "kill": 0x80000000}


def _filter_program(arch: int, sys_socket: int, sys_uring: int, deny: int = _DENY["error"]) -> bytes:
    def stmt(code, k, jt=0, jf=0):
        return struct.pack("HBBI", code, jt, jf, k)

    prog = [
        stmt(_LD_W_ABS, 4),                   # 0: A = arch
        stmt(_JEQ_K, arch, 1, 0),             # 1: native arch? skip the deny
        stmt(_RET_K, deny),                   # 2: another ABI (i386 socketcall, ...): refuse the call
        stmt(_LD_W_ABS, 0),                   # 3: A = syscall number
        stmt(_JGE_K, 0x40000000, 0, 1),       # 4: the x32 ABI's numbers
        stmt(_RET_K, deny),                   # 5
        stmt(_JEQ_K, sys_uring, 0, 1),        # 6: io_uring could open sockets outside this filter
        stmt(_RET_K, deny),                   # 7
        stmt(_JEQ_K, sys_socket, 1, 0),       # 8: socket(): look at the family
        stmt(_RET_K, _RET_ALLOW),             # 9: anything else is allowed
        stmt(_LD_W_ABS, 16),                  # 10: A = low word of args[0], the address family
        stmt(_JEQ_K, _AF_UNIX, 0, 1),         # 11
        stmt(_RET_K, _RET_ALLOW),             # 12: AF_UNIX stays open (no network)
        stmt(_RET_K, deny),                   # 13: AF_INET, AF_INET6, AF_PACKET, AF_NETLINK, ...
    ]
    return b"".join(prog)


def _seccomp(libc, on_deny: str = "error") -> bool:
    arch = _ARCHES.get(platform.machine())
    if arch is None or sys.byteorder != "little":
        return False
    code = _filter_program(*arch, _DENY[on_deny])
    buf = ctypes.create_string_buffer(code, len(code))

    class _Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = _Prog(len(code) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) == 0


def install() -> FenceStatus:
    """Cut this process off the network for the rest of its life; return which layers hold.

    Call it in a process that runs untrusted SPARQL and nothing else (a query worker,
    a forked child). It cannot be undone.
    """
    global _status
    if not sys.platform.startswith("linux"):
        _status = FenceStatus(False, False, f"no fence on {sys.platform}")
        return _status
    try:
        libc = _libc()
    except OSError as e:
        _status = FenceStatus(False, False, f"libc not found: {e}")
        return _status
    ns = _unshare_network(libc)
    sc = _seccomp(libc)
    reason = "" if ns and sc else os.strerror(ctypes.get_errno() or 1)
    _status = FenceStatus(ns, sc, reason)
    return _status
