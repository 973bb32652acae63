"""Every plugin hook is documented in docs/plugins.md, with its signature (as datasette checks)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from tinyreason import hookspecs

PLUGINS_MD = Path(__file__).resolve().parent.parent / "docs" / "plugins.md"


def _plugins_doc() -> str:
    assert PLUGINS_MD.exists(), f"{PLUGINS_MD} is missing: document the plugin hooks there"
    return PLUGINS_MD.read_text(encoding="utf-8")


def _headings(markdown: str) -> set[str]:
    return {m.group(1).strip().strip("`") for m in re.finditer(r"^#+\s+(.*)$", markdown, re.M)}


@pytest.mark.parametrize("hook", list(hookspecs.HOOKS.values()))
def test_hook_is_documented_with_its_signature(hook: str) -> None:
    plugins_doc = _plugins_doc()
    args = ", ".join(inspect.signature(getattr(hookspecs, hook)).parameters)
    signature = f"{hook}({args})"
    assert signature in plugins_doc, f"docs/plugins.md does not show {signature}"
    assert any(hook in heading for heading in _headings(plugins_doc)), (
        f"docs/plugins.md has no heading for {hook}"
    )


def test_every_hookspec_is_in_hooks() -> None:
    specs = {name for name in dir(hookspecs) if name.startswith("register_")}
    assert specs == set(hookspecs.HOOKS.values())
