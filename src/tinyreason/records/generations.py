"""Generations, solutions, and the thinking control every backend enforces.

:class:`Generation` is what a student writes, :class:`Solution` a scaler's answer, and
:class:`ThinkingControl` s1's budget forcing (the rules: :mod:`tinyreason.scaling.control`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError, DataError
from ._checks import require_count as _require_count
from ._checks import require_text as _require_text
from ._checks import whole as _whole

__all__ = ["AUTO_MARGIN", "ROUND_BUDGETS", "Generation", "Solution", "ThinkingControl"]


@dataclass(frozen=True)
class Generation:
    """One sampled completion from a :class:`~tinyreason.interfaces.Backend`.

    Args:
        text: Everything generated after the prompt, delimiters included.
        thinking: The thinking part (between the student format's delimiters).
        answer_text: The part after the end-of-thinking delimiter.
        thinking_tokens: Exact number of thinking tokens, injected "Wait" tokens included.
        answer_tokens: Tokens generated after the end-of-thinking delimiter.
        finish_reason: ``"stop"`` (end of turn) or ``"length"`` (ran out of tokens).
        waits: How many times the wait text was injected.
        forced_end: True when thinking ran out of budget and its end was forced.
        token_ids: Every generated id after the prompt (thinking, the appended end, the answer
            and the token that ended it), when the backend knows them exactly; None otherwise.

    Example:
        >>> g = Generation(text="6*7=42\\n</think>\\n42", thinking="6*7=42", answer_text="42",
        ...                thinking_tokens=6, answer_tokens=2)
        >>> g.forced_end
        False
    """

    text: str
    thinking: str
    answer_text: str
    thinking_tokens: int
    answer_tokens: int
    finish_reason: str = "stop"
    waits: int = 0
    forced_end: bool = False
    token_ids: tuple[int, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("text", "thinking", "answer_text"):
            _require_text("Generation", name, getattr(self, name), empty_ok=True)
        for name in ("thinking_tokens", "answer_tokens", "waits"):
            _require_count("Generation", name, getattr(self, name))
        if self.token_ids is not None:
            ids = tuple(self.token_ids)
            if not all(type(t) is int and t >= 0 for t in ids):
                raise DataError("Generation.token_ids must be whole numbers >= 0")
            object.__setattr__(self, "token_ids", ids)


@dataclass(frozen=True)
class Solution:
    """A test-time scaler's answer to one problem.

    Args:
        problem_id: The :attr:`Problem.id` solved.
        answer: The chosen, extracted answer, or None when none could be extracted.
        generations: Every sample the scaler drew (one for budget forcing).
        votes: Share of samples per distinct answer (majority voting), largest first.
        scores: A score per generation, when a scorer ranked them (best-of-n).

    Example:
        >>> g = Generation("x</think>4", "x", "4", thinking_tokens=1, answer_tokens=1)
        >>> Solution("p1", "4", (g,)).thinking_tokens
        1.0
    """

    problem_id: str
    answer: str | None
    generations: tuple[Generation, ...]
    votes: Mapping[str, float] = field(default_factory=dict)
    scores: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _require_text("Solution", "problem_id", self.problem_id)
        if not self.generations:
            raise DataError(f"Solution for {self.problem_id!r} has no generations.")
        object.__setattr__(self, "generations", tuple(self.generations))
        object.__setattr__(self, "votes", dict(self.votes))
        object.__setattr__(self, "scores", tuple(self.scores))

    @property
    def thinking_tokens(self) -> float:
        """Mean thinking tokens per sample."""
        return sum(g.thinking_tokens for g in self.generations) / len(self.generations)

    @property
    def total_thinking_tokens(self) -> int:
        """Thinking tokens over all samples: the test-time compute spent on thinking."""
        return sum(g.thinking_tokens for g in self.generations)


#: Tokens s1's ``max_tokens_thinking="auto"`` leaves for the answer beyond the delimiters.
AUTO_MARGIN = 100
ROUND_BUDGETS = ("whole", "remaining")


@dataclass(frozen=True)
class ThinkingControl:
    """How long a student may and must think (s1's budget forcing; see the module docs).

    Args:
        max_thinking: Thinking tokens at most (s1's ``max_tokens_thinking``): an int, ``"auto"``
            (s1's: the generation budget less the longest prompt, the delimiters and 100), or None
            for the whole generation budget (s1's behaviour when no cap is given).
        waits: Attempts to stop that are ignored and answered with ``wait_text`` (s1's
            ``thinking_n_ignore``); every thinking round then runs with ``min_tokens=1``.
        wait_text: What is appended after an ignored stop (s1's ``thinking_n_ignore_str``).
        min_thinking: The engine's ``min_tokens`` for the thinking round (s1's
            ``min_tokens_thinking``): the end of thinking is suppressed for that many tokens and
            nothing is inserted. s1 ignores it when waits are set, so the two cannot be combined.
        wait_below: tinyreason's variant of a minimum: while thinking is shorter than this when
            the model stops, the stop is answered with ``wait_text`` (as a wait that is not counted
            in ``waits``). 0: off (s1 has no such rule).
        round_budget: ``"whole"``: every round may use the whole thinking budget, and the joined
            thinking is cut to it (s1's fork, the paper's numbers). ``"remaining"``: each round
            gets what earlier rounds left (s1's README ``generate.py``).
        final_answer_text: The lead-in after a forced end (s1: ``"Final Answer:"``); None or
            ``""``: none.
        max_answer_tokens: Tokens the answer may take; None: the whole generation budget (s1).
        ban_delimiters_in_answer: Ban the first tokens of both delimiters while answering, so the
            answer cannot reopen thinking (tinyreason's earlier default; s1 bans nothing).

    Raises:
        ConfigError: negative budgets, an unknown ``round_budget``, ``min_thinking`` with waits,
            a minimum above the cap, or an empty wait text where a wait may be needed.

    Example:
        >>> ThinkingControl().max_thinking, ThinkingControl().round_budget
        ('auto', 'whole')
        >>> ThinkingControl(max_thinking=8000, waits=2).min_tokens
        1
    """

    max_thinking: int | Literal["auto"] | None = "auto"
    waits: int = 0
    wait_text: str = "Wait"
    min_thinking: int = 0
    wait_below: int = 0
    round_budget: Literal["whole", "remaining"] = "whole"
    final_answer_text: str | None = "Final Answer:"
    max_answer_tokens: int | None = None
    ban_delimiters_in_answer: bool = False

    def __post_init__(self) -> None:
        problems = []
        for name in ("waits", "min_thinking", "wait_below"):
            if not _whole(getattr(self, name)):
                problems.append(f"{name} must be a whole number >= 0, got {getattr(self, name)!r}")
        cap = self.max_thinking
        if not (cap is None or cap == "auto" or _whole(cap)):
            problems.append(
                f"max_thinking must be a whole number >= 0, 'auto' or None, got {cap!r}"
            )
        elif _whole(cap):
            for name in ("min_thinking", "wait_below"):
                value = getattr(self, name)
                if _whole(value) and value > cap:
                    problems.append(
                        f"{name} ({value}) is above max_thinking ({cap}); lower {name} or raise "
                        "max_thinking."
                    )
        if self.round_budget not in ROUND_BUDGETS:
            problems.append(
                f"round_budget must be one of {', '.join(ROUND_BUDGETS)}, got {self.round_budget!r}"
            )
        if self.max_answer_tokens is not None and not _whole(self.max_answer_tokens, 1):
            problems.append(
                f"max_answer_tokens must be None or >= 1, got {self.max_answer_tokens!r}"
            )
        if _whole(self.waits) and _whole(self.min_thinking) and self.waits and self.min_thinking:
            problems.append(
                "min_thinking cannot be combined with waits: s1's code then runs every round with "
                "min_tokens=1 and ignores min_tokens_thinking. Use waits (s1's choice), or "
                "wait_below for a minimum reached by waiting."
            )
        if (self.waits or self.wait_below) and not (
            isinstance(self.wait_text, str) and self.wait_text
        ):
            problems.append(
                "wait_text is empty, but waits or wait_below need it to extend thinking"
            )
        if self.final_answer_text is not None and not isinstance(self.final_answer_text, str):
            problems.append(
                f"final_answer_text must be a string or None, got {self.final_answer_text!r}"
            )
        if not isinstance(self.ban_delimiters_in_answer, bool):
            problems.append("ban_delimiters_in_answer must be True or False")
        if problems:
            raise ConfigError(problems)

    @property
    def extends(self) -> bool:
        """True when a stop may be answered with the wait text."""
        return self.waits > 0 or self.wait_below > 0

    @property
    def min_tokens(self) -> int:
        """The engine's ``min_tokens`` for every thinking round (s1's rule)."""
        return 1 if self.extends else self.min_thinking

    def thinking_budget(self, max_new_tokens: int, auto_overhead: int) -> int:
        """The thinking cap in tokens for a generation budget.

        Args:
            max_new_tokens: The generation budget (s1's ``max_gen_toks``).
            auto_overhead: For ``"auto"``: the longest prompt plus the ``think_start`` and
                ``think_end + "\\nFinal Answer:"`` tokens.

        Raises:
            ConfigError: ``"auto"`` leaves no thinking tokens.

        Example:
            >>> ThinkingControl().thinking_budget(32768, 300)
            32368
            >>> ThinkingControl(max_thinking=None).thinking_budget(32768, 300)
            32768
        """
        if self.max_thinking is None:
            return max_new_tokens
        if self.max_thinking != "auto":
            return int(self.max_thinking)
        budget = max_new_tokens - auto_overhead - AUTO_MARGIN
        if budget < 1:
            raise ConfigError(
                f"max_thinking='auto' leaves {budget} thinking tokens: the generation budget "
                f"({max_new_tokens}) is used up by the longest prompt and the delimiters "
                f"({auto_overhead}) and s1's margin of {AUTO_MARGIN}. Raise max_new_tokens or "
                "give max_thinking a number."
            )
        return budget
