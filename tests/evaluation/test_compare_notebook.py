"""The comparison notebook (examples/compare-methods.ipynb) executes, and shows a row per method."""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "compare-methods.ipynb"
METHODS = ("BF", "TCC", "TCC+BF", "SCC", "SCC+BF", "CCC", "RS")


def test_the_notebook_code_compiles() -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    for i, cell in enumerate(c for c in notebook["cells"] if c["cell_type"] == "code"):
        ast.parse("".join(cell["source"]), filename=f"{NOTEBOOK}[cell {i}]")


@pytest.mark.timeout(600)
def test_the_notebook_runs_and_its_table_has_a_row_per_method(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel is started as "python": make that this interpreter (the venv's).
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("TINYREASON_STUDENT", raising=False)  # the notebook's own tiny student
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any failure
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    texts = [str(o.get("data", {}).get("text/plain", "")) for o in outputs]
    [table] = [t for t in texts if t.startswith("Comparison: arithmetic (7 methods")]
    rows = [line.split()[0] for line in table.splitlines()[2:-1]]
    assert rows == list(METHODS)
    for method in METHODS:  # Control, then Performance, as percentages
        assert re.search(rf"^{re.escape(method)}\s+\d+\.\d%", table, re.M), method
    html = [str(o.get("data", {}).get("text/html", "")) for o in outputs]
    assert any(h.count("<tr>") == 8 for h in html)  # the header and the seven methods
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot
    [sweep] = [t for t in texts if t.startswith("Comparison: arithmetic (4 methods")]
    assert [line.split()[0] for line in sweep.splitlines()[2:-1]] == [
        "Wait",
        "Hmm",
        "Alternatively",
        "none",
    ]
