"""The engine interface budget forcing runs over: one batch of completion requests per round.

Every backend is one :class:`CompletionEngine` (``model.generate``, a completions server, vLLM);
:class:`~tinyreason.scaling.continuation.Continuation` runs s1's loop over it.

Example:
    >>> request = CompletionRequest(prompt=(1, 2, 3), max_tokens=8, stop_token_ids=(9,))
    >>> CompletionResult("45", num_tokens=3, finish_reason="stop", token_ids=(4, 5, 9)).num_tokens
    3
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..errors import TinyReasonError

__all__ = ["BAN_BIAS", "CompletionEngine", "CompletionRequest", "CompletionResult", "EngineError"]

#: The logit bias that bans a token: OpenAI's lowest allowed value. It is not -inf, but a banned
#: token would need a logit 100 above every other one to be picked anyway.
BAN_BIAS = -100.0


class EngineError(TinyReasonError):
    """A generation engine failed, or answered something budget forcing cannot use.

    Example:
        >>> raise EngineError("the engine returned 2 results for 3 requests")
        Traceback (most recent call last):
        ...
        tinyreason.scaling.engine.EngineError: the engine returned 2 results for 3 requests
    """


@dataclass(frozen=True)
class CompletionRequest:
    """One continuation to generate: a prompt and how far to go.

    Args:
        prompt: Token ids to continue (what :class:`Continuation` sends), or text.
        max_tokens: Tokens to generate at most (>= 1).
        stop: Stop strings, for engines that only match text; cut from the result's text.
        stop_token_ids: Ids that end generation; the engine keeps the stopping id in
            ``token_ids`` and counts it.
        min_tokens: Tokens before a stop id (or EOS) may end generation (vLLM's ``min_tokens``).
        banned_token_ids: Ids the engine must never pick (a ``logit_bias`` of :data:`BAN_BIAS`).
        temperature: 0 for greedy; above 0 samples.
        top_p: Nucleus sampling mass.
        seed: Seed for this request's sampling (None when greedy).

    Example:
        >>> CompletionRequest(prompt="Hello", max_tokens=4).temperature
        0.0
    """

    prompt: str | tuple[int, ...]
    max_tokens: int
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    min_tokens: int = 0
    banned_token_ids: tuple[int, ...] = ()
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


@dataclass(frozen=True)
class CompletionResult:
    """What an engine generated for one :class:`CompletionRequest`.

    Args:
        text: The generated text, the stop string or stop token's text excluded.
        num_tokens: Tokens generated, counted by the engine, the stopping token included.
        finish_reason: ``"stop"`` (a stop id, stop string or the model's EOS) or ``"length"``.
        token_ids: Every generated id, the stopping one included, when the engine gives them.
        stop_reason: The stop string or id that matched, when the engine says (vLLM's
            ``stop_reason``, SGLang's ``matched_stop``); None for EOS or unknown.

    Raises:
        EngineError: an unknown finish reason, a negative count, or ids that disagree with it.

    Example:
        >>> CompletionResult(text="42", num_tokens=2, finish_reason="length").token_ids is None
        True
    """

    text: str
    num_tokens: int
    finish_reason: str
    token_ids: tuple[int, ...] | None = None
    stop_reason: int | str | None = None

    def __post_init__(self) -> None:
        if self.finish_reason not in ("stop", "length"):
            raise EngineError(
                f"the engine finished with {self.finish_reason!r}; budget forcing understands "
                "only 'stop' and 'length' (was the request aborted or filtered?)."
            )
        if isinstance(self.num_tokens, bool) or not isinstance(self.num_tokens, int):
            raise EngineError(f"the engine's token count is not an int: {self.num_tokens!r}")
        if self.num_tokens < 0:
            raise EngineError(f"the engine reported {self.num_tokens} generated tokens")
        if self.token_ids is not None and len(self.token_ids) != self.num_tokens:
            raise EngineError(
                f"the engine returned {len(self.token_ids)} token ids but counted "
                f"{self.num_tokens} tokens"
            )


@runtime_checkable
class CompletionEngine(Protocol):
    """Anything that completes a batch of requests: one call per round, results in order.

    Example:
        >>> class Echo:
        ...     def complete(self, requests):
        ...         return [CompletionResult("", 1, "stop") for _ in requests]
        >>> isinstance(Echo(), CompletionEngine)
        True
    """

    def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        """Generate one result per request, in the requests' order."""
        ...
