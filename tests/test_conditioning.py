"""The TCC and SCC training transforms render exactly the texts s1's conditional control uses."""

from __future__ import annotations

import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.students.conditioning import (
    conditioned,
    count_steps,
    cut_steps,
    mark_steps,
    power_of_two_at_least,
    split_steps,
    step_conditioned,
    token_conditioned,
)


def words(text: str) -> int:
    return len(text.split())


def traces(*thinkings: str) -> Dataset:
    n = len(thinkings)
    return Dataset.from_dict(
        {
            "question": [f"Q{i}" for i in range(n)],
            "thinking_trajectories": [[t] for t in thinkings],
            "attempt": ["42"] * n,
            "source_type": ["toy"] * n,
        }
    )


def test_tcc_asks_for_the_trace_length_rounded_up_to_a_power_of_two() -> None:
    out = token_conditioned(traces("a b c", "a b c d e f g h", "a " * 9, "\n\n  one  \n"), words)
    assert out["question"] == [
        "Q0\n\nThink for up to 4 tokens.",
        "Q1\n\nThink for up to 8 tokens.",
        "Q2\n\nThink for up to 16 tokens.",
        "Q3\n\nThink for up to 1 tokens.",
    ]
    # Nothing else changes: the thinking, the answer and the other columns are as they were.
    assert out["thinking_trajectories"][1] == ["a b c d e f g h"]
    assert out["attempt"] == ["42"] * 4 and out["source_type"] == ["toy"] * 4


def test_tcc_counts_in_the_students_tokenizer() -> None:
    from tinyreason.demo.model import build_tokenizer
    from tinyreason.demo.task import count_tokens, solve

    thinking, _ = solve("0;a-5;b+4;c*6")  # 3 lines of 7 tokens (a, -5, :, 0, -5, =, 5), 2 newlines
    assert count_tokens(thinking) == 23
    for tokenizer in (build_tokenizer(), count_tokens):
        [question] = token_conditioned(traces(thinking), tokenizer)["question"]
        assert question == "Q0\n\nThink for up to 32 tokens."


def test_scc_marks_each_step_with_the_steps_left() -> None:
    out = step_conditioned(traces("First.\n\nSecond.\n\n\nThird.", "Only."))
    assert out["question"] == ["Q0\n\nThink for up to 4 steps.", "Q1\n\nThink for up to 1 steps."]
    assert out["thinking_trajectories"] == [
        ["4 steps left\nFirst.\n\n3 steps left\nSecond.\n\n2 steps left\nThird."],
        ["1 steps left\nOnly."],
    ]
    exact = step_conditioned(traces("First.\n\nSecond.\n\nThird."), round_up=False)
    assert exact["question"] == ["Q0\n\nThink for up to 3 steps."]
    assert exact["thinking_trajectories"] == [
        ["3 steps left\nFirst.\n\n2 steps left\nSecond.\n\n1 steps left\nThird."]
    ]
    # The student trains on the marked thinking between its format's delimiters.
    fmt = tr.chat_format("think-tags")
    assert fmt.assistant_text(exact["thinking_trajectories"][0][0], "42") == (
        "<think>\n3 steps left\nFirst.\n\n2 steps left\nSecond.\n\n1 steps left\nThird.\n"
        "</think>\n\n42"
    )


def test_scc_on_one_step_per_line() -> None:
    demo = "a-5:0-5=5\nb+4:5+4=9\nc*6:9*6=4"
    [thinking] = step_conditioned(traces(demo), separator="\n")["thinking_trajectories"][0]
    assert thinking == "4 steps left\na-5:0-5=5\n3 steps left\nb+4:5+4=9\n2 steps left\nc*6:9*6=4"


def test_s1k_1_1_rows_are_read_as_every_stage_reads_them() -> None:
    ds = Dataset.from_dict(
        {
            "question": ["Q"],
            "deepseek_thinking_trajectory": ["x y z"],
            "deepseek_attempt": ["1"],
            "gemini_thinking_trajectory": ["x"],
            "gemini_attempt": ["1"],
        }
    )
    assert token_conditioned(ds, words)["question"] == ["Q\n\nThink for up to 4 tokens."]


def test_the_text_helpers() -> None:
    assert [power_of_two_at_least(n) for n in (0, 1, 5, 64, 65)] == [1, 1, 8, 64, 128]
    assert split_steps("a\n\n \n\nb") == ["a", "b"] and count_steps("a\n\n \n\nb") == 2
    assert cut_steps("a\n\n \n\nb\n\nc", 2) == ("a\n\n \n\nb", True)
    assert cut_steps("a\n\nb\n\n", 2) == ("a\n\nb", False)  # only a blank line after: no cut
    assert cut_steps("a", 0) == ("", True) and cut_steps("", 3) == ("", False)
    assert mark_steps(["x"], budget=2, marker="[{k}] ") == "[2] x"
    with pytest.raises(tr.ConfigError, match="cannot mark 3 steps"):
        mark_steps(["a", "b", "c"], budget=2)


def test_conditioned_is_the_trainers_one_entry() -> None:
    ds = traces("a b c")
    assert conditioned(ds, "tokens", tokenizer=words)["question"] == [
        "Q0\n\nThink for up to 4 tokens."
    ]
    assert conditioned(ds, "steps")["question"] == ["Q0\n\nThink for up to 1 steps."]
    with pytest.raises(tr.ConfigError, match="pass tokenizer="):
        conditioned(ds, "tokens")
    with pytest.raises(tr.ConfigError, match="'tokens', 'steps'"):
        conditioned(ds, "classes")  # type: ignore[arg-type]
    with pytest.raises(tr.ConfigError, match="tokenizer must be"):
        token_conditioned(ds, 3)
    with pytest.raises(tr.DataError, match="conditioning needs traces"):
        token_conditioned(Dataset.from_dict({"question": ["Q"]}), words)
