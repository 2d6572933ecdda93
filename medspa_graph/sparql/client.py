"""The one HTTP client medspa-graph talks to SPARQL servers with: bounded, and careful with secrets.

Every request to a remote endpoint (``--endpoint`` questions, ``push``, engine
detection) goes through :func:`fetch`, which

- bounds the **whole exchange** by ``timeout``: connecting, sending, the status line,
  the headers and the body together. A server that trickles one byte a second is cut
  off when the time is up, not allowed a fresh timeout per read;
- bounds the **answer's size** (:func:`max_answer_bytes`, 256 MiB unless
  ``$MEDSPA_GRAPH_MAX_ANSWER_BYTES`` says otherwise), refusing a declared length over
  it before reading and stopping a longer body at the limit;
- follows a redirect only **within the same origin** (scheme, host and port) and only
  where the method and body survive it; a redirect to another host is refused, so the
  query and the credentials never go there;
- never puts a password in a message: :func:`check_url` refuses URLs that carry a user
  name or password (credentials come from the environment), and :func:`redact` hides
  one wherever a URL is shown.
"""

from __future__ import annotations

__all__ = ["fetch", "Response", "NoAnswer", "check_url", "redact", "max_answer_bytes", "MAX_ANSWER_BYTES"]

import http.client
import os
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit

from medspa_graph.errors import EndpointError

#: The largest answer read from an endpoint (256 MiB); ``$MEDSPA_GRAPH_MAX_ANSWER_BYTES`` changes it.
MAX_ANSWER_BYTES = 256 << 20
_REDIRECTS = 5


def max_answer_bytes() -> int:
    """The limit in force: ``$MEDSPA_GRAPH_MAX_ANSWER_BYTES`` if a positive whole number, else 256 MiB."""
    value = os.environ.get("MEDSPA_GRAPH_MAX_ANSWER_BYTES", "")
    return int(value) if value.isdigit() and int(value) > 0 else MAX_ANSWER_BYTES


class NoAnswer(EndpointError):
    """A request that got no whole answer: refused, cut off, too slow or too large. Its effect is unknown."""


@dataclass
class Response:
    """A whole answer: status, reason, headers (case-insensitive) and body."""

    status: int
    reason: str
    headers: http.client.HTTPMessage
    body: bytes
    url: str


def redact(url: str) -> str:
    """``url`` with any password in it replaced by ``***``.

    >>> redact("http://alice:s3cr3tPW@example.org:8890/sparql?x=1")
    'http://alice:***@example.org:8890/sparql?x=1'
    >>> redact("http://example.org/sparql")
    'http://example.org/sparql'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(a malformed URL)"
    if parts.password is None and "@" not in parts.netloc:
        return url
    user, _, host = parts.netloc.rpartition("@")
    user = user.split(":", 1)[0] + (":***" if ":" in user else "")
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, parts.fragment))


def check_url(url: str, what: str = "endpoint URL") -> str:
    """``url`` if it is an ``http(s)://`` URL without credentials in it; else :class:`EndpointError`.

    >>> check_url("http://alice:pw@example.org/sparql")
    Traceback (most recent call last):
    ...
    medspa_graph.errors.EndpointError: endpoint URL http://alice:***@example.org/sparql carries a user name or password; set MEDSPA_GRAPH_ENDPOINT_USER and MEDSPA_GRAPH_ENDPOINT_PASSWORD (or _TOKEN) instead
    """
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise EndpointError(f"{what} {redact(url)!r} is malformed") from None
    if parts.scheme not in ("http", "https"):
        raise EndpointError(f"{what} must start with http:// or https://: {redact(url)!r}")
    if "@" in parts.netloc:
        raise EndpointError(f"{what} {redact(url)} carries a user name or password; set "
                            "MEDSPA_GRAPH_ENDPOINT_USER and MEDSPA_GRAPH_ENDPOINT_PASSWORD (or _TOKEN) instead")
    if not parts.hostname:
        raise EndpointError(f"{what} {redact(url)!r} names no host")
    return url


def _origin(url: str) -> tuple:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or (443 if parts.scheme == "https" else 80)


def fetch(method: str, url: str, *, body: bytes | None = None, headers: dict | None = None,
          timeout: float, max_bytes: int | None = None, name: str | None = None) -> Response:
    """Send one request and return the whole answer, whatever its status (see the module doc).

    ``name`` is how messages call the server (default: the URL, any password hidden).

    Raises
    ------
    NoAnswer
        Nothing whole came back within ``timeout`` seconds (all of the exchange), the
        connection failed or was cut, or the answer is larger than ``max_bytes``.
    EndpointError
        A redirect to another origin, or one that would change the method; the URL is malformed.
    """
    limit = max_answer_bytes() if max_bytes is None else max_bytes
    deadline = time.monotonic() + timeout
    check_url(url)
    start = url
    for _ in range(_REDIRECTS + 1):
        resp = _once(method, url, body, headers or {}, deadline, timeout, limit,
                     name if url == start and name else redact(url))
        location = resp.headers.get("Location")
        if resp.status not in (301, 302, 303, 307, 308) or not location:
            return resp
        target = urljoin(url, location)
        if _origin(target) != _origin(start):
            raise EndpointError(f"{redact(url)} redirected to another host ({redact(target)[:200]}); not followed, "
                                "so neither the request nor credentials went there: use that URL if you trust it")
        if resp.status in (301, 302, 303) and method not in ("GET", "HEAD"):
            raise EndpointError(f"{redact(url)} answered HTTP {resp.status}, a redirect that would drop the "
                                f"{method} body; use {redact(target)[:200]} as the URL")
        url = target
    raise EndpointError(f"{redact(start)} redirected more than {_REDIRECTS} times")


def _once(method, url, body, headers, deadline, timeout, limit, shown) -> Response:
    parts = urlsplit(url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise NoAnswer(f"no answer from {shown} within {timeout:g} s")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=remaining)
    try:  # the host-name lookup counts against the same time as the rest of the exchange
        infos = _lookup(conn.host, conn.port, remaining)
    except TimeoutError:
        raise NoAnswer(f"no answer from {shown} within {timeout:g} s (the host-name lookup did not finish)") from None
    except OSError as e:
        raise NoAnswer(_unreachable(shown, e)) from None
    conn._create_connection = lambda address, t=None, source=None: _connect(infos, t)
    remaining = deadline - time.monotonic()
    cut = threading.Event()

    def stop():  # the whole exchange is over time: wake whatever read or write is waiting
        cut.set()
        sock = conn.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(remaining, stop)
    watchdog.daemon = True
    watchdog.start()
    try:
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        conn.request(method, target, body=body, headers={**headers, "Connection": "close"})  # one request each
        r = conn.getresponse()
        declared = r.getheader("Content-Length")
        if declared and declared.strip().isdigit() and int(declared) > limit:
            raise NoAnswer(f"the answer from {shown} is {int(declared)} bytes, over the {limit}-byte limit "
                           "(MEDSPA_GRAPH_MAX_ANSWER_BYTES)")
        data = r.read(limit + 1)
        if len(data) > limit:
            raise NoAnswer(f"the answer from {shown} is over the {limit}-byte limit (MEDSPA_GRAPH_MAX_ANSWER_BYTES)")
        if cut.is_set():
            raise TimeoutError()
        return Response(r.status, r.reason, r.headers, data, url)
    except NoAnswer:
        raise
    except (OSError, http.client.HTTPException, ValueError) as e:
        if cut.is_set() or isinstance(e, TimeoutError):
            raise NoAnswer(f"no answer from {shown} within {timeout:g} s") from None
        raise NoAnswer(_unreachable(shown, e)) from None
    finally:
        watchdog.cancel()
        conn.close()


def _lookup(host: str, port: int, seconds: float) -> list:
    """``socket.getaddrinfo`` waited for at most ``seconds``.

    The C resolver takes no timeout and cannot be interrupted, so it runs in a daemon thread that
    is abandoned (it ends on its own) when the time is up; raises ``TimeoutError`` then.
    """
    found: dict = {}

    def work():
        try:
            found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:
            found["error"] = e if isinstance(e, OSError) else OSError(str(e))

    t = threading.Thread(target=work, name="medspa-graph-lookup", daemon=True)
    t.start()
    t.join(max(seconds, 0))
    if t.is_alive():
        raise TimeoutError(host)
    if "error" in found:
        raise found["error"]
    return found["infos"]


def _connect(infos: list, timeout: float | None) -> socket.socket:
    """Connect to the first address of ``infos`` that answers (as ``socket.create_connection``)."""
    error: OSError | None = None
    for family, kind, proto, _name, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(timeout)
            sock.connect(address)
            return sock
        except OSError as e:
            error = e
            sock.close()
    raise error or OSError("the host name has no address")


def _unreachable(shown: str, error: BaseException) -> str:
    """One line for a request that got no whole answer.

    >>> _unreachable("http://127.0.0.1:9/query", http.client.IncompleteRead(b"x", 10))
    'cannot reach http://127.0.0.1:9/query: the connection closed in the middle of the answer'
    """
    if isinstance(error, http.client.IncompleteRead):
        reason = "the connection closed in the middle of the answer"
    elif isinstance(error, http.client.RemoteDisconnected):
        reason = "the server closed the connection without answering"
    else:
        reason = str(error) or type(error).__name__
    return f"cannot reach {shown}: {reason}"
