"""Any :class:`~tinyreason.interfaces.StudentFormat` as a ThinkFormat, through its Protocol alone.

Backends, trainers and the local teacher work with :class:`~tinyreason.students.ThinkFormat`'s
richer interface (delimiter token ids, the ends budget forcing appends, the chat prompt without
``think_start``). A plugin's format need not have any of that: :func:`as_think_format` wraps it in
a :class:`ProtocolFormat` that calls only what the Protocol declares (``name``, ``think_start``,
``think_end``, ``prompt``, ``completion``, ``parse``) and derives the rest the way s1 does:

* the natural end is ``think_end``; the forced end is ``think_end + "\\n" + lead-in``;
* the chat prompt is ``prompt(...)`` without its trailing ``think_start``;
* the end of turn is the tokenizer's EOS token;
* the answer separator is unknown (empty): a free generation's answer tokens are all that follow
  ``think_end``.

Example:
    >>> class Tags:  # a plugin's format, written from the Protocol alone
    ...     name, think_start, think_end = "tags", "<think>", "</think>"
    ...     def prompt(self, tokenizer, question): return f"Q: {question}\\n<think>"
    ...     def completion(self, thinking, answer, tokenizer): return f"{thinking}</think>{answer}"
    ...     def parse(self, text): return tuple(s.strip() for s in text.partition("</think>")[::2])
    >>> fmt = as_think_format(Tags())
    >>> fmt.chat_prompt(None, "6*7?"), fmt.forced_end("Final Answer:"), fmt.parse("42</think>42")
    ('Q: 6*7?\\n', '</think>\\nFinal Answer:', ('42', '42'))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..interfaces import StudentFormat
from .formats import ThinkFormat

__all__ = ["ProtocolFormat", "as_think_format"]


@dataclass(frozen=True)
class ProtocolFormat(ThinkFormat):
    """A ThinkFormat over a plugin's StudentFormat: rendering and parsing are the plugin's own.

    Args:
        plugin: The wrapped format; only its Protocol members are used.

    Example:
        >>> import tinyreason as tr
        >>> ProtocolFormat("x", "<think>", "</think>", plugin=None).natural_end()
        '</think>'
    """

    plugin: StudentFormat | None = field(default=None, compare=False, repr=False)

    @property
    def _wrapped(self) -> StudentFormat:
        """The plugin's format.

        Raises:
            ConfigError: this ProtocolFormat wraps none (build one with :func:`as_think_format`).
        """
        if self.plugin is None:
            raise ConfigError(
                f"ProtocolFormat {self.name!r} wraps no plugin format; build it with "
                "as_think_format(fmt)."
            )
        return self.plugin

    def prompt(self, tokenizer: Any, question: str) -> str:
        """The plugin's prompt (it ends with ``think_start``)."""
        return str(self._wrapped.prompt(tokenizer, question))

    def chat_prompt(self, tokenizer: Any, question: str) -> str:
        """The plugin's prompt without its trailing ``think_start`` (where a completion starts)."""
        text = self.prompt(tokenizer, question)
        return text[: -len(self.think_start)] if text.endswith(self.think_start) else text

    def completion(self, thinking: str, answer: str, tokenizer: Any) -> str:
        """The plugin's trained text."""
        return str(self._wrapped.completion(thinking, answer, tokenizer))

    def parse(self, text: str, end_of_turn: str | None = None) -> tuple[str, str]:
        """The plugin's split, of the text before the end of turn."""
        if end_of_turn and end_of_turn in text:
            text = text[: text.index(end_of_turn)]
        thinking, answer = self._wrapped.parse(text)
        return str(thinking), str(answer)


def as_think_format(fmt: object) -> ThinkFormat:
    """``fmt`` itself when it is a ThinkFormat, else a :class:`ProtocolFormat` over it.

    Raises:
        ConfigError: ``fmt`` does not implement the StudentFormat Protocol.
    """
    if isinstance(fmt, ThinkFormat):
        return fmt
    if not isinstance(fmt, StudentFormat):
        raise ConfigError(
            f"{type(fmt).__name__} is not a student format: it needs name, think_start, "
            "think_end, prompt(tokenizer, question), completion(thinking, answer, tokenizer) and "
            "parse(text) (see docs/plugins.md), or use tr.chat_format(name)."
        )
    return ProtocolFormat(
        name=fmt.name,
        think_start=fmt.think_start,
        think_end=fmt.think_end,
        answer_separator="",
        plugin=fmt,
    )
