"""An example tinyreason plugin: one teacher and one test-time scaler.

Registered through the ``tinyreason`` entry point in pyproject.toml; tinyreason loads it the first
time a getter runs, and a failure here would be reported by name without breaking anything else.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import tinyreason as tr


@dataclass(frozen=True)
class EchoTeacher:
    """A teacher that answers with each problem's reference answer (for wiring tests).

    Example:
        >>> import tinyreason as tr
        >>> ds = tr.teacher("echo-teacher").distill([tr.Problem("p1", "1+1?", answer="2")])
        >>> ds[0]["attempt"]
        'Answer: 2'
    """

    note: str = "I looked it up."

    def distill(self, problems, **options):
        problems = tr.as_problems(problems)
        traces = [
            tr.Trace(
                p.id,
                "echo-teacher",
                "echo-1",
                thinking=self.note,
                answer_text=f"Answer: {p.answer or ''}",
            )
            for p in problems
        ]
        return tr.to_dataset(problems, traces)


@dataclass(frozen=True)
class SelfConsistency:
    """Sample ``n`` budget-forced answers per problem, keep the most frequent (exact match).

    Example:
        >>> import tinyreason as tr
        >>> tr.scaler("self-consistency", n=4, max_thinking=256).n
        4
    """

    n: int = 8
    max_thinking: int | None = None
    temperature: float = 0.8

    def solve(self, backend, problems, *, seed=None):
        from tinyreason.evaluation import extract_answer

        control = tr.ThinkingControl(max_thinking=self.max_thinking, final_answer_text=None)
        prompts = [backend.prompt(p.question) for p in problems]
        samples = backend.generate(
            prompts,
            n=self.n,
            temperature=self.temperature,
            control=control,
            seed=seed,
            max_new_tokens=control.max_new_tokens(),
        )
        solutions = []
        for problem, generations in zip(problems, samples, strict=True):
            answers = [
                extract_answer(g.text, think_end=backend.format.think_end) for g in generations
            ]
            counts = Counter(a for a in answers if a is not None)
            best = counts.most_common(1)[0][0] if counts else None
            votes = {a: c / len(answers) for a, c in counts.most_common()}
            solutions.append(tr.Solution(problem.id, best, tuple(generations), votes))
        return solutions


@tr.hookimpl
def register_teachers(register):
    register("echo-teacher", EchoTeacher)


@tr.hookimpl
def register_scalers(register):
    register("self-consistency", SelfConsistency)
