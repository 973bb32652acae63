"""What an OpenAI-compatible completions server does with a request, found by cheap probes.

Servers that speak ``POST /v1/completions`` differ in what budget forcing needs from them:

* vLLM (and SGLang): token-id prompts, exact stops on ``stop_token_ids``, ``min_tokens``,
  ``logit_bias``, the generated ids back (``return_token_ids``), and the delimiters kept in the
  text with ``skip_special_tokens: false``.
* transformers serve: text prompts only (400 otherwise), HTTP 422 for any field it does not know,
  ``logit_bias`` ignored, special tokens always dropped from the text; but its
  ``generation_config`` JSON field takes exact stops (``eos_token_id``), ``min_new_tokens`` and
  banned ids (``suppress_tokens``).
* llama.cpp's llama-server: token-id prompts, unknown fields ignored, stops on text only, and
  control tokens written into the text only when started with ``--special``.
* llama-cpp-python's server: text prompts, unknown fields ignored, ``min_tokens`` and
  ``logit_bias`` honoured, control tokens dropped from the text.

:func:`detect` finds out with a few one- or two-token requests (each marked ``user`` =
:data:`PROBE_USER`): the backend's extra fields are sent and the server's answer read (a server
that refuses unknown fields answers 400/422, one that ignores them shows it in the reply);
``logit_bias`` forces the think delimiter so the reply shows whether the server writes it as text.
The backend then sends each server what it takes: token ids or text prompts, stop token ids
(vLLM's field, or transformers' ``generation_config``) or stop strings, and emulates
``min_tokens`` with ``logit_bias`` where it must. :class:`TextChecks` keeps the count of replies
whose text, re-encoded, disagrees with the server's token counts.

Example:
    >>> caps = ServerCapabilities.vllm()
    >>> caps.mode
    'token-id prompts, token-id stops, token-id output'
    >>> ServerCapabilities(token_prompts=False, token_ids=False, special_text=False,
    ...                    generation_config=True, extra_fields=False).mode
    'text prompts, token-id stops (generation_config), text output'
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .engine import CompletionRequest

__all__ = [
    "PROBE_USER",
    "ProbeReply",
    "ProbeSetup",
    "Refused",
    "ServerCapabilities",
    "TextChecks",
    "bos_prefix",
    "detect",
    "follows",
    "generation_config_field",
]

#: The ``user`` field of every probe request, so server logs (and tests) can tell probes apart.
PROBE_USER = "tinyreason-capability-probe"

#: The logit bias that forces a token (OpenAI's highest allowed value).
FORCE_BIAS = 100.0


@dataclass(frozen=True)
class ServerCapabilities:
    """What a completions server does with the fields budget forcing sends.

    Args:
        token_prompts: Takes a prompt as a list of token ids (else the prompt is sent as text).
        extra_fields: Takes (or silently ignores) fields beyond OpenAI's (vLLM's
            ``stop_token_ids``, ``skip_special_tokens``...); False: it refuses them (HTTP 422).
        stop_token_ids: Stops exactly on token ids (vLLM's ``stop_token_ids``, or
            ``generation_config``'s ``eos_token_id``); False: stops are matched on the text.
        min_tokens: Honours a minimum length before a stop (vLLM's ``min_tokens``, or
            ``generation_config``'s ``min_new_tokens``); False: the backend emulates it with
            ``logit_bias`` in two requests when it can.
        logit_bias: Honours banned token ids (``logit_bias``, or ``generation_config``'s
            ``suppress_tokens``).
        token_ids: Returns the generated token ids (vLLM's ``return_token_ids``); False: the
            text is re-encoded.
        special_text: Writes the think delimiter into its text when the model generates it; None
            when the probes could not tell.
        generation_config: Takes transformers serve's ``generation_config`` JSON field.
        length_at_max: Says ``finish_reason="length"`` whenever the count reaches ``max_tokens``,
            even when the last token was a stop (transformers serve).
        owned_by: What ``GET /models`` says owns the model (``"vllm"``, ``"llamacpp"``...).

    Example:
        >>> ServerCapabilities.standard().describe()["mode"]
        'token-id prompts, text stops, text output'
    """

    token_prompts: bool = True
    extra_fields: bool = True
    stop_token_ids: bool = True
    min_tokens: bool = True
    logit_bias: bool = True
    token_ids: bool = True
    special_text: bool | None = True
    generation_config: bool = False
    length_at_max: bool = False
    owned_by: str | None = None

    @classmethod
    def vllm(cls) -> ServerCapabilities:
        """A vLLM server: token-id prompts, stops and output; delimiters kept in the text."""
        return cls(owned_by="vllm")

    @classmethod
    def standard(cls) -> ServerCapabilities:
        """Only OpenAI's standard fields, with token-id prompts (``vllm_extras=False``)."""
        return cls(extra_fields=False, stop_token_ids=False, min_tokens=False, token_ids=False)

    @property
    def exact(self) -> bool:
        """Every id the loop continues from is the server's own (no text is re-encoded)."""
        return self.token_prompts and self.token_ids

    @property
    def mode(self) -> str:
        """The mode in words: how prompts, stops and output travel."""
        prompts = "token-id" if self.token_prompts else "text"
        stops = "token-id stops" if self.stop_token_ids else "text stops"
        if self.stop_token_ids and self.generation_config and not self.extra_fields:
            stops += " (generation_config)"
        output = "token-id" if self.token_ids else "text"
        return f"{prompts} prompts, {stops}, {output} output"

    def describe(self) -> dict[str, Any]:
        """The capabilities and the mode, JSON-serialisable (a run manifest records them)."""
        return {"mode": self.mode, **asdict(self)}


@dataclass(frozen=True)
class ProbeReply:
    """What the server answered to one probe: the fields detection reads.

    Example:
        >>> ProbeReply("</think>", count=1, finish="length").token_ids is None
        True
    """

    text: str
    count: int | None
    finish: str | None
    token_ids: tuple[int, ...] | None = None
    prompt_tokens: int | None = None


class Refused(Exception):
    """The server refused a request (HTTP 400 or 422) and said why.

    Example:
        >>> str(Refused(422, "Unexpected fields in the request: {'min_tokens'}"))
        "HTTP 422: Unexpected fields in the request: {'min_tokens'}"
    """

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


#: Sends one request body (flat, every field top-level) and returns the reply; raises
#: :class:`Refused` for a 400/422 answer and the backend's own errors for anything else.
Send = Callable[[dict[str, Any]], Awaitable[ProbeReply]]


@dataclass(frozen=True)
class ProbeSetup:
    """What the probes send: the model, a prompt both ways, the delimiter and the backend's fields.

    Args:
        model: The served model's name.
        prompt_ids: A short prompt as token ids.
        prompt_text: The same prompt as text.
        delimiter: The think delimiter's first id (what ends thinking).
        delimiter_text: Its text.
        end: The end-of-turn id (an EOS the server stops on by itself).
        extras: The extra fields the backend would send (vLLM's).
        allow_extras: Try the extra fields at all.

    Example:
        >>> ProbeSetup("m", (1, 2), "hi", delimiter=4, delimiter_text="</think>", end=2).extras
        {}
    """

    model: str
    prompt_ids: tuple[int, ...]
    prompt_text: str
    delimiter: int
    delimiter_text: str
    end: int
    extras: Mapping[str, Any] = field(default_factory=dict)
    allow_extras: bool = True


async def detect(send: Send, setup: ProbeSetup, owned_by: str | None = None) -> ServerCapabilities:
    """Find what the server takes and honours, in two to six one- or two-token requests.

    Args:
        send: Sends one request body (see :data:`Send`).
        setup: What to send.
        owned_by: What ``GET /models`` said owns the model, recorded as is.

    Returns:
        The capabilities; the first reply's ``prompt_tokens`` is checked by the caller.

    Raises:
        Refused: the server refused every form of the first probe (the last refusal).

    Example:
        >>> import asyncio
        >>> async def vllm(body):  # a server that takes everything and forces what it is told
        ...     forced = [int(t) for t in body.get("logit_bias", {})]
        ...     if body.get("min_tokens"):
        ...         return ProbeReply("ab", 2, "length", (7, 8))
        ...     return ProbeReply("</think>", 1, "stop", tuple(forced[:1]))
        >>> setup = ProbeSetup("m", (1, 2), "hi", delimiter=4, delimiter_text="</think>", end=2)
        >>> asyncio.run(detect(vllm, setup)) == ServerCapabilities()
        True
    """
    base: dict[str, Any] = {
        "model": setup.model,
        "max_tokens": 1,
        "temperature": 0,
        "n": 1,
        "user": PROBE_USER,
        "logit_bias": {str(setup.delimiter): FORCE_BIAS},
    }
    forms = [(True, True), (True, False), (False, True), (False, False)]
    if not setup.allow_extras:
        forms = [form for form in forms if not form[1]]
    reply: ProbeReply | None = None
    refusal: Refused | None = None
    token_prompts = extras = False
    for token_prompts, extras in forms:
        body = {**base, "prompt": list(setup.prompt_ids) if token_prompts else setup.prompt_text}
        if extras:
            body.update(setup.extras)
        try:
            reply = await send(body)
            break
        except Refused as exc:
            refusal = exc
    if reply is None:
        assert refusal is not None
        raise refusal
    prompt = list(setup.prompt_ids) if token_prompts else setup.prompt_text
    logit_bias, special_text = _forced(reply, setup)
    caps = ServerCapabilities(
        token_prompts=token_prompts,
        extra_fields=extras,
        stop_token_ids=False,
        min_tokens=False,
        logit_bias=logit_bias,
        token_ids=reply.token_ids is not None,
        special_text=special_text,
        owned_by=owned_by,
    )
    if extras and logit_bias:
        return await _probe_extras(send, {**base, "prompt": prompt, **setup.extras}, setup, caps)
    if setup.allow_extras and not extras:
        # A server that refuses unknown fields may know transformers serve's own one.
        return await _probe_generation_config(send, {**base, "prompt": prompt}, setup, caps)
    return caps


def _forced(reply: ProbeReply, setup: ProbeSetup) -> tuple[bool, bool | None]:
    """Whether ``logit_bias`` forced the delimiter, and whether its text came back."""
    if reply.token_ids is not None:
        forced = reply.token_ids[:1] == (setup.delimiter,)
        return forced, (reply.text == setup.delimiter_text) if forced else None
    if reply.text == setup.delimiter_text:
        return True, True
    if reply.text == "" and reply.count == 1:
        return True, False  # one token came back as no text: the delimiter, dropped
    return False, None  # some other token: the bias was ignored


async def _probe_extras(
    send: Send, body: dict[str, Any], setup: ProbeSetup, caps: ServerCapabilities
) -> ServerCapabilities:
    """Whether vLLM's ``stop_token_ids`` and ``min_tokens``, taken, are also honoured."""
    stop = await send({**body, "max_tokens": 2, "stop_token_ids": [setup.delimiter]})
    stopped = stop.finish == "stop" and (
        stop.token_ids == (setup.delimiter,) if stop.token_ids is not None else stop.count == 1
    )
    # With the end of turn forced, min_tokens=2 must hold it off for two tokens.
    held = await send(
        {
            **body,
            "max_tokens": 2,
            "min_tokens": 2,
            "stop_token_ids": [setup.end],
            "logit_bias": {str(setup.end): FORCE_BIAS},
        }
    )
    count = len(held.token_ids) if held.token_ids is not None else held.count
    return replace(caps, stop_token_ids=stopped, min_tokens=count == 2)


async def _probe_generation_config(
    send: Send, body: dict[str, Any], setup: ProbeSetup, caps: ServerCapabilities
) -> ServerCapabilities:
    """The ``generation_config`` field of transformers serve: stops, and ``length`` at the max."""
    config = {
        "do_sample": False,
        "eos_token_id": [setup.delimiter],
        # A sequence bias forces the delimiter where logit_bias is ignored.
        "sequence_bias": [[[setup.delimiter], FORCE_BIAS]],
    }
    body = {k: v for k, v in body.items() if k != "logit_bias"}
    try:
        two = await send({**body, "max_tokens": 2, "generation_config": json.dumps(config)})
    except Refused:
        return caps
    if not (two.count == 1 and two.finish == "stop"):
        return caps  # taken but not honoured: no use
    one = await send({**body, "max_tokens": 1, "generation_config": json.dumps(config)})
    return replace(
        caps,
        generation_config=True,
        stop_token_ids=True,
        min_tokens=True,
        logit_bias=True,
        special_text=two.text == setup.delimiter_text,
        length_at_max=one.finish == "length",
    )


def generation_config_field(request: CompletionRequest, pad_token_id: int | None) -> str:
    """The ``generation_config`` JSON (transformers serve) for a request: exact stops, limits.

    It replaces the model's whole generation config, so it says everything: greedy or sampled,
    the stop ids (``eos_token_id``), ``min_new_tokens``, banned ids (``suppress_tokens``), no
    repetition penalty and no top-k.

    Example:
        >>> request = CompletionRequest((1,), max_tokens=8, stop_token_ids=(4, 2), min_tokens=1)
        >>> json.loads(generation_config_field(request, 0))["eos_token_id"]
        [4, 2]
    """
    config: dict[str, Any] = {
        "do_sample": request.temperature > 0,
        "max_new_tokens": request.max_tokens,
        "eos_token_id": list(request.stop_token_ids),
        "pad_token_id": pad_token_id,
        "repetition_penalty": 1.0,
    }
    if request.temperature > 0:
        config.update(temperature=request.temperature, top_p=request.top_p, top_k=0)
    if request.min_tokens:
        config["min_new_tokens"] = request.min_tokens
    if request.banned_token_ids:
        config["suppress_tokens"] = list(request.banned_token_ids)
    return json.dumps(config)


@dataclass
class TextChecks:
    """What re-encoding the servers' texts found: replies checked, and those that disagreed.

    A reply's text, re-encoded with the model's tokenizer, should have the server's count of
    tokens (one more when a stop token ended it and is not in the text). When it does not, the
    server generated tokens its text does not show (special tokens it drops) or tokens that
    re-encode differently; the counts still come from the server, the ids from the text.

    Example:
        >>> checks = TextChecks()
        >>> checks.check(text_tokens=3, count=4, stopped=True, max_tokens=8)
        True
        >>> checks.check(text_tokens=3, count=6, stopped=False, max_tokens=8)
        False
        >>> checks.describe()
        {'replies': 2, 'count_mismatches': 1, 'prompt_mismatches': 0}
    """

    replies: int = 0
    count_mismatches: int = 0
    prompt_mismatches: int = 0
    examples: list[str] = field(default_factory=list)

    def check(self, *, text_tokens: int, count: int, stopped: bool, max_tokens: int) -> bool:
        """Whether a reply's count agrees with its re-encoded text (recorded either way)."""
        self.replies += 1
        ok = count == text_tokens or (stopped and count == text_tokens + 1)
        if not ok:
            self.count_mismatches += 1
            if len(self.examples) < 3:
                self.examples.append(
                    f"{count} tokens counted (max_tokens {max_tokens}), {text_tokens} in the text"
                )
        return ok

    def prompt(self, sent: int, counted: int | None) -> bool:
        """Whether the server counted the prompt as the tokenizer does (None: not reported)."""
        if counted is None or counted == sent:
            return True
        self.prompt_mismatches += 1
        if len(self.examples) < 3:
            self.examples.append(f"prompt of {sent} tokens counted as {counted}")
        return False

    def describe(self) -> dict[str, int]:
        """The counts (a run manifest records them)."""
        return {
            "replies": self.replies,
            "count_mismatches": self.count_mismatches,
            "prompt_mismatches": self.prompt_mismatches,
        }


def bos_prefix(tokenizer: Any) -> tuple[int, ...]:
    """The ids a tokenizer puts before a text by itself (a BOS), as a server's tokenizer would.

    Example:
        >>> class Tok:
        ...     def encode(self, text, add_special_tokens=True):
        ...         return [1, 9] if add_special_tokens else [9]
        >>> bos_prefix(Tok())
        (1,)
    """
    plain = list(tokenizer.encode("x", add_special_tokens=False))
    full = list(tokenizer.encode("x", add_special_tokens=True))
    if plain and full[len(full) - len(plain) :] == plain:
        return tuple(full[: len(full) - len(plain)])
    return ()


def follows(ids: Sequence[int], start: Sequence[int], end: Sequence[int]) -> bool:
    """Whether ``end`` occurs in ``ids`` after the last occurrence of ``start``.

    Example:
        >>> follows([1, 5, 9, 2], [5], [2]), follows([1, 5, 9], [5], [2])
        (True, False)
    """
    n, s = len(ids), len(start)
    last = max((i for i in range(n - s + 1) if list(ids[i : i + s]) == list(start)), default=-1)
    tail = list(ids[last + s :] if last >= 0 else ids)
    k = len(end)
    return any(tail[i : i + k] == list(end) for i in range(len(tail) - k + 1))
