"""Names say what a thing is: the getters, the plural names a user tries, no shadowed module.

A plural (``tr.selectors``) is never a listing: ``tr.teachers`` and ``tr.students`` are
subpackages, and a function named like a subpackage is replaced by the module once it is imported
(as ``tr.plugins()`` once hid ``tinyreason.plugins``). A plural that is a subpackage is the
subpackage; every other one raises an ``AttributeError`` saying what to use.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from typing import Any

import pytest

import tinyreason as tr
from tinyreason import registry
from tinyreason.hookspecs import HOOKS

# kind -> (its getter, its plurals: the kind's and the getter's).
KINDS = {kind: registry.GETTERS[kind] for kind in HOOKS}
PLURALS = sorted({p for kind, g in KINDS.items() for p in (f"{kind}s", f"{g}s")})
SUBPACKAGES = {"teachers", "students"}


def test_every_kind_has_a_getter_on_the_package() -> None:
    assert KINDS["student"] == "chat_format"
    for kind, getter in KINDS.items():
        assert callable(getattr(tr, getter)), kind
        assert getter in tr.__all__


def test_the_plurals_users_try_are_all_covered() -> None:
    assert {
        "teachers",
        "selectors",
        "trainers",
        "scalers",
        "students",
        "chat_formats",
        "benchmarks",
        "backends",
        "reward_models",
    } == set(PLURALS)


@pytest.mark.parametrize("plural", sorted(set(PLURALS) - SUBPACKAGES))
def test_a_plural_that_is_not_a_subpackage_says_what_to_use(plural: str) -> None:
    kind = next(k for k, g in KINDS.items() if plural in (f"{k}s", f"{g}s"))
    with pytest.raises(AttributeError) as info:
        getattr(tr, plural)
    message = str(info.value)
    assert message.startswith(f"module 'tinyreason' has no attribute {plural!r}. ")
    assert f"tr.available({kind!r})" in message
    assert f"tr.{KINDS[kind]}(name, **options)" in message
    assert "tr.plugins()" in message
    assert (info.value.name, info.value.obj) == (plural, tr)  # Python's "Did you mean" works
    assert not hasattr(tr, plural)
    # What the message says to use works.
    assert tr.available(kind)
    assert plural not in dir(tr)


@pytest.mark.parametrize("plural", sorted(SUBPACKAGES))
def test_a_plural_that_is_a_subpackage_is_the_subpackage_before_and_after_import(
    plural: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = importlib.import_module(f"tinyreason.{plural}")
    monkeypatch.delattr(tr, plural, raising=False)  # as before anything imported it
    assert getattr(tr, plural) is module  # through the package's lazy __getattr__
    assert plural in dir(tr)


def test_plural_names_in_a_fresh_interpreter() -> None:
    # No stage imported yet: tr.teachers was a bare AttributeError before it was lazy.
    script = (
        "import tinyreason as tr\n"
        "print(tr.teachers.__name__, tr.students.__name__)\n"
        "try:\n"
        "    tr.chat_formats\n"
        "except AttributeError as err:\n"
        "    print(err)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert out[0] == "tinyreason.teachers tinyreason.students"
    assert "tr.available('student')" in out[1] and "tr.chat_format(name, **options)" in out[1]


def test_an_unknown_name_is_still_a_plain_attribute_error() -> None:
    with pytest.raises(AttributeError, match=r"^module 'tinyreason' has no attribute 'nope'$"):
        tr.nope  # noqa: B018


def test_the_plugins_function_is_not_shadowed_by_the_plugin_manager() -> None:
    import tinyreason.registry

    assert tinyreason.registry is registry
    assert callable(tr.plugins) and tr.plugins is registry.plugins
    assert isinstance(tr.plugins(), list)
    with pytest.raises(ModuleNotFoundError, match=r"tinyreason\.plugins"):
        importlib.import_module("tinyreason.plugins")  # renamed: tinyreason.registry


def test_chat_format_messages_name_a_chat_format_and_its_getter() -> None:
    class Plugin:
        @tr.hookimpl
        def register_students(self, register: Any) -> None:
            register("needy", lambda *, tags: tr.students.ThinkFormat("needy", *tags))

    tr.register_plugin(Plugin(), name="needy")
    with pytest.raises(tr.ConfigError) as info:
        tr.chat_format("needy")
    assert str(info.value) == (
        "chat format 'needy' needs the option 'tags': tr.chat_format('needy', tags=...)"
    )
    with pytest.raises(tr.ConfigError, match=r"^chat format 'needy' has no option 'tag' "):
        tr.chat_format("needy", tags=("<a>", "</a>"), tag=1)
