"""The documentation site builds with no warning, and every page under docs/ is in its nav.

The build runs ``mkdocs build --strict`` (mkdocs.yml: mkdocstrings renders the API reference from
the docstrings; broken links and anchors and pages left out of the nav are warnings) into a
temporary folder. It is skipped when mkdocs is not installed (``pip install -e ".[dev]"``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
MKDOCS_YML = ROOT / "mkdocs.yml"
DOCS = ROOT / "docs"


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _mkdocs_command() -> list[str]:
    """The mkdocs of this interpreter's environment (the script next to it, or ``-m mkdocs``)."""
    needed = ("mkdocs", "mkdocstrings", "mkdocstrings_handlers.python", "griffe")
    missing = [name for name in needed if not _installed(name)]
    if missing:
        pytest.skip(f"docs tooling not installed ({', '.join(missing)}): pip install -e '.[dev]'")
    script = Path(sys.executable).parent / "mkdocs"
    return [str(script)] if script.exists() else [sys.executable, "-m", "mkdocs"]


def _nav_pages(nav: Any) -> Iterator[str]:
    """Every page path in a mkdocs nav (nested lists and ``{title: page}`` mappings)."""
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for item in nav:
            yield from _nav_pages(item)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_pages(value)


def _nav() -> list[str]:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load(MKDOCS_YML.read_text(encoding="utf-8"))
    return [p for p in _nav_pages(config["nav"]) if "://" not in p]


def test_docs_build_strict_without_warnings(tmp_path: Path) -> None:
    command = [
        *_mkdocs_command(),
        "build",
        "--strict",  # not -q: mkdocs 1.6 then drops warnings before strict mode can count them
        "--config-file",
        str(MKDOCS_YML),
        "--site-dir",
        str(tmp_path / "site"),
    ]
    result = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )
    output = result.stdout + result.stderr
    warnings = [line for line in output.splitlines() if "WARNING" in line]
    assert result.returncode == 0, f"mkdocs build failed:\n{output}"
    assert not warnings, "mkdocs build warned:\n" + "\n".join(warnings)
    for page in ("index.html", "training/index.html", "api/training/index.html"):
        assert (tmp_path / "site" / page).is_file(), f"{page} was not built"


def test_every_docs_page_is_in_the_nav() -> None:
    nav = _nav()
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    orphans = sorted(pages - set(nav))
    assert not orphans, f"pages under docs/ missing from the nav in mkdocs.yml: {orphans}"
    dangling = sorted(set(nav) - pages)
    assert not dangling, f"nav entries in mkdocs.yml with no page under docs/: {dangling}"


def test_griffe_extension_renders_example_sections_and_roles() -> None:
    spec = importlib.util.spec_from_file_location(
        "griffe_docstrings", DOCS / "_ext" / "griffe_docstrings.py"
    )
    if not _installed("griffe"):
        pytest.skip("griffe is not installed: pip install -e '.[dev]'")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = "Sum.\n\nExample:\n    >>> 1 + 1\n    2\n\nSee :class:`~tinyreason.records.Problem`."
    assert module.rewrite(text) == ("Sum.\n\nExamples:\n    >>> 1 + 1\n    2\n\nSee `Problem`.")
    assert module.rewrite(":func:`tinyreason.select`") == "`tinyreason.select`"
