"""Thinking control: the budget-forcing rules every backend enforces the same way.

The defaults are s1's own code: the loop of the lm-evaluation-harness fork that produced the paper's
numbers (``lm_eval/models/vllm_causallms.py::_model_generate`` at s1 @77272c6). Per sample, with a
generation budget ``G`` (``max_new_tokens``, s1's ``max_gen_toks``) and a thinking budget ``T``:

1. The prompt ends with the format's ``think_start``. Thinking runs in *rounds*; each round is one
   engine call that stops on the ids that end thinking (``think_end``'s first token, the end of
   turn, the model's EOS), with ``min_tokens=1`` whenever waits are asked for.
2. ``round_budget="whole"`` (s1's fork, default): every round may generate ``T`` tokens.
   ``"remaining"`` (the README's ``generate.py`` after s1 PR #120): a round gets ``T`` minus the
   tokens the earlier rounds generated, and a wait is only added while some budget is left.
3. A round that stops on a stop token while waits are left (or, with ``wait_below``, while thinking
   is shorter than that) has its stop token removed and the wait text's tokens appended directly
   (no space, no newline); the next round continues. A round that ends by length, or the last
   round, is final.
4. The joined thinking is cut to ``T`` tokens. Then the *last round's* finish decides the end:
   by length, ``"\\n"`` (unless the uncut thinking already ends with a newline) plus
   ``think_end + "\\n" + final_answer_text`` is appended; by a stop, ``think_end`` alone (no
   newline, no lead-in), even when the cut shortened the thinking.
5. The answer is one more generation of up to ``G`` tokens (or ``max_answer_tokens``) that stops
   at the end of turn, with nothing banned.

``max_thinking="auto"`` is s1's: ``G`` minus the longest prompt, the ``think_start`` tokens, the
``think_end + "\\nFinal Answer:"`` tokens and 100.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError

__all__ = ["AUTO_MARGIN", "ROUND_BUDGETS", "ThinkingControl"]

#: Tokens s1's ``max_tokens_thinking="auto"`` leaves for the answer beyond the delimiters.
AUTO_MARGIN = 100
ROUND_BUDGETS = ("whole", "remaining")


def _whole(value: object, low: int = 0) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= low


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
                if _whole(value) and value > cap:  # type: ignore[operator]
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
