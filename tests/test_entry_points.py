"""Third-party plugins found through the ``tinyreason`` entry-point group, for real.

The fixture packages in ``fixtures/plugins/`` are built and pip-installed into the current virtual
environment (offline: ``--no-index --no-build-isolation``, from a copy in a temporary folder so no
``build/`` lands in tests/), checked from fresh interpreters, and always uninstalled afterwards.

* ``tinyreason-hello``: a working plugin (teacher ``hello``, student format ``hello-tags``).
* ``tinyreason-broken``: its module raises at import; its entry point ``exits`` calls
  ``sys.exit`` at import.
* ``tinyreason-badhook``: entry point ``badhook``'s register_scalers raises; entry point
  ``misspelt`` implements ``register_teacher`` (no s).
* ``tinyreason-example`` (``examples/plugin-package``): the example users copy, a teacher and a
  scaler.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "plugins"
PACKAGES = ("tinyreason-hello", "tinyreason-broken", "tinyreason-badhook")
# The documented example package users copy (examples/plugin-package): it must install and work.
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin-package"
MODULES = ("tinyreason_hello", "tinyreason_broken", "tinyreason_exits", "tinyreason_badhook")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # pip install + uninstall: ~12 s


@contextlib.contextmanager
def _install_lock() -> Iterator[None]:
    """Serialise test runs that share this venv, so one's uninstall can't pull the rug."""
    try:
        import fcntl
    except ImportError:  # not POSIX: run unlocked
        yield
        return
    with open(Path(tempfile.gettempdir()) / "tinyreason-test-plugins.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"],
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if sys.prefix == sys.base_prefix:
        pytest.skip("not in a virtual environment: refusing to pip install test fixtures")
    try:
        import setuptools  # noqa: F401  # the fixtures' build backend, used without isolation
    except ImportError:
        pytest.skip("setuptools is not installed here; pip install setuptools to run this")
    build = tmp_path_factory.mktemp("plugins")
    paths = [str(shutil.copytree(FIXTURES / name, build / name)) for name in PACKAGES]
    paths.append(str(shutil.copytree(EXAMPLE, build / "tinyreason-example")))
    with _install_lock():
        try:
            done = _pip("install", "--no-deps", "--no-build-isolation", "--no-index", *paths)
            if done.returncode != 0:
                pytest.fail(
                    f"pip install of the fixture plugins failed:\n{done.stdout}{done.stderr}"
                )
            yield
        finally:
            undone = _pip("uninstall", "-y", *PACKAGES, "tinyreason-example")
            assert undone.returncode == 0, undone.stderr


_PROBE = """
import json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as at_import:
    warnings.simplefilter("always")
    import tinyreason as tr
result = {"import_warnings": [str(w.message) for w in at_import],
          "lazy": [m for m in MODULES if m in sys.modules]}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        teacher = tr.teacher("hello", greeting="hi")
        result["hello"] = type(teacher).__name__
        if DISTILL:  # imports datasets (2 s): only where it is the point
            ds = teacher.distill([tr.Problem("p1", "What is 6 * 7?", answer="42")])
            result["hello"] = [ds[0]["thinking_trajectories"], ds[0]["attempt"], ds[0]["teacher"]]
        result["hello_tags"] = tr.chat_format("hello-tags").think_end
    except tr.UnknownPluginError as err:
        result["hello"] = "unknown: " + str(err)
    tr.plugins(); tr.available("scaler")  # again: nothing loads or warns twice
result["warnings"] = [[w.category.__name__, str(w.message)] for w in caught]
result["plugins"] = {p.name: {"status": p.status, "distribution": p.distribution,
                              "error": p.error, "provides": p.provides} for p in tr.plugins()}
result["students"] = tr.available("student")
result["qwen"] = tr.chat_format("qwen-s1").name
print(json.dumps(result))
"""


def _probe(tmp_path: Path, load: str | None, distill: bool = False) -> dict[str, Any]:
    """Run the probe in a fresh interpreter with TINYREASON_LOAD_PLUGINS=load (None: unset)."""
    env = os.environ.copy()
    env.pop("TINYREASON_LOAD_PLUGINS", None)
    env.pop("TINYREASON_TRACE_PLUGINS", None)
    if load is not None:
        env["TINYREASON_LOAD_PLUGINS"] = load
    script = f"MODULES = {MODULES!r}\nDISTILL = {distill!r}\n" + textwrap.dedent(_PROBE)
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.usefixtures("installed")
def test_plugin_found_through_its_entry_point_and_broken_ones_isolated(tmp_path: Path) -> None:
    result = _probe(tmp_path, load=None, distill=True)
    # import tinyreason loads no plugin and warns about nothing: loading is lazy.
    assert result["import_warnings"] == []
    assert result["lazy"] == []
    # The working plugin works, through its entry point...
    assert result["hello"] == [["hi, What is 6 * 7?"], "42", "hello"]
    assert result["hello_tags"] == "</hello>"
    plugins = result["plugins"]
    assert plugins["hello"] == {
        "status": "loaded",
        "distribution": "tinyreason-hello",
        "error": None,
        "provides": {"teacher": ["hello"], "student": ["hello-tags"]},
    }
    # ...while the broken one is reported by name, with its error.
    assert plugins["broken"]["status"] == "failed"
    assert plugins["broken"]["distribution"] == "tinyreason-broken"
    assert "RuntimeError: tinyreason-broken fixture" in plugins["broken"]["error"]
    # sys.exit at import is a broken plugin like any other: reported by name, nothing ends.
    assert plugins["exits"]["status"] == "failed"
    assert "SystemExit: tinyreason-broken fixture" in plugins["exits"]["error"]
    assert plugins["badhook"]["status"] == "partial"
    assert "register_scalers raised RuntimeError" in plugins["badhook"]["error"]
    assert plugins["misspelt"]["status"] == "failed"
    assert "register_teacher" in plugins["misspelt"]["error"]
    # One PluginWarning per bad plugin, naming it and its distribution, and only once.
    messages = [m for category, m in result["warnings"] if category == "PluginWarning"]
    assert len(messages) == 4, messages
    assert any("'broken' (from tinyreason-broken)" in m and "RuntimeError" in m for m in messages)
    assert any("'exits' (from tinyreason-broken)" in m and "SystemExit" in m for m in messages)
    assert any("'badhook' (from tinyreason-badhook)" in m for m in messages)
    assert any("'misspelt' (from tinyreason-badhook)" in m for m in messages)
    # Everything else is untouched: built-ins and the bad plugin's working hook.
    assert result["qwen"] == "qwen-s1"
    assert {"qwen-s1", "think-tags", "hello-tags", "badhook-tags"} <= set(result["students"])


@pytest.mark.usefixtures("installed")
@pytest.mark.parametrize("load", ["hello", "tinyreason-hello", " hello , nothing-else "])
def test_load_plugins_selects_by_entry_point_or_distribution(tmp_path: Path, load: str) -> None:
    result = _probe(tmp_path, load=load)
    assert result["warnings"] == []
    assert result["hello"] == "HelloTeacher"
    statuses = {name: info["status"] for name, info in result["plugins"].items()}
    assert statuses["hello"] == "loaded"
    assert statuses["broken"] == statuses["badhook"] == statuses["misspelt"] == "skipped"
    assert "badhook-tags" not in result["students"]


@pytest.mark.usefixtures("installed")
def test_load_plugins_empty_loads_none(tmp_path: Path) -> None:
    result = _probe(tmp_path, load="")
    assert result["warnings"] == []
    assert result["hello"].startswith("unknown: unknown teacher 'hello'")
    statuses = {name: info["status"] for name, info in result["plugins"].items()}
    assert statuses.pop("tinyreason.builtins") == "builtin"
    assert set(statuses.values()) == {"skipped"}
    assert {"hello", "broken", "badhook", "misspelt"} <= set(statuses)
    assert result["qwen"] == "qwen-s1"


_EXAMPLE_PROBE = """
import json
import tinyreason as tr
teacher = tr.teacher("echo-teacher", note="checked")
ds = teacher.distill([tr.Problem("p1", "1+1?", answer="2")])
scaler = tr.scaler("self-consistency", n=4, max_thinking=64)
info = next(p for p in tr.plugins() if p.name == "example")
print(json.dumps({"attempt": ds[0]["attempt"], "thinking": ds[0]["thinking_trajectories"],
                  "scaler": isinstance(scaler, tr.TestTimeScaler), "n": scaler.n,
                  "status": info.status, "provides": info.provides}))
"""


@pytest.mark.usefixtures("installed")
def test_the_documented_example_plugin_installs_and_is_discovered(tmp_path: Path) -> None:
    env = os.environ.copy()
    env.pop("TINYREASON_LOAD_PLUGINS", None)
    done = subprocess.run(
        [sys.executable, "-c", _EXAMPLE_PROBE],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {
        "attempt": "Answer: 2",
        "thinking": ["checked"],
        "scaler": True,
        "n": 4,
        "status": "loaded",
        "provides": {"teacher": ["echo-teacher"], "scaler": ["self-consistency"]},
    }
