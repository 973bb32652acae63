"""Budget forcing (s1): control how long the student thinks, then read its answer.

The rules are :class:`~tinyreason.scaling.control.ThinkingControl`'s (s1's own loop); the backend
enforces them. This module only
configures a control, asks the backend for one generation per problem in a single call, and
extracts each answer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from ..errors import ConfigError, DataError
from ..records import Generation, Problem, Solution, ThinkingControl
from .common import max_new_tokens_problems, temperature_problems

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = ["CONTROL_FIELDS", "BudgetForcing"]

#: The fields a :class:`BudgetForcing` passes on to its :class:`ThinkingControl` (its own).
CONTROL_FIELDS = tuple(f.name for f in dataclasses.fields(ThinkingControl))


@dataclass(frozen=True)
class BudgetForcing(ThinkingControl):
    r"""s1's budget forcing: cap thinking, or ignore its end and append "Wait" to extend it.

    The defaults are s1's code (see :class:`~tinyreason.scaling.ThinkingControl` for each rule).

    Args:
        max_thinking: Thinking tokens at most: an int, ``"auto"`` (s1's: the generation budget
            less the longest prompt, the delimiters and 100) or None (the generation budget).
        waits: Stops that are ignored and answered with ``wait_text`` (s1's ``thinking_n_ignore``).
        wait_text: What follows an ignored stop (s1: ``"Wait"``).
        min_thinking: s1's ``min_tokens_thinking``: the end of thinking is suppressed for that many
            tokens (nothing inserted); not with waits.
        wait_below: tinyreason's minimum: a stop below this many thinking tokens is answered with
            ``wait_text`` (0: off).
        round_budget: ``"whole"`` (s1's fork: each round may use the whole budget, the thinking is
            cut to it) or ``"remaining"`` (s1's README loop: each round gets what is left).
        final_answer_text: The lead-in after a forced end (None or ``""``: none).
        max_answer_tokens: Tokens the answer may take; None: the generation budget (s1).
        ban_delimiters_in_answer: Ban both delimiters' first tokens while answering (s1 does not).
        max_new_tokens: The generation budget (s1's ``max_gen_toks``: 32768 on its benchmarks).
            None: ``tr.evaluate`` uses the benchmark's, else the backend sizes it from the model's
            context window less the longest prompt.
        temperature: 0 for greedy (s1's setting); above 0 samples.
        answer_kind: How answers are extracted (see :func:`tinyreason.evaluation.extract_answer`).

    Raises:
        ConfigError: an invalid budget, temperature or answer kind.

    Example:
        >>> bf = BudgetForcing(max_thinking=8000, waits=2)
        >>> bf.control.max_thinking, bf.control.waits, bf.control.min_tokens
        (8000, 2, 1)
        >>> BudgetForcing().control.max_thinking
        'auto'
        >>> solutions = bf.solve(backend, problems, seed=0)  # doctest: +SKIP
    """

    # The control's fields (max_thinking ... ban_delimiters_in_answer) and their checks are
    # ThinkingControl's own, inherited: one declaration serves both.
    max_new_tokens: int | None = None
    temperature: float = 0.0
    answer_kind: str = "auto"
    _control: ThinkingControl = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems: list[str] = []
        try:
            super().__post_init__()
        except ConfigError as err:
            problems.extend(err.problems)
        problems += check_sampling(self.temperature, self.answer_kind)
        problems += max_new_tokens_problems(self.max_new_tokens)
        if problems:
            raise ConfigError(problems)
        fields = {name: getattr(self, name) for name in CONTROL_FIELDS}
        object.__setattr__(self, "_control", ThinkingControl(**fields))

    @property
    def control(self) -> ThinkingControl:
        """The :class:`ThinkingControl` every backend enforces."""
        return self._control

    def with_budget(self, max_thinking: int | Literal["auto"] | None) -> BudgetForcing:
        """Return a copy with another thinking cap (minimums are lowered to fit under it).

        Example:
            >>> BudgetForcing(wait_below=100).with_budget(50).wait_below
            50
        """
        import dataclasses

        if isinstance(max_thinking, int) and not isinstance(max_thinking, bool):
            return dataclasses.replace(
                self,
                max_thinking=max_thinking,
                min_thinking=min(self.min_thinking, max_thinking),
                wait_below=min(self.wait_below, max_thinking),
            )
        return dataclasses.replace(self, max_thinking=max_thinking)

    def with_sampling(
        self, n: int | None = None, temperature: float | None = None
    ) -> BudgetForcing:
        """A copy sampling at ``temperature``; it draws one answer, so ``n`` must be None or 1.

        Example:
            >>> BudgetForcing().with_sampling(temperature=0.6).temperature
            0.6
        """
        import dataclasses

        if n is not None and n != 1:
            raise ConfigError(
                f"budget forcing draws one answer per problem, not n={n}; wrap it in majority "
                "voting: tr.scaler('majority-vote', n=..., inner=tr.scaler('budget-forcing'))"
            )
        if temperature is None or temperature == self.temperature:
            return self
        return dataclasses.replace(self, temperature=temperature)

    def with_answer_kind(self, kind: str) -> BudgetForcing:
        """A copy extracting ``kind`` where it was left ``"auto"`` (a kind set on purpose stays).

        Example:
            >>> BudgetForcing(answer_kind="math").with_answer_kind("integer").answer_kind
            'math'
        """
        import dataclasses

        if self.answer_kind != "auto" or kind == "auto":
            return self
        return dataclasses.replace(self, answer_kind=kind)

    def with_generation_budget(self, max_new_tokens: int | None) -> BudgetForcing:
        """A copy with ``max_new_tokens`` set where it was None (a benchmark's budget).

        Example:
            >>> BudgetForcing().with_generation_budget(32768).max_new_tokens
            32768
        """
        import dataclasses

        if self.max_new_tokens is not None or max_new_tokens is None:
            return self
        return dataclasses.replace(self, max_new_tokens=max_new_tokens)

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
        think_end = backend.format.think_end
        return [
            Solution(p.id, extract(g[0], self.answer_kind, think_end), (g[0],))
            for p, g in zip(problems, results, strict=True)
        ]


def extract(generation: Generation, kind: str, think_end: str | None) -> str | None:
    """Extract a generation's answer: after the end of thinking first, else anywhere in it."""
    from ..answers import extract_answer

    return extract_answer(generation.text, kind=kind, think_end=think_end)


def check_sampling(temperature: object, answer_kind: object) -> list[str]:
    """Problems with a scaler's temperature and answer kind (empty when both are fine)."""
    from ..answers import ANSWER_KINDS

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
