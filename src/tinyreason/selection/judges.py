"""Judges for the difficulty stage: whether an attempt is correct against the reference.

:class:`MathVerifyJudge` (the default: free, deterministic) compares the attempt's extracted final
answer with the reference; :class:`LLMJudge` asks a teacher with a fixed grading prompt in the
spirit of s1's ``data/grading.txt`` (s1 used Claude), through the teacher engine (cached, capped).
Any object with ``label`` and ``judge(items)`` is a :class:`Judge`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ._calls import ask, label_of, resolve_teacher

__all__ = ["GRADING_PROMPT", "Judge", "JudgeItem", "LLMJudge", "MathVerifyJudge", "grading_prompt"]

#: The LLM judge's prompt, in the spirit of s1's ``data/grading.txt``: compare the attempt with
#: the reference and end on a line with only Yes or No.
GRADING_PROMPT = """You are grading a student's attempt at a problem.
You are given the problem, the attempt and the correct answer (or a reference solution). Judge \
whether the attempt is correct by comparing it with the correct answer.
If the correct answer is a number, an expression or a choice, the attempt is correct only if its \
final result is equivalent to it, without ambiguity.
If the reference is a full solution or a proof, judge whether the attempt's reasoning is correct \
and reaches the same conclusion.

# Problem
{problem}

## Attempt
{attempt}

## Correct answer
{reference}

Explain your reasoning briefly, then end your response on a new line with only "Yes" or "No" \
(without quotes)."""


def grading_prompt(problem: str, attempt: str, reference: str) -> str:
    """The LLM judge's message for one attempt (what the teacher cache keys on).

    Example:
        >>> grading_prompt("1+1?", "2", "2").splitlines()[-1].startswith("Explain")
        True
    """
    return GRADING_PROMPT.format(problem=problem, attempt=attempt, reference=reference)


@dataclass(frozen=True)
class JudgeItem:
    """One attempt to grade.

    Args:
        id: A unique id (the row's id and the solver).
        question: The problem.
        attempt: The attempt's answer text.
        reference: The reference answer (or solution), None when there is none.
        extracted: The attempt's final answer when already extracted (a backend's scaler does).

    Example:
        >>> JudgeItem("p1|qwen", "What is 6 * 7?", "It is 42.", "42").reference
        '42'
    """

    id: str
    question: str
    attempt: str
    reference: str | None
    extracted: str | None = None


@runtime_checkable
class Judge(Protocol):
    """Grades attempts: True (correct), False (wrong) or None (cannot tell).

    Example:
        >>> isinstance(MathVerifyJudge(), Judge)
        True
    """

    label: str

    def judge(self, items: Sequence[JudgeItem]) -> list[bool | None]:
        """One verdict per item, in order."""
        ...


@dataclass(frozen=True)
class MathVerifyJudge:
    r"""The attempt's extracted final answer is equivalent to the reference (math-verify).

    Free and deterministic; right for answers that are numbers, expressions or choices. Without a
    reference (or one whose ``\boxed{}`` cannot be found) the verdict is None.

    Args:
        answer_kind: How the attempt's answer is extracted (``"auto"``, ``"integer"``...).
        timeout: Seconds math-verify may spend on one comparison.

    Example:
        >>> MathVerifyJudge().judge([JudgeItem("a", "1/2 as a decimal?", "It is 0.5.", "1/2")])
        [True]
    """

    answer_kind: str = "auto"
    timeout: float = 5.0
    label: str = "math-verify"

    def judge(self, items: Sequence[JudgeItem]) -> list[bool | None]:
        """Compare each attempt's extracted answer with its reference."""
        from ..answers import equivalent, extract_answer

        verdicts: list[bool | None] = []
        for item in items:
            if item.reference is None or not item.reference.strip():
                verdicts.append(None)
                continue
            found = item.extracted
            if found is None:
                found = extract_answer(item.attempt or "", kind=self.answer_kind)
            verdicts.append(equivalent(found, item.reference, timeout=self.timeout))
        return verdicts


@dataclass(frozen=True)
class LLMJudge:
    """A teacher grades each attempt with :data:`GRADING_PROMPT` (s1: Claude 3.5 Sonnet).

    The verdict is the reply's last line: Yes, No, or None when it says neither (or the call
    failed). Calls go through the teacher engine: cached, retried, capped by ``max_cost_usd``.

    Args:
        teacher: A teacher or its name (``"anthropic"``, ``"anthropic:claude-sonnet-4-5"``).
        cache: The teacher cache (None: the shared default).
        max_cost_usd: Spending cap for the grading calls.
        progress: Show the engine's progress bar.

    Example:
        >>> judge = LLMJudge("fake")
        >>> judge.parse("The attempt gets 42 as well.\\n**Yes**"), judge.parse("Hmm."), judge.label
        (True, None, 'llm:fake')
    """

    teacher: Any
    cache: Any = None
    max_cost_usd: float | None = None
    progress: bool = False

    @property
    def label(self) -> str:
        """``llm:<teacher>:<model>``."""
        return f"llm:{label_of(self.teacher)}"

    @staticmethod
    def parse(reply: str) -> bool | None:
        """Yes -> True, No -> False, from the reply's last non-empty line; else None."""
        lines = [line for line in (reply or "").splitlines() if line.strip()]
        if not lines:
            return None
        words = re.findall(r"[A-Za-z]+", lines[-1])
        last = words[-1].lower() if words else ""
        return True if last == "yes" else False if last == "no" else None

    def judge(self, items: Sequence[JudgeItem]) -> list[bool | None]:
        """Ask the teacher to grade each attempt that has a reference."""
        return self.judge_with_cost(items)[0]

    def judge_with_cost(self, items: Sequence[JudgeItem]) -> tuple[list[bool | None], float]:
        """:meth:`judge`, and what the grading calls cost in USD (0 when unknown)."""
        teacher = resolve_teacher(self.teacher, "the judge")
        asked = [i for i in items if i.reference is not None and i.reference.strip()]
        replies = ask(
            teacher,
            [(i.id, grading_prompt(i.question, i.attempt, i.reference or "")) for i in asked],
            cache=self.cache,
            max_cost_usd=self.max_cost_usd,
            progress=self.progress,
        )
        verdict = {
            i.id: (None if r.error else self.parse(r.answer or r.thinking))
            for i, r in zip(asked, replies, strict=True)
        }
        cost = sum(r.cost_usd or 0.0 for r in replies)
        return [verdict.get(i.id) for i in items], cost
