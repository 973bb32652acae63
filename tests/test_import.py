"""``import tinyreason`` is light: it pulls in no heavy library (checked in fresh interpreters).

What keeps the import fast (about 0.2 s) is what it loads, which these tests check exactly; the
time itself depends on the machine's load and is measured by ``benchmarks/import_time.py``.
"""

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
import json, sys
before = set(sys.modules)
import tinyreason as tr
packages = {{m.partition(".")[0] for m in set(sys.modules) - before}}
heavy = {heavy!r}
loaded = {{"import": [m for m in heavy if m in sys.modules]}}
if {use!r}:
    tr.plugins()
    tr.available("scaler")
    tr.available("teacher")
    tr.chat_format("qwen-s1")
    loaded["use"] = [m for m in heavy if m in sys.modules]
third_party = sorted(packages - set(sys.stdlib_module_names))
print(json.dumps({{"third_party": third_party, "loaded": loaded}}))
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


def test_import_loads_only_the_standard_library_and_pluggy() -> None:
    # Not a stopwatch (a loaded machine makes any import slow): the property that keeps it fast.
    # Everything else (datasets, SDKs, numpy, yaml...) is imported by the module that needs it.
    third_party = _run(use=False)["third_party"]
    assert third_party == ["pluggy", "tinyreason"], (
        f"import tinyreason loaded {third_party}: import a library inside the function that needs "
        "it (or, if it is light, time it with benchmarks/import_time.py and list it here)"
    )


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
