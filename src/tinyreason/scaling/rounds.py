"""What the built-in backends share: prompts through their format, generation by s1's loop.

Each built-in backend (``transformers``, vLLM, a completions server) is a :class:`RoundsBackend`
over its own :class:`~tinyreason.scaling.engine.CompletionEngine`; the
:class:`~tinyreason.scaling.continuation.Continuation` runs the rounds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..students.formats import ThinkFormat
from .continuation import Continuation, _Generates
from .engine import CompletionEngine

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["RoundsBackend"]


class RoundsBackend(_Generates):
    """What the built-in backends share: prompts through the format, generation through the loop.

    A subclass sets ``format`` and ``tokenizer``, then calls :meth:`_run_over` with its engine.
    Plugin backends need not inherit from it: the :class:`~tinyreason.Backend` protocol is all a
    stage uses.

    Example:
        >>> class EchoBackend(RoundsBackend):  # doctest: +SKIP
        ...     def __init__(self, engine, tokenizer, fmt):
        ...         self.format, self.tokenizer = fmt, tokenizer
        ...         self._run_over(engine)
    """

    format: ThinkFormat
    tokenizer: PreTrainedTokenizerBase
    _runner: Continuation

    def prompt(self, question: str) -> str:
        """Render ``question`` with the chat template, ending with the format's ``think_start``."""
        return self.format.prompt(self.tokenizer, question)

    def _run_over(
        self,
        engine: CompletionEngine,
        *,
        extra_stop: Iterable[int] | None = None,
        context_window: int | None = None,
        progress: bool | None = None,
    ) -> None:
        """Generate by s1's loop over ``engine`` (see :class:`Continuation` for the options).

        ``extra_stop`` None: the tokenizer's EOS id, when it has one.
        """
        if extra_stop is None:
            eos = getattr(self.tokenizer, "eos_token_id", None)
            extra_stop = [eos] if isinstance(eos, int) else []
        self._runner = Continuation(
            engine,
            self.tokenizer,
            self.format,
            extra_stop=extra_stop,
            context_window=context_window,
            progress=progress,
        )

    def _loop(self) -> Continuation:
        self._ready()
        return self._runner

    def _ready(self) -> None:
        """Anything to settle before the first generation (a server's context window)."""
