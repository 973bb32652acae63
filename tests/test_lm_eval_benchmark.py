"""An lm-eval task as a tinyreason benchmark, and two graders compared on one report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.errors import ConfigError

pytest.importorskip("lm_eval")

TASKS = str(Path(__file__).resolve().parent / "fixtures" / "lm_eval")


@dataclass
class EchoBackend:
    """Answers each question with what follows 'What is' in it: 42 for 6 times 7, else 0."""

    format: object = field(default_factory=lambda: tr.chat_format("think-tags"))

    def prompt(self, question: str) -> str:
        return question

    def generate(
        self, prompts, *, n=1, temperature=0.0, max_new_tokens=1024, control=None, seed=None
    ):
        out = []
        for prompt in prompts:
            answer = "42" if "6 times 7" in prompt else "0"
            # The extracted answer (after "Answer:") and math-verify's (the last LaTeX) differ
            # on purpose for the first problem: the agreement report must show it.
            tail = "\n\nCheck: $6 \\cdot 7 = 41$" if "6 times 7" in prompt else ""
            text = f"think</think>Answer: {answer}{tail}"
            out.append(
                [
                    tr.Generation(
                        text=text,
                        thinking="think",
                        answer_text=text[13:],
                        thinking_tokens=1,
                        answer_tokens=3,
                    )
                ]
                * n
            )
        return out


def test_an_lm_eval_task_runs_as_a_benchmark_through_tr_evaluate() -> None:
    bench = tr.benchmark("lm-eval", task="tinyreason_arith", include_path=[TASKS])
    problems = bench.problems()
    assert len(problems) == 4 and problems[0].question.startswith("Question: What is 6 times 7?")
    report = tr.evaluate(EchoBackend(), bench, progress=False)
    assert report.benchmark == "lm-eval:tinyreason_arith"
    assert report.table()[0]["accuracy"] == 25.0  # only 6 x 7 is answered right
    agreement = report.grader_agreement()
    assert agreement["samples"] == 4 and agreement["disagree"] == 1
    (row,) = agreement["rows"]
    assert row["extracted_correct"] and not row["full_text_correct"]


def test_a_multiple_choice_task_gives_the_right_choice_as_reference() -> None:
    bench = tr.benchmark("lm-eval", task="tinyreason_choice", include_path=[TASKS])
    assert bench.problems()[0].answer == "42"


def test_an_unknown_task_is_a_clear_error_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="did you mean 'tinyreason_arith'"):
        tr.benchmark("lm-eval", task="tinyreason_arth", include_path=[TASKS]).problems()
