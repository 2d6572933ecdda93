"""Where the curated ontology, data, shapes and queries live."""

from __future__ import annotations

__all__ = ["PACKAGE_DIR", "ontology_dir", "curated_files", "shape_files"]

import os
from pathlib import Path

#: The package folder (``medspa_graph/``): static files, the wheel's prebuilt graph.
PACKAGE_DIR = Path(__file__).resolve().parents[1]


def ontology_dir() -> Path:
    """The folder holding ``medspa.ttl``, ``data/``, ``shapes/`` and ``queries/``.

    ``$MEDSPA_GRAPH_ONTOLOGY`` overrides it; otherwise the installed package data,
    which in a source checkout is the repository's ``ontology/`` folder.
    """
    env = os.environ.get("MEDSPA_GRAPH_ONTOLOGY")
    if env:
        return Path(env)
    here = PACKAGE_DIR
    for candidate in (here.parent / "ontology", here / "ontology"):
        if (candidate / "medspa.ttl").is_file():
            return candidate
    from importlib.resources import files

    return Path(str(files("medspa_graph") / "ontology"))


def curated_files(root: Path | None = None) -> list[Path]:
    """The ontology file and every data file, in a stable order."""
    root = root or ontology_dir()
    return [root / "medspa.ttl", *sorted((root / "data").rglob("*.ttl"))]


def shape_files(root: Path | None = None) -> list[Path]:
    """The SHACL shape files."""
    root = root or ontology_dir()
    return sorted((root / "shapes").glob("*.ttl"))
