"""Records: validation at construction, immutability, Usage arithmetic, Solution properties."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

import tinyreason as tr


def _trace(**changes: Any) -> tr.Trace:
    fields: dict[str, Any] = {
        "problem_id": "p1",
        "teacher": "fake",
        "model": "scripted",
        "thinking": "6 * 7 = 42",
        "answer_text": "42",
    }
    return tr.Trace(**(fields | changes))


def _generation(**changes: Any) -> tr.Generation:
    fields: dict[str, Any] = {
        "text": "x</think>4",
        "thinking": "x",
        "answer_text": "4",
        "thinking_tokens": 3,
        "answer_tokens": 1,
    }
    return tr.Generation(**(fields | changes))


def test_errors_share_one_base() -> None:
    for error in (tr.DataError, tr.ConfigError, tr.PluginError, tr.UnknownPluginError):
        assert issubclass(error, tr.TinyReasonError)
    assert issubclass(tr.DataError, ValueError)
    assert issubclass(tr.UnknownPluginError, KeyError)


# -- Problem -------------------------------------------------------------------------------------


def test_problem_defaults() -> None:
    p = tr.Problem("p1", "What is 6 * 7?")
    assert (p.answer, p.solution, p.domain, p.source, p.metadata) == (None, None, None, None, {})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": ""}, "Problem.id is empty"),
        ({"id": "   "}, "Problem.id is empty"),
        ({"id": 7}, "Problem.id must be a string"),
        ({"question": ""}, "Problem.question is empty"),
        ({"question": None}, "Problem.question must be a string"),
        ({"answer": 42}, "convert numbers with str()"),
        ({"solution": 1.5}, "Problem.solution must be a string or None"),
        ({"domain": ["math"]}, "Problem.domain"),
        ({"source": b"aops"}, "Problem.source"),
        ({"metadata": "{'a': 1}"}, "Problem.metadata must be a mapping"),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_problem_validation(changes: dict[str, Any], message: str) -> None:
    fields: dict[str, Any] = {"id": "p1", "question": "What is 6 * 7?"} | changes
    with pytest.raises(tr.DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tr.Problem(**fields)


def test_problem_is_frozen_and_keeps_a_private_metadata_copy() -> None:
    metadata = {"level": 3}
    p = tr.Problem("p1", "q?", metadata=metadata)
    metadata["level"] = 5
    assert p.metadata == {"level": 3}
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.question = "other"  # type: ignore[misc]
    assert p == tr.Problem("p1", "q?", metadata={"level": 3})
    assert dataclasses.replace(p, answer="1").answer == "1"


# -- Usage ---------------------------------------------------------------------------------------


def test_usage_arithmetic() -> None:
    a = tr.Usage(input_tokens=10, output_tokens=5, thinking_tokens=100)
    b = tr.Usage(input_tokens=1, thinking_tokens=2)
    assert a + b == tr.Usage(11, 5, 102)
    assert (a + b).total_tokens == 118
    assert tr.Usage().total_tokens == 0
    assert sum([a, b], tr.Usage()) == a + b
    with pytest.raises(TypeError):
        a + 1  # type: ignore[operator]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3", None])
def test_usage_rejects_non_counts(bad: Any) -> None:
    with pytest.raises(tr.DataError, match=r"whole number >= 0"):
        tr.Usage(thinking_tokens=bad)


def test_usage_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        tr.Usage().input_tokens = 3  # type: ignore[misc]


# -- Trace ---------------------------------------------------------------------------------------


def test_trace_defaults_and_ok() -> None:
    t = _trace()
    assert (t.thinking_kind, t.finish_reason, t.usage, t.cost_usd, t.error) == (
        "raw",
        "stop",
        tr.Usage(),
        None,
        None,
    )
    assert t.ok
    assert not _trace(answer_text="  ").ok
    assert not _trace(error="HTTP 500", finish_reason="error").ok
    assert _trace(thinking="").ok  # a teacher may hide its thinking; the answer still counts


@pytest.mark.parametrize("kind", ["raw", "summary", "unknown"])
def test_trace_thinking_kinds(kind: str) -> None:
    assert _trace(thinking_kind=kind).thinking_kind == kind


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"problem_id": ""}, "Trace.problem_id is empty"),
        ({"teacher": " "}, "Trace.teacher is empty"),
        ({"model": None}, "Trace.model must be a string"),
        ({"thinking": None}, "Trace.thinking must be a string"),
        ({"answer_text": 42}, "Trace.answer_text must be a string"),
        ({"finish_reason": ""}, "Trace.finish_reason is empty"),
        ({"thinking_kind": "hidden"}, "Trace.thinking_kind must be one of"),
        ({"usage": {"input_tokens": 1}}, "Trace.usage must be a Usage"),
        ({"cost_usd": -0.01}, "Trace.cost_usd"),
        ({"cost_usd": math.nan}, "Trace.cost_usd"),
        ({"cost_usd": math.inf}, "Trace.cost_usd"),
        ({"cost_usd": True}, "Trace.cost_usd"),
        ({"cost_usd": "0.1"}, "Trace.cost_usd"),
        ({"error": 500}, "Trace.error must be a string or None"),
    ],
)
def test_trace_validation(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(tr.DataError, match=message):
        _trace(**changes)


def test_trace_accepts_a_known_cost_including_zero() -> None:
    assert _trace(cost_usd=0).cost_usd == 0
    assert _trace(cost_usd=0.25).cost_usd == 0.25


def test_trace_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _trace().answer_text = "41"  # type: ignore[misc]


# -- Generation and Solution ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"text": None}, "Generation.text must be a string"),
        ({"thinking": 1}, "Generation.thinking must be a string"),
        ({"thinking_tokens": -1}, "Generation.thinking_tokens"),
        ({"answer_tokens": 2.0}, "Generation.answer_tokens"),
        ({"waits": False}, "Generation.waits"),
    ],
)
def test_generation_validation(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(tr.DataError, match=message):
        _generation(**changes)


def test_generation_allows_empty_text() -> None:
    g = _generation(text="", thinking="", answer_text="", thinking_tokens=0, answer_tokens=0)
    assert (g.finish_reason, g.waits, g.forced_end) == ("stop", 0, False)


def test_solution_properties() -> None:
    gens = [_generation(thinking_tokens=n) for n in (10, 20, 40)]
    s = tr.Solution("p1", "4", gens, votes={"4": 2 / 3, "5": 1 / 3}, scores=[0.1, 0.2, 0.3])
    assert s.generations == tuple(gens)  # a list is stored as a tuple
    assert s.scores == (0.1, 0.2, 0.3)
    assert s.thinking_tokens == pytest.approx(70 / 3)
    assert s.total_thinking_tokens == 70
    assert tr.Solution("p1", None, (gens[0],)).thinking_tokens == 10.0


def test_solution_validation_and_immutability() -> None:
    with pytest.raises(tr.DataError, match=r"has no generations"):
        tr.Solution("p1", "4", ())
    with pytest.raises(tr.DataError, match=r"Solution.problem_id is empty"):
        tr.Solution("", "4", (_generation(),))
    votes = {"4": 1.0}
    s = tr.Solution("p1", "4", (_generation(),), votes=votes)
    votes["5"] = 0.0
    assert s.votes == {"4": 1.0}
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.answer = "5"  # type: ignore[misc]
