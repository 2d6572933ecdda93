"""The notebooks as committed: outputs stripped, imports first, nothing installed, each one in the README.

Running them is nbmake's job (``--nbmake`` in ``pyproject.toml``): ``python -m pytest``
executes every notebook in ``notebooks/`` top to bottom and fails on a cell that raises.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def code_cells(path):
    return [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]


def source(cell) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 6


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_stripped(path):
    dirty = [i for i, c in enumerate(code_cells(path)) if c["outputs"] or c["execution_count"] is not None]
    assert not dirty, f"{path.name}: code cells {dirty} carry outputs; strip them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_imports_are_in_the_first_cell(path):
    cells = code_cells(path)
    first = source(cells[0])
    assert re.search(r"^import medspa_graph$", first, re.M), f"{path.name}: import medspa_graph first"
    importing = re.compile(r"^\s*(import|from \S+ import) ", re.M)
    late = [i for i, c in enumerate(cells[1:], 1) if importing.search(source(c))]
    assert not late, f"{path.name}: imports in code cells {late}; keep them in the first cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_nothing_is_installed(path):
    for c in code_cells(path):
        text = source(c)
        assert not re.search(r"^\s*[!%]|pip install|conda install", text, re.M), (path.name, text[:80])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_readme_describes_it(path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"`{path.stem}`" in readme, f"README.md's Notebooks section does not mention {path.stem}"
