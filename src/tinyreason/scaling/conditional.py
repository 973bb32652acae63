r"""s1's conditional control: ask the student for a length instead of forcing one.

s1 compared budget forcing with three ways of telling a student how long to think (paper Table 3;
the prompts and settings are its evaluation code's, ``eval/commands.sh`` at s1 @77272c6):

* :class:`TokenConditional` (TCC): the question ends with ``"Think for up to N tokens."`` and the
  student thinks under s1's ``max_thinking="auto"``; with ``forcing=True`` (TCC + BF) the thinking
  is also capped at ``N`` tokens by budget forcing.
* :class:`StepConditional` (SCC): ``"Think for up to N steps."``; the scaler counts steps (parts of
  the thinking between blank lines). With ``forcing=True`` (SCC + BF) thinking that runs past its
  ``N``-th step is cut there and the end of thinking appended, as s1 stops at the ``"0 steps
  left"`` marker; the answer then follows the cut thinking.
* :class:`ClassConditional` (CCC): s1's ``"short"`` or ``"long"`` thinking prompt.

Each is budget forcing (its ``inner``, s1's defaults) over prompts that carry the instruction, so
all problems go to the backend in one call, on every backend. TCC and SCC students are trained on
traces transformed by :mod:`tinyreason.students.conditioning` (the same instruction texts).

For s1's Control metric each scaler says what it was asked for (:meth:`compute_bounds`) and what
a sample used, in the same unit (:meth:`compute_used`: tokens for TCC and CCC, steps for SCC);
``tr.compare`` reads both.

Example:
    >>> tcc = TokenConditional(tokens=512, forcing=True)
    >>> tcc.control.max_thinking, tcc.with_budget(1024).tokens
    (512, 1024)
    >>> StepConditional(steps=16).compute_bounds()
    (0.0, 16.0)
    >>> ClassConditional().with_budget("short").thinking
    'short'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal, TypeVar

from ..errors import ConfigError
from ..records import Generation, Problem, Solution, ThinkingControl
from ..students.conditioning import (
    CLASS_PROMPTS,
    STEP_SEPARATOR,
    STEPS_INSTRUCTION,
    TOKENS_INSTRUCTION,
    count_steps,
    cut_steps,
    with_step_budget,
    with_thinking_class,
    with_token_budget,
)
from .answering import answer_after, joined, raw_thinking, token_count
from .budget_forcing import BudgetForcing, check_problems, extract

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = ["ClassConditional", "StepConditional", "TokenConditional"]

_P = TypeVar("_P", bound="_Prompted")


def _budget_problem(name: str, value: object) -> list[str]:
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return []
    return [f"{name} must be None or a whole number >= 1, got {value!r}"]


def _common_problems(inner: object, forcing: object, instruction: object) -> list[str]:
    problems = []
    if not isinstance(inner, BudgetForcing):
        problems.append(
            f"inner must be a BudgetForcing (its control and sampling apply to every sample), "
            f"got {type(inner).__name__}"
        )
    if not isinstance(forcing, bool):
        problems.append(f"forcing must be True or False, got {forcing!r}")
    if not isinstance(instruction, str) or "{n}" not in instruction:
        problems.append(
            f"instruction must be a text with {{n}} for the budget, got {instruction!r}"
        )
    return problems


class _Prompted:
    """What the conditional scalers share: budget forcing over questions that carry a request."""

    inner: BudgetForcing
    #: The unit of :meth:`compute_bounds` and :meth:`compute_used`.
    compute_unit: ClassVar[str] = "tokens"

    @property
    def forcer(self) -> BudgetForcing:
        """The budget forcing every sample runs under (``inner``, capped where asked)."""
        return self.inner

    @property
    def control(self) -> ThinkingControl:
        """The thinking control every sample follows (tr.evaluate's Control reads it)."""
        return self.forcer.control

    def question(self, question: str) -> str:
        """The question as the student is asked it."""
        raise NotImplementedError

    def with_generation_budget(self: _P, max_new_tokens: int | None) -> _P:
        """A copy whose budget forcing generates with ``max_new_tokens`` where it had none."""
        inner = self.inner.with_generation_budget(max_new_tokens)
        return self if inner is self.inner else dataclasses.replace(self, inner=inner)  # type: ignore[type-var]

    def with_answer_kind(self: _P, kind: str) -> _P:
        """A copy whose budget forcing extracts ``kind`` where it was left ``"auto"``."""
        inner = self.inner.with_answer_kind(kind)
        return self if inner is self.inner else dataclasses.replace(self, inner=inner)  # type: ignore[type-var]

    def with_sampling(self: _P, n: int | None = None, temperature: float | None = None) -> _P:
        """A copy sampling at ``temperature``; one answer per problem (``n`` None or 1)."""
        inner = self.inner.with_sampling(n, temperature)
        return self if inner is self.inner else dataclasses.replace(self, inner=inner)  # type: ignore[type-var]

    def compute_used(self, generation: Generation) -> float:
        """What a sample used, in the unit of :meth:`compute_bounds` (thinking tokens)."""
        return float(generation.thinking_tokens)

    def _prompted(self, problems: Sequence[Problem]) -> list[Problem]:
        return [dataclasses.replace(p, question=self.question(p.question)) for p in problems]

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Budget-force every problem, asked with the instruction, in one backend call.

        Returns:
            One :class:`~tinyreason.Solution` per problem, in order (ids unchanged).
        """
        return self.forcer.solve(backend, self._prompted(check_problems(problems)), seed=seed)


@dataclass(frozen=True)
class TokenConditional(_Prompted):
    """s1's token-conditional control: ``"Think for up to N tokens."`` (TCC, TCC + BF).

    Args:
        tokens: The budget ``N`` in the prompt; None asks for nothing (plain budget forcing).
        forcing: Also cap the thinking at ``N`` tokens with budget forcing (s1's TCC + BF).
        inner: The budget forcing every sample runs under (s1: ``max_thinking="auto"``, greedy).
        instruction: The text appended to the question (``{n}``: the budget).

    Raises:
        ConfigError: a bad budget, ``inner`` or instruction.

    Example:
        >>> tcc = TokenConditional(tokens=2048)
        >>> tcc.question("1+1?")
        '1+1?\\n\\nThink for up to 2048 tokens.'
        >>> tcc.control.max_thinking, TokenConditional(2048, forcing=True).control.max_thinking
        ('auto', 2048)
        >>> solutions = tcc.solve(backend, problems, seed=0)  # doctest: +SKIP
    """

    tokens: int | None = None
    forcing: bool = False
    inner: BudgetForcing = field(default_factory=BudgetForcing)
    instruction: str = TOKENS_INSTRUCTION

    def __post_init__(self) -> None:
        problems = _budget_problem("tokens", self.tokens)
        problems += _common_problems(self.inner, self.forcing, self.instruction)
        if problems:
            raise ConfigError(problems)

    @property
    def forcer(self) -> BudgetForcing:
        """``inner``, capped at ``tokens`` with ``forcing``."""
        if self.forcing and self.tokens is not None:
            return self.inner.with_budget(self.tokens)
        return self.inner

    def question(self, question: str) -> str:
        """The question with the token instruction (unchanged without a budget)."""
        if self.tokens is None:
            return question
        return with_token_budget(question, self.tokens, self.instruction)

    def with_budget(self, tokens: int | None) -> TokenConditional:
        """A copy that asks for ``tokens`` (and caps at it with ``forcing``)."""
        return dataclasses.replace(self, tokens=tokens)

    def compute_bounds(self) -> tuple[float, float | None]:
        """The thinking tokens asked for: (0, N)."""
        return 0.0, float(self.tokens) if self.tokens is not None else None


@dataclass(frozen=True)
class StepConditional(_Prompted):
    """s1's step-conditional control: ``"Think for up to N steps."`` (SCC, SCC + BF).

    A step is a part of the thinking between blank lines (``separator``); an SCC student writes a
    ``"K steps left"`` line at the start of each (:func:`~tinyreason.students.conditioning.\
step_conditioned` makes its training data).

    Args:
        steps: The budget ``N`` in the prompt; None asks for nothing.
        forcing: End the thinking after its ``N``-th step (s1's SCC + BF): thinking that runs
            past it is cut there, the end of thinking appended, and the answer generated after
            it (one more backend call for the samples that were cut). Through the Backend
            protocol the model cannot be stopped at a step, so it writes on up to ``inner``'s
            cap and the excess is dropped: set ``inner=BudgetForcing(max_thinking=...)`` to bound
            that waste.
        inner: The budget forcing every sample runs under (s1: ``max_thinking="auto"``).
        separator: What ends a step (s1: a blank line).
        instruction: The text appended to the question (``{n}``: the budget).

    Raises:
        ConfigError: a bad budget, ``inner``, separator or instruction.

    Example:
        >>> scc = StepConditional(steps=4, forcing=True)
        >>> scc.question("1+1?")
        '1+1?\\n\\nThink for up to 4 steps.'
        >>> scc.compute_used(Generation("a\\n\\nb</think>2", "a\\n\\nb", "2", 3, 1))
        2.0
    """

    steps: int | None = None
    forcing: bool = False
    inner: BudgetForcing = field(default_factory=BudgetForcing)
    separator: str = STEP_SEPARATOR
    instruction: str = STEPS_INSTRUCTION
    compute_unit: ClassVar[str] = "steps"

    def __post_init__(self) -> None:
        problems = _budget_problem("steps", self.steps)
        problems += _common_problems(self.inner, self.forcing, self.instruction)
        if not isinstance(self.separator, str) or not self.separator:
            problems.append(f"separator must be a non-empty text, got {self.separator!r}")
        if problems:
            raise ConfigError(problems)

    def question(self, question: str) -> str:
        """The question with the step instruction (unchanged without a budget)."""
        if self.steps is None:
            return question
        return with_step_budget(question, self.steps, self.instruction)

    def with_budget(self, steps: int | None) -> StepConditional:
        """A copy that asks for ``steps`` (and stops after them with ``forcing``)."""
        return dataclasses.replace(self, steps=steps)

    def compute_bounds(self) -> tuple[float, float | None]:
        """The steps asked for: (0, N)."""
        return 0.0, float(self.steps) if self.steps is not None else None

    def compute_used(self, generation: Generation) -> float:
        """The steps a sample's thinking holds."""
        return float(count_steps(generation.thinking, self.separator))

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Budget-force every problem; with ``forcing``, end thinking after the last step.

        Returns:
            One :class:`~tinyreason.Solution` per problem, in order. A cut sample's generation
            holds the cut thinking (its tokens counted in the backend's tokenizer), the end of
            thinking and the new answer.
        """
        prompted = self._prompted(check_problems(problems))
        solutions = self.inner.solve(backend, prompted, seed=seed)
        if not self.forcing or self.steps is None:
            return solutions
        think_end = backend.format.think_end
        cuts: dict[int, str] = {}
        for i, solution in enumerate(solutions):
            cut, was_cut = cut_steps(
                raw_thinking(solution.generations[0], think_end), self.steps, self.separator
            )
            if was_cut:
                cuts[i] = cut
        # s1 stops on the next step's marker and appends the end of thinking alone; the newline
        # the model writes before it in training text is added when the cut lacks one.
        ends = {i: ("" if cut.endswith("\n") else "\n") + think_end for i, cut in cuts.items()}
        answers = answer_after(
            backend,
            [backend.prompt(prompted[i].question) + cut + ends[i] for i, cut in cuts.items()],
            temperature=self.inner.temperature,
            max_new_tokens=self.inner.max_answer_tokens or self.inner.max_new_tokens,
            seed=seed,
        )
        out = list(solutions)
        for (i, cut), answer in zip(cuts.items(), answers, strict=True):
            old = solutions[i].generations[0]
            generation = joined(
                backend.format,
                cut,
                ends[i],
                answer,
                thinking_tokens=token_count(backend, cut),
                waits=old.waits,
            )
            kind = self.inner.answer_kind
            out[i] = Solution(
                solutions[i].problem_id, extract(generation, kind, think_end), (generation,)
            )
        return out


@dataclass(frozen=True)
class ClassConditional(_Prompted):
    """s1's class-conditional control: its ``"short"`` or ``"long"`` thinking prompt (CCC).

    The two settings of one method: ``with_budget("short")`` / ``with_budget("long")`` (what
    ``tr.compare`` sweeps: ``(ClassConditional(), ["short", "long"])``).

    Args:
        thinking: ``"short"``, ``"long"``, or None (no prompt: plain budget forcing).
        inner: The budget forcing every sample runs under (s1: ``max_thinking="auto"``).
        bounds: The thinking tokens each class promises, for s1's Control (e.g. ``{"short":
            (0, 4096), "long": (4096, None)}``); a class without bounds is always in control.

    Raises:
        ConfigError: an unknown class, ``inner`` or bounds.

    Example:
        >>> ccc = ClassConditional("long", bounds={"long": (2000, None)})
        >>> ccc.question("1+1?").endswith("that you have the correct answer.")
        True
        >>> ccc.compute_bounds(), ccc.with_budget("short").compute_bounds()
        ((2000.0, None), (0.0, None))
    """

    thinking: Literal["short", "long"] | None = None
    inner: BudgetForcing = field(default_factory=BudgetForcing)
    # A dict cannot be hashed: the scaler's hash (a frozen dataclass's) leaves it out.
    bounds: Mapping[str, tuple[float, float | None]] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        problems = _common_problems(self.inner, False, "{n}")
        if self.thinking is not None and self.thinking not in CLASS_PROMPTS:
            problems.append(
                f"thinking must be one of {', '.join(map(repr, CLASS_PROMPTS))} or None, got "
                f"{self.thinking!r}"
            )
        if not isinstance(self.bounds, Mapping) or any(
            k not in CLASS_PROMPTS or not _is_range(v) for k, v in self.bounds.items()
        ):
            problems.append(
                "bounds must map 'short' / 'long' to (min, max) thinking tokens (max may be "
                f"None), got {self.bounds!r}"
            )
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "bounds", dict(self.bounds))

    def question(self, question: str) -> str:
        """The question with the class prompt (unchanged without a class)."""
        return question if self.thinking is None else with_thinking_class(question, self.thinking)

    def with_budget(self, thinking: Literal["short", "long"] | None) -> ClassConditional:
        """A copy that asks for ``"short"`` or ``"long"`` thinking."""
        return dataclasses.replace(self, thinking=thinking)

    def compute_bounds(self) -> tuple[float, float | None]:
        """The thinking tokens the class promises (``bounds``), else (0, unbounded)."""
        if self.thinking is None or self.thinking not in self.bounds:
            return 0.0, None
        low, high = self.bounds[self.thinking]
        return float(low), float(high) if high is not None else None


def _is_range(value: object) -> bool:
    def number(x: object) -> bool:
        return isinstance(x, (int, float)) and not isinstance(x, bool)

    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and number(value[0])
        and (value[1] is None or number(value[1]))
    )
