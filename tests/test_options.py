"""One check for option values: every plugin built by name gets it, from its annotations."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.errors import ConfigError
from tinyreason.interfaces import Backend
from tinyreason.options import check_options, check_value


@pytest.mark.parametrize(
    ("value", "annotation", "ok"),
    [
        (1, int, True),
        (True, int, False),  # a bool is not a count
        (1, float, True),
        ("1e-5", float, False),
        (None, int | None, True),
        ("x", int | None, False),
        ("whole", typing.Literal["whole", "remaining"], True),
        ("hole", typing.Literal["whole", "remaining"], False),
        (1, typing.Literal[True], False),  # Literal compares types too: 1 is not True
        (["a"], list[str], True),
        ("a", list[str], False),  # a scalar where a list is wanted
        (["a", 1], list[str], False),
        (("a", "b"), Sequence[str], True),
        ((1, "a"), tuple[int, str], True),
        ((1, 2), tuple[int, str], False),
        ((x for x in "ab"), Iterable[str], True),
        ("ab", Iterable[str], False),
        ({"a": 1}, Mapping[str, int], True),
        ([("a", 1)], Mapping[str, int], False),
        ("runs/x", Path, True),
        (Path("x"), Path, True),
        (3, Path, False),
        (print, typing.Callable[..., object], True),
        (object(), typing.Any, True),
    ],
)
def test_check_value(value: object, annotation: object, ok: bool) -> None:
    assert (check_value(value, annotation, "x") is None) is ok


def test_a_plain_function_where_a_plugin_object_is_wanted() -> None:
    def generate(prompt: str) -> str:
        return prompt

    message = check_value(generate, Backend, "backend")
    assert message is not None
    assert "a Backend object" in message and "plain function is not a plugin object" in message
    named = check_value("transformers", Backend, "backend")
    assert named is not None and "build it first" in named


def test_an_unresolvable_annotation_accepts_everything() -> None:
    def factory(model: NotImportedHere = None) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    assert check_options(factory, {"model": object()}) == []


def test_building_a_plugin_by_name_checks_every_option_value_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        tr.scaler("budget-forcing", waits="2", max_new_tokens=[10])
    problems = err.value.problems
    assert len(problems) == 2
    assert any(
        "waits must be a whole number, got str '2' (write 2, not '2')" in p for p in problems
    )
    assert any("max_new_tokens" in p and "got list" in p for p in problems)


def test_a_wrong_value_type_for_a_teacher_is_caught_before_anything_is_built() -> None:
    with pytest.raises(ConfigError, match="temperature must be"):
        tr.teacher("openai-compatible", model="m", base_url="http://x", temperature="hot")
