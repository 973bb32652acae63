"""The contract type-checks strictly: records, interfaces, the plugin manager and its hooks, the
errors, ``tr.evaluate`` (the stage every plugin kind meets), the answers and student formats every
stage shares, and what the provider teachers share.

A plugin author reads these files to write a plugin; ``mypy --strict`` keeps their types honest
(``py.typed`` promises them to every user's type checker).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tinyreason"
STRICT = [
    "interfaces.py",
    "records",
    "registry.py",
    "errors.py",
    "artifacts.py",
    "hookspecs.py",
    "answers",
    "students",
    "evaluation/evaluate.py",
    "evaluation/fingerprint.py",
    "evaluation/manifest.py",
    "evaluation/report.py",
    "evaluation/report_files.py",
    "evaluation/report_views.py",
    "evaluation/resolve.py",
    "evaluation/results_log.py",
    "evaluation/run_dir.py",
    "evaluation/scaler_setup.py",
    "evaluation/solution_json.py",
    "evaluation/solving.py",
    "teachers/messages.py",
]


def test_the_contract_is_strictly_typed(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--follow-imports=silent",
            "--ignore-missing-imports",
            "--cache-dir",
            str(tmp_path / "cache"),
            *(str(SRC / f) for f in STRICT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
