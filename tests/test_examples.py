"""The examples run: the offline quickstart notebook executes; the others at least compile."""

import ast
import json
import os
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _code_cells(path: Path) -> list[str]:
    notebook = json.loads(path.read_text())
    return ["".join(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("name", ["quickstart.ipynb", "s1_reproduction.ipynb"])
def test_notebook_code_compiles(name: str) -> None:
    for i, source in enumerate(_code_cells(EXAMPLES / name)):
        ast.parse(source, filename=f"{name}[cell {i}]")


def test_example_scripts_compile() -> None:
    for path in EXAMPLES.rglob("*.py"):
        ast.parse(path.read_text(), filename=str(path))


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_quickstart_notebook_executes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel is started as "python": make that this interpreter (the venv's) in CI too.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failure
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "Report: arithmetic" in text and "Selection: kept 300 rows" in text
    assert "Preflight" in text  # the preflight report cell
