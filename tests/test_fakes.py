"""The scripted FakeTeacher (tinyreason.testing), public for users and plugin authors."""

from __future__ import annotations

from typing import Any

import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.data import S1K_COLUMNS, TRACE_COLUMNS
from tinyreason.testing import FakeTeacher


def test_is_a_teacher_and_a_builtin() -> None:
    assert isinstance(FakeTeacher(), tr.Teacher)
    assert "fake" in tr.available("teacher")
    teacher = tr.teacher("fake", model="m1", thinking_kind="unknown", strict=True)
    assert (teacher.model, teacher.thinking_kind, teacher.strict) == ("m1", "unknown", True)
    assert tr.testing.FakeTeacher is FakeTeacher


def test_scripted_replies_in_order(toy_problems: list[tr.Problem]) -> None:
    teacher = FakeTeacher(model="scripted-1")
    teacher.enqueue("6 * 7 = 42", "42", cost_usd=0.002)
    teacher.enqueue("2x = 8, so x = 4", "x = 4", usage=tr.Usage(10, 3, 7))
    teacher.enqueue("", "", error="HTTP 503: overloaded")
    ds = teacher.distill(toy_problems)
    assert isinstance(ds, Dataset)
    assert set(S1K_COLUMNS) | set(TRACE_COLUMNS) <= set(ds.column_names)
    assert ds["id"] == ["toy-1", "toy-2", "toy-3"]
    assert ds["thinking_trajectories"] == [["6 * 7 = 42"], ["2x = 8, so x = 4"], [""]]
    assert ds["attempt"] == ["42", "x = 4", ""]
    assert set(ds["teacher"]) == {"fake"}
    assert set(ds["teacher_model"]) == {"scripted-1"}
    assert set(ds["thinking_kind"]) == {"raw"}
    assert ds["finish_reason"] == ["stop", "stop", "error"]  # an error defaults to "error"
    assert ds["error"] == [None, None, "HTTP 503: overloaded"]
    assert ds["cost_usd"] == [0.002, None, None]  # unknown price stays unknown
    assert ds["usage"][0] == {"input_tokens": 5, "output_tokens": 1, "thinking_tokens": 5}
    assert ds["usage"][1] == {"input_tokens": 10, "output_tokens": 3, "thinking_tokens": 7}
    traces = tr.traces_from_dataset(ds)
    assert [t.ok for t in traces] == [True, True, False]
    assert teacher.queue == []


def test_default_reply_echoes_the_question_and_answers_with_the_reference(
    toy_problems: list[tr.Problem],
) -> None:
    ds = FakeTeacher().distill(toy_problems)
    assert ds["thinking_trajectories"][0] == ["Echo: What is 6 * 7?"]
    assert ds["attempt"] == ["42", "4", ""]  # toy-3 has no reference answer
    assert ds["finish_reason"] == ["stop"] * 3


def test_queue_spans_calls_and_finish_reason_can_be_set(toy_problems: list[tr.Problem]) -> None:
    teacher = FakeTeacher(thinking_kind="summary")
    teacher.enqueue("a", "1").enqueue("b", "2", finish_reason="length")
    first = teacher.distill(toy_problems[:1])
    second = teacher.distill(toy_problems[1:])
    assert first["attempt"] == ["1"]
    assert second["attempt"] == ["2", ""]
    assert second["finish_reason"] == ["length", "stop"]
    assert {*first["thinking_kind"], *second["thinking_kind"]} == {"summary"}


def test_history_records_every_call(toy_problems: list[tr.Problem]) -> None:
    teacher = FakeTeacher()
    teacher.enqueue("t", "a")
    teacher.distill(toy_problems[:2], cache="runs/r1.sqlite", max_cost_usd=50)
    teacher.distill([{"question": "What is 2 + 2?", "answer": 4}])
    assert len(teacher.history) == 2
    call = teacher.history[0]
    assert call.problem_ids == ["toy-1", "toy-2"]
    assert call.questions == ["What is 6 * 7?", "Solve 2x + 3 = 11 for x."]
    assert call.options == {"cache": "runs/r1.sqlite", "max_cost_usd": 50}
    assert [r.thinking for r in call.replies] == ["t", "Echo: Solve 2x + 3 = 11 for x."]
    assert teacher.history[1].problems[0].answer == "4"
    assert teacher.history[1].options == {}


@pytest.mark.parametrize("source", ["dataset", "problems", "rows"])
def test_accepts_datasets_problems_and_rows(source: str, toy_problems: list[tr.Problem]) -> None:
    inputs: dict[str, Any] = {
        "dataset": tr.to_dataset(toy_problems),
        "problems": toy_problems,
        "rows": [{"id": p.id, "question": p.question, "answer": p.answer} for p in toy_problems],
    }
    ds = FakeTeacher().distill(inputs[source])
    assert ds["id"] == ["toy-1", "toy-2", "toy-3"]
    assert ds["attempt"] == ["42", "4", ""]


def test_output_round_trips_to_records(toy_problems: list[tr.Problem]) -> None:
    teacher = FakeTeacher().enqueue("6 * 7 = 42", "42", cost_usd=0.5)
    ds = teacher.distill(toy_problems)
    assert tr.problems_from_dataset(ds) == toy_problems
    assert tr.traces_from_dataset(ds)[0] == tr.Trace(
        "toy-1",
        "fake",
        "scripted",
        "6 * 7 = 42",
        "42",
        usage=tr.Usage(5, 1, 5),
        cost_usd=0.5,
    )


def test_strict_raises_before_using_any_reply(toy_problems: list[tr.Problem]) -> None:
    teacher = FakeTeacher(strict=True).enqueue("t", "a")
    with pytest.raises(tr.TinyReasonError, match=r"1 queued replies for 3 problems.*'toy-2'"):
        teacher.distill(toy_problems)
    assert len(teacher.queue) == 1  # untouched
    assert teacher.history == []
    assert teacher.distill(toy_problems[:1])["attempt"] == ["a"]


def test_bad_replies_fail_at_enqueue() -> None:
    teacher = FakeTeacher()
    with pytest.raises(tr.DataError, match=r"Trace.cost_usd"):
        teacher.enqueue("t", "a", cost_usd=-1)
    with pytest.raises(tr.DataError, match=r"Trace.answer_text must be a string"):
        teacher.enqueue("t", 42)  # type: ignore[arg-type]
    with pytest.raises(tr.DataError, match=r"Trace.usage must be a Usage"):
        teacher.enqueue("t", "a", usage={"input_tokens": 1})  # type: ignore[arg-type]
    assert teacher.queue == []


def test_bad_options_and_inputs() -> None:
    with pytest.raises(tr.ConfigError, match=r"thinking_kind"):
        FakeTeacher(thinking_kind="hidden")  # type: ignore[arg-type]
    with pytest.raises(tr.ConfigError, match=r"model"):
        FakeTeacher(model="")
    with pytest.raises(tr.DataError, match=r"no problems given"):
        FakeTeacher().distill([])
    with pytest.raises(tr.DataError, match=r"load_problems"):
        FakeTeacher().distill("problems.jsonl")
