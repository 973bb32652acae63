"""Budget forcing (s1): control how long the student thinks, then read its answer.

The rules are :class:`~tinyreason.scaling.control.ThinkingControl`'s; the backend enforces them
(:class:`~tinyreason.scaling.TransformersBackend` inside one ``generate`` call). This module only
configures a control, asks the backend for one generation per problem in a single call, and
extracts each answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ..records import Generation, Problem, Solution
from .common import temperature_problems
from .control import ThinkingControl

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = ["DELIMITER_ALLOWANCE", "BudgetForcing"]

#: Tokens allowed beyond the thinking and answer budgets for forced delimiters, the lead-in and
#: the end of turn, when a scaler sizes ``max_new_tokens`` (s1's longest forced text is ~8 tokens).
DELIMITER_ALLOWANCE = 64


@dataclass(frozen=True)
class BudgetForcing:
    r"""s1's budget forcing: cap thinking, or suppress its end and append "Wait" to extend it.

    Args:
        max_thinking: Thinking tokens at most, then ``"\n" + think_end`` and
            ``final_answer_text`` are forced. None: no cap.
        min_thinking: Thinking tokens at least: an earlier attempt to stop gets ``wait_text``.
        waits: Attempts to stop that are ignored whatever the length (s1's ``thinking_n_ignore``).
        wait_text: What replaces an ignored attempt to stop.
        final_answer_text: The lead-in forced after a cut (None or ``""``: none).
        max_answer_tokens: Tokens the answer may take after thinking.
        temperature: 0 for greedy (s1's setting); above 0 samples.
        answer_kind: How answers are extracted: ``"auto"``, ``"math"``, ``"integer"``,
            ``"multiple_choice"`` (see :func:`tinyreason.evaluation.extract_answer`).

    Raises:
        ConfigError: an invalid budget (negative, ``min_thinking > max_thinking``...), temperature
            or answer kind.

    Example:
        >>> bf = BudgetForcing(max_thinking=8000, waits=2)
        >>> bf.control.max_thinking, bf.control.waits
        (8000, 2)
        >>> bf.max_new_tokens
        8576
        >>> solutions = bf.solve(backend, problems, seed=0)  # doctest: +SKIP
    """

    max_thinking: int | None = None
    min_thinking: int = 0
    waits: int = 0
    wait_text: str = "Wait"
    final_answer_text: str | None = "Final Answer:"
    max_answer_tokens: int = 512
    temperature: float = 0.0
    answer_kind: str = "auto"
    _control: ThinkingControl = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        try:
            control = ThinkingControl(
                max_thinking=self.max_thinking,
                min_thinking=self.min_thinking,
                waits=self.waits,
                wait_text=self.wait_text,
                final_answer_text=self.final_answer_text,
                max_answer_tokens=self.max_answer_tokens,
            )
        except ConfigError as err:
            problems.extend(err.problems)
        problems += check_sampling(self.temperature, self.answer_kind)
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_control", control)

    @property
    def control(self) -> ThinkingControl:
        """The :class:`ThinkingControl` every backend enforces."""
        return self._control

    @property
    def max_new_tokens(self) -> int:
        """Tokens per generation: the thinking and answer budgets plus the forced text."""
        return self._control.max_new_tokens(delimiter_tokens=DELIMITER_ALLOWANCE)

    def with_budget(self, max_thinking: int | None) -> BudgetForcing:
        """Return a copy with another thinking cap (``min_thinking`` is lowered to fit under it).

        Example:
            >>> BudgetForcing(min_thinking=100).with_budget(50).min_thinking
            50
        """
        import dataclasses

        low = self.min_thinking if max_thinking is None else min(self.min_thinking, max_thinking)
        return dataclasses.replace(self, max_thinking=max_thinking, min_thinking=low)

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Answer every problem with one budget-forced generation, in one backend call.

        Args:
            backend: Any :class:`~tinyreason.Backend` (it renders prompts and enforces control).
            problems: The problems.
            seed: Seed for sampling (ignored when greedy).

        Returns:
            One :class:`~tinyreason.Solution` per problem, in order.
        """
        problems = check_problems(problems)
        if not problems:
            return []
        prompts = [backend.prompt(p.question) for p in problems]
        results = backend.generate(
            prompts,
            n=1,
            temperature=self.temperature,
            max_new_tokens=self.max_new_tokens,
            control=self._control,
            seed=seed,
        )
        check_results(results, len(problems), 1)
        think_end = getattr(backend.format, "think_end", None)
        return [
            Solution(p.id, extract(g[0], self.answer_kind, think_end), (g[0],))
            for p, g in zip(problems, results, strict=True)
        ]


def extract(generation: Generation, kind: str, think_end: str | None) -> str | None:
    """Extract a generation's answer: after the end of thinking first, else anywhere in it."""
    from ..evaluation.answers import extract_answer

    return extract_answer(generation.text, kind=kind, think_end=think_end)


def check_sampling(temperature: Any, answer_kind: Any) -> list[str]:
    """Problems with a scaler's temperature and answer kind (empty when both are fine)."""
    from ..evaluation.answers import ANSWER_KINDS

    problems = temperature_problems(temperature)
    if answer_kind not in ANSWER_KINDS:
        problems.append(
            f"answer_kind must be one of {', '.join(ANSWER_KINDS)}; got {answer_kind!r}"
        )
    return problems


def check_problems(problems: Sequence[Problem]) -> list[Problem]:
    """Return the problems as a list, or raise a :class:`DataError` naming non-Problems."""
    if isinstance(problems, (str, Problem)) or not isinstance(problems, Sequence):
        raise DataError(
            "problems must be a list of tinyreason.Problem; convert a Dataset or rows with "
            "tr.as_problems(...)."
        )
    bad = [i for i, p in enumerate(problems) if not isinstance(p, Problem)]
    if bad:
        raise DataError(
            f"problems {bad[:5]} are not tinyreason.Problem objects; convert them with "
            "tr.as_problems(...)."
        )
    return list(problems)


def check_results(results: Sequence[Sequence[Generation]], prompts: int, n: int) -> None:
    """Raise :class:`DataError` when a backend returned the wrong number of generations."""
    if len(results) != prompts or any(len(r) != n for r in results):
        raise DataError(
            f"the backend returned {[len(r) for r in results]} generations for {prompts} prompts "
            f"x {n} samples; a Backend must return n generations per prompt, in order."
        )
