"""The package's version: read once from the installed distribution's metadata.

``pyproject.toml`` is the one place the version is written; modules that key caches on it import
:func:`package_version` from here rather than from the package itself, so that no module imports
the package that imports it.
"""

from __future__ import annotations

__all__ = ["package_version"]

from functools import cache


@cache
def package_version() -> str:
    """The installed distribution's version (``0+unknown`` for a source tree never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("medspa-graph")
    except PackageNotFoundError:
        return "0+unknown"
