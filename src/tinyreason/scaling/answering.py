r"""Answer after a given thinking: the second half of s1's loop, for scalers that pick the thinking.

Budget forcing gets its thinking and its answer from one ``generate`` call. Rejection sampling
(keep a sample only if its thinking fits) and step-conditional budget forcing (cut the thinking
after its last allowed step) decide on the thinking first, then need the answer that follows it.
Through the :class:`~tinyreason.Backend` protocol alone, that answer is a free continuation of the
prompt, the chosen thinking and the end of thinking (:func:`answer_after`), joined with them into
one :class:`~tinyreason.Generation` (:func:`joined`) that reads like budget forcing's.

The thinking is re-read as text, so on a backend that continues from token ids the ids can differ
at the boundary from the ones the model wrote (as in s1's README loop, which re-encodes too).

Example:
    >>> from tinyreason import Generation
    >>> fmt = tr.chat_format("think-tags")  # doctest: +SKIP
    >>> answer = Generation("\n42", "\n42", "", thinking_tokens=2, answer_tokens=0)
    >>> g = joined(fmt, "6*7=42", "</think>", answer, thinking_tokens=5)  # doctest: +SKIP
    >>> g.text, g.answer_text, g.thinking_tokens, g.answer_tokens  # doctest: +SKIP
    ('6*7=42</think>\n42', '42', 5, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..interfaces import HasTokenizer
from ..records import Generation
from .budget_forcing import check_results

if TYPE_CHECKING:
    from ..interfaces import Backend, StudentFormat

__all__ = ["answer_after", "joined", "raw_thinking", "token_count"]


def raw_thinking(generation: Generation, think_end: str) -> str:
    """The thinking exactly as generated: the text before the end of thinking (unstripped).

    ``Generation.thinking`` is stripped; a continuation must read what the model wrote.

    Example:
        >>> raw_thinking(Generation("\\n5\\n\\n6</think>\\n42", "5", "42", 4, 2), "</think>")
        '\\n5\\n\\n6'
    """
    return generation.text.partition(think_end)[0]


def token_count(backend: Backend, text: str) -> int:
    """Tokens of ``text`` in the backend's tokenizer (a cut thinking's length).

    Raises:
        ConfigError: the backend has no tokenizer (every built-in one has).
    """
    if not isinstance(backend, HasTokenizer):
        raise ConfigError(
            f"{type(backend).__name__} has no tokenizer, so a cut thinking cannot be counted; "
            "use a backend with a .tokenizer (every built-in one has)."
        )
    return len(backend.tokenizer.encode(text, add_special_tokens=False))


def answer_after(
    backend: Backend,
    prompts: Sequence[str],
    *,
    temperature: float,
    max_new_tokens: int | None,
    seed: int | None,
) -> list[Generation]:
    """One free continuation per prompt (each ends with its thinking and the end of thinking).

    All prompts go in one ``generate`` call with no thinking control: the model answers, and
    stops at its end of turn or after ``max_new_tokens``.
    """
    if not prompts:
        return []
    results = backend.generate(
        list(prompts),
        n=1,
        temperature=temperature,
        max_new_tokens=max_new_tokens,
        control=None,
        seed=seed,
    )
    check_results(results, len(prompts), 1)
    return [r[0] for r in results]


def joined(
    fmt: StudentFormat,
    thinking: str,
    end: str,
    answer: Generation,
    *,
    thinking_tokens: int,
    waits: int = 0,
    forced_end: bool = False,
) -> Generation:
    """The Generation of ``thinking``, the appended ``end`` and a free ``answer`` after them.

    The answer's tokens are all it generated (a free generation counts up to a ``think_end`` it
    writes as thinking; here all of it follows the thinking).
    """
    text = thinking + end + answer.text
    thought, answer_text = fmt.parse(text)
    return Generation(
        text=text,
        thinking=thought,
        answer_text=answer_text,
        thinking_tokens=thinking_tokens,
        answer_tokens=answer.thinking_tokens + answer.answer_tokens,
        finish_reason=answer.finish_reason,
        waits=waits,
        forced_end=forced_end,
    )
