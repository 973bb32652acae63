r"""Rejection sampling (s1's RS baseline): sample until the thinking fits the budget.

s1's code (``rejection_sample=true`` in its lm-evaluation-harness fork, ``temperature=1``) draws a
thinking for every problem, keeps those that ended by themselves within ``max_tokens_thinking``,
draws again for the others, and answers each kept thinking. It controls length perfectly and scales
*inversely* (shorter thinking that fits is thinking on easier paths): at 3,500 tokens on AIME24 it
took about 655 tries per kept sample (paper section 5, Table 3).

:class:`RejectionSampling` runs the same loop through any :class:`~tinyreason.Backend`: each round
is one ``generate`` call holding every problem still without a sample, its tries capped at the
budget with no answer beyond one token; then one more call answers every kept thinking. s1 loops
until every problem has a sample; here ``max_tries`` bounds the loop, and a problem that reaches
it says so (``RejectionSolution.accepted`` is False) and is answered as ``on_exhausted`` says.

Example:
    >>> rs = RejectionSampling(max_thinking=3500, max_tries=1000)
    >>> rs.control.max_thinking, rs.with_budget(4000).max_thinking
    (3500, 4000)
    >>> [solution] = rs.solve(backend, [problem], seed=0)  # doctest: +SKIP
    >>> solution.tries, solution.accepted  # doctest: +SKIP
    (7, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar, Literal

from ..errors import ConfigError
from ..records import Generation, Problem, Solution, ThinkingControl
from .answering import answer_after, joined, raw_thinking
from .budget_forcing import BudgetForcing, check_problems, check_results, extract
from .common import temperature_problems

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = ["EXHAUSTED", "RejectionSampling", "RejectionSolution"]

#: What a problem that used up ``max_tries`` gets: ``"forced"``, budget forcing's answer at the
#: budget (one more sample, cut there); ``"none"``, no answer (graded wrong).
EXHAUSTED = ("forced", "none")


@dataclass(frozen=True)
class RejectionSolution(Solution):
    """A :class:`~tinyreason.Solution` that says how many tries it took.

    Args:
        tries: Samples drawn for the problem, the kept one included.
        accepted: False when ``max_tries`` ran out before a thinking fitted the budget.

    Example:
        >>> g = Generation("4</think>4", "4", "4", 1, 1)
        >>> RejectionSolution("p", "4", (g,), tries=3).accepted
        True
    """

    tries: int = 1
    accepted: bool = True


def _round_seed(seed: int | None, name: object) -> int | None:
    """The seed of one round (or of the answers): derived from the call's, None stays None."""
    if seed is None:
        return None
    key = f"tinyreason-rejection/{seed}/{name}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") >> 1


@dataclass(frozen=True)
class RejectionSampling:
    """Sample at temperature 1 until a thinking ends by itself within the budget (s1's RS).

    Args:
        max_thinking: The budget: a kept sample thought at most this many tokens and ended its
            thinking itself. None: any sample that ends before the generation budget is kept.
        max_tries: Samples drawn per problem at most (s1 has no limit).
        temperature: Sampling temperature (s1: 1).
        on_exhausted: For a problem whose tries ran out (:data:`EXHAUSTED`): ``"forced"``
            answers it as budget forcing at the budget would (one more sample, its thinking cut
            at the budget), ``"none"`` gives no answer (its last try is kept to show).
        inner: Budget forcing's answer settings: the generation budget (``max_new_tokens``), the
            answer budget, the lead-in after a cut thinking and the answer kind (its own cap,
            temperature and waits are not used; waits are refused).

    Raises:
        ConfigError: a bad budget, limit, temperature, ``on_exhausted`` or ``inner``.

    Example:
        >>> RejectionSampling(max_thinking=64).compute_bounds()
        (0.0, 64.0)
    """

    max_thinking: int | None = None
    max_tries: int = 64
    temperature: float = 1.0
    on_exhausted: Literal["forced", "none"] = "forced"
    inner: BudgetForcing = field(default_factory=BudgetForcing)
    #: The unit of :meth:`compute_bounds` and :meth:`compute_used`.
    compute_unit: ClassVar[str] = "tokens"

    def __post_init__(self) -> None:
        problems = []
        cap = self.max_thinking
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            problems.append(f"max_thinking must be None or a whole number >= 1, got {cap!r}")
        tries = self.max_tries
        if isinstance(tries, bool) or not isinstance(tries, int) or tries < 1:
            problems.append(f"max_tries must be a whole number >= 1, got {tries!r}")
        problems += temperature_problems(self.temperature)
        if self.on_exhausted not in EXHAUSTED:
            problems.append(
                f"on_exhausted must be one of {', '.join(map(repr, EXHAUSTED))}, got "
                f"{self.on_exhausted!r}"
            )
        if not isinstance(self.inner, BudgetForcing):
            problems.append(f"inner must be a BudgetForcing, got {type(self.inner).__name__}")
        elif self.inner.extends or self.inner.min_thinking:
            problems.append(
                "rejection sampling keeps samples that end their thinking by themselves: give "
                "it an inner BudgetForcing without waits, wait_below or min_thinking"
            )
        if problems:
            raise ConfigError(problems)

    @property
    def control(self) -> ThinkingControl:
        """What a kept sample's thinking keeps to: at most ``max_thinking`` tokens."""
        return self.inner.with_budget(self.max_thinking).control

    @property
    def try_control(self) -> ThinkingControl:
        """The control every try runs under: one answer token, a cap one above the budget.

        A thinking of exactly ``max_thinking`` tokens can then still end itself (the token that
        ends it is generated too); a try that reaches the cap is rejected.
        """
        cap = self.max_thinking
        return ThinkingControl(
            max_thinking=cap + 1 if cap is not None else None,
            round_budget=self.inner.round_budget,
            final_answer_text=None,
            max_answer_tokens=1,
        )

    def with_budget(self, max_thinking: int | None) -> RejectionSampling:
        """A copy that keeps samples within ``max_thinking`` tokens."""
        return dataclasses.replace(self, max_thinking=max_thinking)

    def with_generation_budget(self, max_new_tokens: int | None) -> RejectionSampling:
        """A copy that generates with ``max_new_tokens`` where it had no budget of its own."""
        inner = self.inner.with_generation_budget(max_new_tokens)
        return self if inner is self.inner else dataclasses.replace(self, inner=inner)

    def with_answer_kind(self, kind: str) -> RejectionSampling:
        """A copy extracting ``kind`` where it was left ``"auto"``."""
        inner = self.inner.with_answer_kind(kind)
        return self if inner is self.inner else dataclasses.replace(self, inner=inner)

    def with_sampling(
        self, n: int | None = None, temperature: float | None = None
    ) -> RejectionSampling:
        """A copy sampling at ``temperature``; it keeps one sample per problem (``n`` None or 1).

        Raises:
            ConfigError: ``n`` above 1.
        """
        if n is not None and n != 1:
            raise ConfigError(
                f"rejection sampling keeps one sample per problem, not n={n}; run it with "
                "samples=1 (or None)."
            )
        if temperature is None or temperature == self.temperature:
            return self
        return dataclasses.replace(self, temperature=temperature)

    def compute_bounds(self) -> tuple[float, float | None]:
        """The thinking tokens asked for: (0, max_thinking)."""
        return 0.0, float(self.max_thinking) if self.max_thinking is not None else None

    def compute_used(self, generation: Generation) -> float:
        """A kept sample's thinking tokens."""
        return float(generation.thinking_tokens)

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Draw tries in rounds (one backend call each) until every problem has a kept sample.

        Returns:
            One :class:`RejectionSolution` per problem, in order: the kept sample (thinking and
            answer), ``tries`` and ``accepted``.
        """
        problems = check_problems(problems)
        if not problems:
            return []
        prompts = [backend.prompt(p.question) for p in problems]
        control = self.try_control
        tries = [0] * len(problems)
        kept: dict[int, Generation] = {}
        last: dict[int, Generation] = {}
        pending = list(range(len(problems)))
        for round_ in range(self.max_tries):
            results = backend.generate(
                [prompts[i] for i in pending],
                n=1,
                temperature=self.temperature,
                max_new_tokens=self.inner.max_new_tokens,
                control=control,
                seed=_round_seed(seed, round_),
            )
            check_results(results, len(pending), 1)
            for i, (generation,) in zip(pending, results, strict=True):
                tries[i] += 1
                if generation.forced_end:
                    last[i] = generation
                else:
                    kept[i] = generation
            pending = [i for i in pending if i not in kept]
            if not pending:
                break
        return self._answer(backend, problems, prompts, kept, last, tries, seed)

    def _answer(
        self,
        backend: Backend,
        problems: list[Problem],
        prompts: list[str],
        kept: dict[int, Generation],
        last: dict[int, Generation],
        tries: list[int],
        seed: int | None,
    ) -> list[Solution]:
        """Answer every kept thinking in one call; budget-force exhausted ones (``"forced"``)."""
        think_end = backend.format.think_end
        order = sorted(kept)
        answers = answer_after(
            backend,
            # s1 appends the end of thinking alone after a thinking that ended itself.
            [prompts[i] + raw_thinking(kept[i], think_end) + think_end for i in order],
            temperature=self.temperature,
            max_new_tokens=self.inner.max_answer_tokens or self.inner.max_new_tokens,
            seed=_round_seed(seed, "answers"),
        )
        final = {
            i: joined(
                backend.format,
                raw_thinking(kept[i], think_end),
                think_end,
                answer,
                thinking_tokens=kept[i].thinking_tokens,
            )
            for i, answer in zip(order, answers, strict=True)
        }
        exhausted = [i for i in range(len(problems)) if i not in kept]
        if exhausted and self.on_exhausted == "forced":
            # What budget forcing gives at this budget: one more sample, cut at the budget.
            forcing = self.inner.with_budget(self.max_thinking).with_sampling(
                temperature=self.temperature
            )
            forced = forcing.solve(
                backend, [problems[i] for i in exhausted], seed=_round_seed(seed, "forced")
            )
            final |= {i: s.generations[0] for i, s in zip(exhausted, forced, strict=True)}
        solutions: list[Solution] = []
        for i, problem in enumerate(problems):
            generation = final.get(i, last.get(i))
            assert generation is not None
            answer = extract(generation, self.inner.answer_kind, think_end) if i in final else None
            solutions.append(
                RejectionSolution(
                    problem.id, answer, (generation,), tries=tries[i], accepted=i in kept
                )
            )
        return solutions
