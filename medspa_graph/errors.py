"""The exceptions medspa-graph raises, and the exit code the CLI gives each."""

from __future__ import annotations

__all__ = [
    "MedspaGraphError",
    "UnreadableInputError",
    "UnwritableOutputError",
    "InvalidDataError",
    "NotALicenceError",
    "UnknownTermError",
    "UnknownJurisdictionError",
    "QueryError",
    "EndpointError",
    "Violation",
    "NoChainError",
    "HttpError",
]

from dataclasses import dataclass

_SHOWN = 80  # characters of a name a person typed that an error message repeats


def _shown(name: str) -> str:
    """``repr(name)``, cut short: a 100,000-character name is not repeated whole in a message.

    >>> _shown("botx")
    "'botx'"
    >>> len(_shown("x" * 10_000)) < 120
    True
    """
    name = str(name)
    return repr(name) if len(name) <= _SHOWN else repr(name[:_SHOWN]) + f"... ({len(name)} characters)"


class MedspaGraphError(Exception):
    """Base class of every error medspa-graph raises on purpose.

    ``exit_code`` is what the CLI exits with; ``str(error)`` is one line.
    """

    exit_code = 2


class UnreadableInputError(MedspaGraphError):
    """A file could not be read or parsed (syntax error, missing file, bad encoding)."""

    exit_code = 2

    def __init__(self, path, reason: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


class UnwritableOutputError(MedspaGraphError):
    """An output file or folder that cannot be written (no such folder, a folder or file in the way, a full disk)."""

    exit_code = 2

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: cannot write: {reason}")


@dataclass(frozen=True)
class Violation:
    """One problem found by validation: the offending node, a message and the file."""

    node: str
    message: str
    file: str = ""
    severity: str = "Violation"

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}{self.node}: {self.message}"


class InvalidDataError(MedspaGraphError):
    """The data parsed but breaks a shape or an integrity check."""

    exit_code = 1

    def __init__(self, violations):
        self.violations = list(violations)
        n = len(self.violations)
        first = str(self.violations[0]) if self.violations else ""
        super().__init__(f"{n} violation{'s' if n != 1 else ''}; first: {first}")


class UnknownTermError(MedspaGraphError, LookupError):
    """A name that resolves to no term, or to more than one."""

    exit_code = 2

    def __init__(self, name: str, kind: str, matches=(), ambiguous: bool = False):
        self.name = name
        self.kind = kind
        self.matches = list(matches)
        if ambiguous:
            msg = f"ambiguous {kind} {_shown(name)}: could be " + ", ".join(self.matches)
        else:
            msg = f"unknown {kind} {_shown(name)}"
            if self.matches:
                msg += "; closest: " + ", ".join(self.matches)
        super().__init__(msg)


class NotALicenceError(UnknownTermError):
    """A role name that is a marketing title, not a licence ("medical esthetician")."""

    exit_code = 2

    def __init__(self, name: str, what: str, licences=()):
        MedspaGraphError.__init__(self, f"{_shown(name)} is {what}")
        self.name, self.kind, self.matches, self.licences = name, "role", list(licences), list(licences)


class UnknownJurisdictionError(MedspaGraphError, LookupError):
    """A jurisdiction code the knowledge base does not know."""

    exit_code = 2

    def __init__(self, code: str, known):
        self.code = code
        self.known = sorted(known)
        super().__init__(f"unknown jurisdiction {_shown(code)}; known: " + ", ".join(self.known))


class QueryError(MedspaGraphError):
    """A SPARQL query that is malformed, refused, or names an unknown query."""

    exit_code = 2


class EndpointError(MedspaGraphError):
    """A remote SPARQL endpoint that cannot be reached or answers with an error."""

    exit_code = 3


class NoChainError(MedspaGraphError):
    """No supervision chain exists; ``status`` says why (not-permitted, no-rule, cycle, no-route)."""

    exit_code = 1

    def __init__(self, status: str, problem: str):
        self.status = status
        super().__init__(problem)


class HttpError(Exception):
    """A request the server answers with an error ``status`` and a one-line ``message``.

    Raised by the server's routes and by the pages it serves (pictures, the map) for what the
    client sent; ``headers`` go out with the answer (``Allow`` for a 405).
    """

    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
