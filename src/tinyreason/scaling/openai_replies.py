"""What the ``openai-server`` engine makes of a server's replies, and of its errors.

:class:`OpenAIReplies` is the half of :class:`~tinyreason.scaling.openai_engine.OpenAIEngine`
that reads a completion into a :class:`~tinyreason.scaling.engine.CompletionResult`, checks a text
reply's token count against its text re-encoded (:class:`TextChecks`), and words the errors and
warnings (the URL redacted, the API key scrubbed). Settling and sending are the engine's job.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._secrets import scrub
from .engine import CompletionRequest, CompletionResult, EngineError
from .openai_wire import ServerError, ServerResponseError, redact, server_message
from .server_capabilities import ServerCapabilities, TextChecks

if TYPE_CHECKING:
    from openai import APIStatusError
    from openai.types import Completion

    from .openai_backend import OpenAIServerBackend

__all__ = ["OpenAIReplies"]

_E = TypeVar("_E", bound=ServerError)


class OpenAIReplies:
    """Replies and errors for :class:`~tinyreason.scaling.openai_engine.OpenAIEngine`.

    The engine's ``__init__`` sets the attributes annotated here.

    Example:
        >>> from tinyreason.scaling.openai_engine import OpenAIEngine
        >>> issubclass(OpenAIEngine, OpenAIReplies)
        True
    """

    _backend: OpenAIServerBackend
    _api_key: str
    _bos: tuple[int, ...]
    checks: TextChecks
    _warned: set[str]

    def _result(
        self,
        response: Completion,
        request: CompletionRequest,
        caps: ServerCapabilities,
        prompt_len: int | None,
        *,
        one_more: bool = False,
    ) -> CompletionResult:
        choices = getattr(response, "choices", None) or []
        if len(choices) != 1:
            raise self._error(
                ServerResponseError,
                f"returned {len(choices)} choices for one request; is base_url a completions "
                "(not chat) server?",
            )
        choice = choices[0]
        extra: Mapping[str, Any] = getattr(choice, "model_extra", None) or {}
        usage = getattr(response, "usage", None)
        if prompt_len is not None:
            counted = getattr(usage, "prompt_tokens", None)
            if not self.checks.prompt(prompt_len, counted if isinstance(counted, int) else None):
                self._warn_once("prompt", self.checks.examples[-1])
        ids = extra.get("token_ids")
        stop_reason = extra.get("stop_reason", extra.get("matched_stop"))
        text, finish = choice.text or "", choice.finish_reason
        if ids is not None:
            ids = tuple(int(t) for t in ids)
            count = len(ids)
        else:
            reported = getattr(usage, "completion_tokens", None)
            if not isinstance(reported, int):
                raise self._error(
                    ServerResponseError,
                    "returned neither token ids nor usage.completion_tokens; exact thinking "
                    "counts need one of them.",
                )
            text, count, finish = self._checked(text, finish, reported, request, one_more)
        try:
            return CompletionResult(
                text=text,
                num_tokens=count,
                finish_reason=finish,
                token_ids=ids,
                stop_reason=stop_reason if isinstance(stop_reason, (int, str)) else None,
            )
        except EngineError as exc:
            raise ServerResponseError(
                f"the completions server at {self._url}: {exc}", base_url=self._url
            ) from None

    def _checked(
        self, text: str, finish: str, reported: int, request: CompletionRequest, one_more: bool
    ) -> tuple[str, int, str]:
        """A text reply's text, count and finish, checked against the text re-encoded."""
        body = text
        for stop in request.stop if finish == "stop" else ():
            body = body.removesuffix(stop)  # a server that keeps the stop text
        ids = self._encode(body)
        stopped = finish == "stop"
        if not self.checks.check(
            text_tokens=len(ids), count=reported, stopped=stopped, max_tokens=request.max_tokens
        ):
            self._warn_once(
                "count",
                f"{self.checks.examples[-1]}: the server generated tokens its text does not "
                "show (special tokens it drops) or that re-encode differently. The budgets count "
                "the server's tokens; the thinking kept is the text, re-encoded.",
            )
        if one_more and reported > request.max_tokens:
            # No stop within max_tokens: the reply is its first max_tokens tokens, so the last
            # one the text shows is cut (were some dropped from the text, the extra one is
            # likelier among those shown than the one dropped).
            if ids:
                text = self._decode(ids[:-1])
                ids = ids[:-1]
            return text, request.max_tokens, "length"
        # A server that does not count the stop token (llama-cpp-python) counts one less than
        # every other: the stopping token is a generated token.
        return text, (reported + 1 if stopped and reported == len(ids) else reported), finish

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(
                f"the completions server at {self._url}: {message}", RuntimeWarning, stacklevel=2
            )

    def _encode(self, text: str) -> tuple[int, ...]:
        return tuple(self._backend.tokenizer.encode(text, add_special_tokens=False))

    def _decode(self, ids: Sequence[int]) -> str:
        return str(
            self._backend.tokenizer.decode(
                list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )

    def _prompt_text(self, ids: Sequence[int]) -> str:
        """A token-id prompt as text for a server that takes only text.

        A BOS the server's tokenizer adds by itself is left out, so it is not there twice.
        """
        bos = self._bos
        if bos and tuple(ids[: len(bos)]) == bos:
            ids = ids[len(bos) :]
        return self._decode(ids)

    @property
    def _url(self) -> str:
        return redact(self._backend.base_url)

    def _error(self, kind: type[_E], message: str, status_code: int | None = None) -> _E:
        """``kind`` of error saying "the completions server at <url> <message>"."""
        return kind(
            f"the completions server at {self._url} {message}",
            base_url=self._url,
            status_code=status_code,
        )

    def _status_error(self, exc: APIStatusError) -> ServerResponseError:
        b = self._backend
        status = int(exc.status_code)
        fields = (
            "if it refuses fields it does not know, leave capabilities=None (the backend probes "
            "what it takes) or pass vllm_extras=False"
        )
        hint = {
            400: f"the server rejected the request; {fields}, and check max_new_tokens fits "
            "its context window",
            401: "check api_key (or OPENAI_API_KEY) matches the server's --api-key",
            403: "check api_key (or OPENAI_API_KEY) is allowed to use this model",
            404: f"check model={b.model!r} is served (GET {self._url}/models lists the names) "
            "and base_url is the API root, usually ending in /v1",
            422: f"the server rejected a field; {fields}",
            429: "the server is rate limiting: lower max_concurrency or raise max_retries",
        }.get(status, "the server failed; its log says why" if status >= 500 else "")
        message = self._scrub(server_message(exc))
        text = f"answered HTTP {status} ({message})"
        return self._error(
            ServerResponseError, f"{text}: {hint}." if hint else f"{text}.", status_code=status
        )

    def _scrub(self, text: str) -> str:
        # A server or proxy may echo request headers into an error; the key never travels on.
        return scrub(text, [self._api_key])
