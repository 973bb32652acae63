"""Thinking control: the budget-forcing rules every backend enforces the same way.

s1's semantics (``reference/s1.md`` section 3), per sample:

1. The prompt ends with the format's ``think_start``; every token generated after it and before the
   end-of-thinking delimiter is a *thinking token* (injected wait text included).
2. The model *tries to end* thinking when it picks the first token of ``think_end`` or the end of
   turn. If it has thought fewer than ``min_thinking`` tokens, or fewer than ``waits`` waits were
   injected, that token is replaced by ``wait_text`` and thinking goes on.
3. Otherwise the end is allowed: the rest of ``think_end`` and the answer separator are forced
   (s1 appends ``<|im_start|>answer`` on a natural stop).
4. When thinking reaches ``max_thinking`` tokens, ``"\\n" + think_end + separator`` is forced, then
   ``final_answer_text`` (s1's ``Final Answer:``). Thinking is counted exactly and never exceeds the
   budget.
5. Then the model answers freely, for at most ``max_answer_tokens`` tokens, and cannot reopen
   thinking.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["ThinkingControl"]


@dataclass(frozen=True)
class ThinkingControl:
    """How long a student may and must think.

    Args:
        max_thinking: Thinking tokens at most; then the end of thinking is forced. None: no cap
            (the backend's ``max_new_tokens`` still bounds the whole generation).
        min_thinking: Thinking tokens at least; an earlier attempt to stop gets the wait text.
        waits: Attempts to stop that are ignored (replaced by the wait text) whatever the length:
            s1's ``thinking_n_ignore``.
        wait_text: Text appended when an attempt to stop is ignored (s1: ``"Wait"``).
        final_answer_text: Appended after the forced end of thinking (s1: ``"Final Answer:"``);
            None or ``""`` for none.
        max_answer_tokens: Tokens the answer may take after thinking ends.

    Raises:
        ConfigError: negative budgets, ``min_thinking > max_thinking``, an empty wait text with
            waits or a minimum, or a non-positive answer budget.

    Example:
        >>> ThinkingControl(max_thinking=8000, waits=2).max_new_tokens(delimiter_tokens=8)
        8520
    """

    max_thinking: int | None = None
    min_thinking: int = 0
    waits: int = 0
    wait_text: str = "Wait"
    final_answer_text: str | None = "Final Answer:"
    max_answer_tokens: int = 512

    def __post_init__(self) -> None:
        problems = []
        for name in ("min_thinking", "waits"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(f"{name} must be a whole number >= 0, got {value!r}")
        if self.max_thinking is not None and (
            isinstance(self.max_thinking, bool)
            or not isinstance(self.max_thinking, int)
            or self.max_thinking < 0
        ):
            problems.append(
                f"max_thinking must be None or a whole number >= 0, got {self.max_thinking!r}"
            )
        elif (
            self.max_thinking is not None
            and isinstance(self.min_thinking, int)
            and self.min_thinking > self.max_thinking
        ):
            problems.append(
                f"min_thinking ({self.min_thinking}) is above max_thinking ({self.max_thinking}); "
                "lower min_thinking or raise max_thinking."
            )
        if not isinstance(self.max_answer_tokens, int) or self.max_answer_tokens < 1:
            problems.append(f"max_answer_tokens must be >= 1, got {self.max_answer_tokens!r}")
        if (self.waits or self.min_thinking) and not (
            isinstance(self.wait_text, str) and self.wait_text
        ):
            problems.append(
                "wait_text is empty, but waits or min_thinking need it to extend thinking"
            )
        if problems:
            raise ConfigError(problems)

    @property
    def extends(self) -> bool:
        """True when attempts to stop may be replaced by the wait text."""
        return self.waits > 0 or self.min_thinking > 0

    def max_new_tokens(self, delimiter_tokens: int = 16, uncapped: int = 4096) -> int:
        """A generation length that fits the whole budget, the forced text and the answer.

        Args:
            delimiter_tokens: Allowance for forced delimiter and lead-in tokens.
            uncapped: Thinking allowance when ``max_thinking`` is None.
        """
        thinking = self.max_thinking if self.max_thinking is not None else uncapped
        return thinking + delimiter_tokens + self.max_answer_tokens
