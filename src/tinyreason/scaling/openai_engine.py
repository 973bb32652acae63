"""The engine of the ``openai-server`` backend: one round of requests to a completions server.

It settles once (the served model's window, the server's capabilities by
:func:`~tinyreason.scaling.server_capabilities.detect`), then sends each round's requests
concurrently in the form the server takes, emulating ``min_tokens`` with ``logit_bias`` where it
must, and checks every text reply against the server's counts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._async import run_sync
from .engine import CompletionRequest, CompletionResult
from .openai_replies import OpenAIReplies
from .openai_wire import (
    ServerCapabilityError,
    ServerConnectionError,
    ServerError,
    ServerResponseError,
    completion_params,
    default_ssl_context,
    extra_fields,
    probe_reply,
    redact,
    sdk_params,
    server_message,
)
from .server_capabilities import (
    ProbeReply,
    ProbeSetup,
    Refused,
    ServerCapabilities,
    TextChecks,
    bos_prefix,
    detect,
    follows,
)

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types import Completion

    from .openai_backend import OpenAIServerBackend

__all__ = ["OpenAIEngine"]

_E = TypeVar("_E", bound=ServerError)


class OpenAIEngine(OpenAIReplies):
    """The :class:`~tinyreason.scaling.continuation.CompletionEngine` of one backend."""

    def __init__(
        self, backend: OpenAIServerBackend, api_key: str, capabilities: ServerCapabilities | None
    ):
        self._backend = backend
        self._api_key = api_key
        self._verify: ssl.SSLContext | bool | None = None
        self.capabilities = capabilities
        self.checks = TextChecks()
        self._warned: set[str] = set()
        tok = backend.tokenizer
        self._bos = bos_prefix(tok)
        self._pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def __repr__(self) -> str:
        return f"OpenAIEngine({redact(self._backend.base_url)!r})"

    def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        for request in requests:
            self._check(request)
        return run_sync(lambda: self._complete_all(requests))

    # -- settling: the model listing and the probes ------------------------------------------

    def _client(self, max_retries: int | None = None) -> AsyncOpenAI:
        import openai

        b = self._backend
        if self._verify is None:
            # Building a TLS context loads the CA bundle (~50 ms): once, not every round.
            self._verify = default_ssl_context()
        # A client per round: its connection pool belongs to this round's event loop, which is
        # closed when the round ends.
        return openai.AsyncOpenAI(
            base_url=b.base_url,
            api_key=self._api_key,
            timeout=b.timeout,
            max_retries=b.max_retries if max_retries is None else max_retries,
            http_client=openai.DefaultAsyncHttpxClient(verify=self._verify),
        )

    async def settle(self) -> int | None:
        """Ask ``GET /models`` (vLLM's ``max_model_len``), then probe unless capabilities are given.

        Returns:
            The served model's ``max_model_len``, or None.
        """
        window, owned_by = await self._listing()
        if self.capabilities is None:
            async with self._client() as client:
                self.capabilities = await self._probe(client, owned_by)
        return window

    async def _listing(self) -> tuple[int | None, str | None]:
        """The served model's ``max_model_len`` and ``owned_by`` from ``GET /models``."""
        import openai

        b = self._backend
        try:
            async with self._client(max_retries=0) as client:
                page = await client.models.list()
        except openai.OpenAIError:
            return None, None  # not every server lists models; the tokenizer's limit is used
        for entry in getattr(page, "data", None) or []:
            if getattr(entry, "id", None) != b.model:
                continue
            extra: Mapping[str, object] = getattr(entry, "model_extra", None) or {}
            length = extra.get("max_model_len")
            owner = getattr(entry, "owned_by", None)
            window = length if isinstance(length, int) and length > 0 else None
            return window, owner if isinstance(owner, str) else None
        return None, None

    async def _probe(self, client: AsyncOpenAI, owned_by: str | None) -> ServerCapabilities:
        b = self._backend
        runner = b._runner
        ids = runner.delimiters(None)
        prompt_ids = runner.encode_prompt(b.prompt("What is 1 + 1?"))
        delimiter = ids.think_end[0]
        probe_caps = ServerCapabilities(owned_by=owned_by)
        setup = ProbeSetup(
            model=b.model,
            prompt_ids=prompt_ids,
            prompt_text=self._prompt_text(prompt_ids),
            delimiter=delimiter,
            delimiter_text=runner._text(delimiter),
            end=ids.end_of_turn,
            extras=extra_fields(CompletionRequest(prompt_ids, 1), probe_caps),
            allow_extras=b.vllm_extras,
        )

        async def send(body: dict[str, Any]) -> ProbeReply:
            import openai

            try:
                response = await self._call(client, sdk_params(body))
            except openai.APIStatusError as exc:
                if exc.status_code in (400, 422):
                    raise Refused(int(exc.status_code), self._scrub(server_message(exc))) from None
                raise self._status_error(exc) from None
            if len(getattr(response, "choices", None) or []) != 1:
                raise self._error(
                    ServerResponseError, "answered a one-token completion without one choice."
                )
            reply = probe_reply(response)
            counted, sent = reply.prompt_tokens, len(prompt_ids)
            if counted is not None and counted != sent:
                raise self._error(
                    ServerCapabilityError,
                    f"counted a {sent}-token prompt as {counted} tokens: the tokenizer passed to "
                    "the backend is not the served model's, or the server reads text prompts "
                    "differently (it must parse special tokens such as the chat template's). "
                    "Pass tokenizer= the served model's folder.",
                )
            return reply

        try:
            return await detect(send, setup, owned_by)
        except Refused as exc:
            raise self._error(
                ServerResponseError,
                f"refused every form of a one-token completion request (last: HTTP "
                f"{exc.status} ({exc.message})). Check that base_url is a completions server's "
                "API root and model= the served model's name.",
                status_code=exc.status,
            ) from None

    # -- what a run needs from the server ----------------------------------------------------

    def _check(self, request: CompletionRequest) -> None:
        """Refuse a request whose result the server would make silently wrong."""
        caps = self.capabilities
        if caps is None:
            return
        runner = self._backend._runner
        ids = runner.delimiters(None)
        delimiter = ids.think_end[0]
        text = runner._text(delimiter)
        if caps.special_text is False:
            if delimiter in request.stop_token_ids and not caps.stop_token_ids:
                raise self._hidden(text, "budget forcing cannot see the model end its thinking")
            # A free generation (control=None) writes the delimiter inside its reply: its split
            # needs the text. Answers follow an appended delimiter: theirs is in the prompt.
            prompt = request.prompt
            if (
                not isinstance(prompt, str)
                and delimiter not in request.stop_token_ids
                and not follows(prompt, ids.think_start, ids.think_end)
            ):
                raise self._hidden(
                    text,
                    "a free generation (control=None) cannot be split into thinking and answer"
                    + (
                        "; pass control=tr.ThinkingControl(max_thinking=None) instead (s1's loop "
                        "stops on the delimiter's token id, which this server honours)"
                        if caps.stop_token_ids
                        else ""
                    ),
                )
        if request.banned_token_ids and not caps.logit_bias:
            raise self._error(
                ServerCapabilityError,
                "ignores logit_bias, so ban_delimiters_in_answer cannot keep the delimiters out "
                "of the answer; leave ban_delimiters_in_answer=False on this server.",
            )

    def _hidden(self, text: str, what: str) -> ServerCapabilityError:
        return self._error(
            ServerCapabilityError,
            f"never writes the think delimiter {text!r} into its text (it drops special "
            f"tokens), so {what}. Fix: start llama.cpp's llama-server with --special; vLLM and "
            "SGLang keep it with skip_special_tokens=false (sent unless vllm_extras=False); "
            "llama-cpp-python's and transformers serve's servers always drop special tokens: "
            "use the transformers or vllm backend, or one of those servers.",
        )

    # -- requests ----------------------------------------------------------------------------

    async def _complete_all(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        b = self._backend
        async with self._client() as client:
            limit = asyncio.Semaphore(b.max_concurrency)

            async def one(request: CompletionRequest) -> CompletionResult:
                async with limit:
                    return await self._complete_one(client, request)

            tasks = [asyncio.ensure_future(one(r)) for r in requests]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                # The first failure wins; the rest of the round is cancelled, not left running.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    async def _complete_one(
        self, client: AsyncOpenAI, request: CompletionRequest
    ) -> CompletionResult:
        caps = self.capabilities or ServerCapabilities.vllm()
        if request.min_tokens and not caps.min_tokens:
            if caps.logit_bias and request.stop_token_ids:
                return await self._min_tokens_by_bias(client, request)
            self._warn_once(
                "min_tokens",
                "ignores min_tokens and logit_bias: a thinking round may stop again on its very "
                "first token (s1 holds it off with min_tokens).",
            )
            request = dataclasses.replace(request, min_tokens=0)
        return await self._send(client, request)

    async def _min_tokens_by_bias(
        self, client: AsyncOpenAI, request: CompletionRequest
    ) -> CompletionResult:
        """``min_tokens`` in two requests: the first tokens with the stops banned, then the rest."""
        assert isinstance(request.prompt, tuple)
        head = min(request.min_tokens, request.max_tokens)
        first = await self._send(
            client,
            dataclasses.replace(
                request,
                max_tokens=head,
                min_tokens=0,
                banned_token_ids=tuple(
                    dict.fromkeys((*request.banned_token_ids, *request.stop_token_ids))
                ),
            ),
        )
        if first.finish_reason == "stop" or head >= request.max_tokens:
            return first
        got = first.token_ids
        ids = got if got is not None else self._encode(first.text)
        rest = await self._send(
            client,
            dataclasses.replace(
                request,
                prompt=(*request.prompt, *ids),
                max_tokens=request.max_tokens - first.num_tokens,
                min_tokens=0,
                seed=None if request.seed is None else request.seed ^ 1,
            ),
        )
        both = None if got is None or rest.token_ids is None else (*got, *rest.token_ids)
        return CompletionResult(
            text=first.text + rest.text,
            num_tokens=first.num_tokens + rest.num_tokens,
            finish_reason=rest.finish_reason,
            token_ids=both,
            stop_reason=rest.stop_reason,
        )

    async def _send(self, client: AsyncOpenAI, request: CompletionRequest) -> CompletionResult:
        caps = self.capabilities or ServerCapabilities.vllm()
        b = self._backend
        sent = request
        if not caps.token_prompts and not isinstance(request.prompt, str):
            sent = dataclasses.replace(request, prompt=self._prompt_text(request.prompt))
        prompt_len = len(request.prompt) if isinstance(request.prompt, tuple) else None
        window = b._runner.context_window
        # A server that says "length" whenever the count reaches max_tokens (transformers
        # serve) is asked for one token more: a stop within max_tokens then says "stop", and a
        # reply of max_tokens + 1 proves there was none (the extra token is cut off here).
        one_more = (
            caps.length_at_max
            and bool(request.stop_token_ids)
            and (window is None or (prompt_len or 0) + request.max_tokens < window)
        )
        if one_more:
            sent = dataclasses.replace(sent, max_tokens=request.max_tokens + 1)
        params = completion_params(
            sent, b.model, vllm_extras=b.vllm_extras, capabilities=caps, pad_token_id=self._pad
        )
        import openai

        try:
            response = await self._call(client, params)
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        return self._result(response, request, caps, prompt_len, one_more=one_more)

    async def _call(self, client: AsyncOpenAI, params: dict[str, Any]) -> Completion:
        """One completions call; timeouts and connection failures become clear errors."""
        import openai

        b = self._backend
        try:
            response: Completion = await client.completions.create(**params)
            return response
        except openai.APITimeoutError:
            raise self._error(
                ServerConnectionError,
                f"did not answer within {b.timeout:g} s. Raise timeout=..., lower max_concurrency, "
                "or check the server is not overloaded.",
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__
            reason = f"{type(cause).__name__}: {cause}" if cause else str(exc)
            raise ServerConnectionError(
                f"cannot reach the completions server at {self._url} ({self._scrub(reason)}). "
                "Check that it is running (e.g. `vllm serve MODEL`) and that base_url is its API "
                "root, usually ending in /v1.",
                base_url=self._url,
            ) from None
