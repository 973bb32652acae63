"""``import tinyreason`` is fast and pulls in no heavy library (checked in fresh interpreters)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "openai",
    "anthropic",
    "google.genai",
    "sentence_transformers",
    "math_verify",
)

_SCRIPT = """
import json, sys, time
start = time.perf_counter()
import tinyreason as tr
seconds = time.perf_counter() - start
heavy = {heavy!r}
loaded = {{"import": [m for m in heavy if m in sys.modules]}}
if {use!r}:
    tr.plugins()
    tr.available("scaler")
    tr.available("teacher")
    tr.chat_format("qwen-s1")
    loaded["use"] = [m for m in heavy if m in sys.modules]
print(json.dumps({{"seconds": seconds, "loaded": loaded}}))
"""


def _run(use: bool) -> dict:
    # The environment from conftest.py: third-party entry points stay off, so a plugin that some
    # developer installed (and that may import torch) cannot fail this test of tinyreason itself.
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(heavy=HEAVY, use=use)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_is_under_one_second() -> None:
    # The best of three: one slow run on a loaded 2-core machine says nothing about the import.
    best = min(_run(use=False)["seconds"] for _ in range(3))
    assert best < 1.0, f"import tinyreason took {best:.2f} s"


def test_import_and_plugin_lookup_load_no_heavy_library() -> None:
    loaded = _run(use=True)["loaded"]
    assert loaded["import"] == [], f"import tinyreason loaded {loaded['import']}"
    assert loaded["use"] == [], (
        f"tr.plugins() / tr.available() / tr.chat_format() loaded {loaded['use']}"
    )


def test_testing_package_import_is_light() -> None:
    script = (
        "import sys; import tinyreason.testing as t; t.FakeTeacher; "
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
