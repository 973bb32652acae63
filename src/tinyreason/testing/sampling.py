"""Token-by-token generation honouring vLLM's sampling options, as the CompletionsServer runs it.

:func:`complete` writes one completion with the KV cache: greedy decoding (``temperature=0``)
takes the argmax of the same float32 logits as ``model.generate``, so on one unpadded prompt it
writes exactly what ``generate`` writes; sampling honours ``top_p`` and a seeded generator. Stops
follow vLLM: stop strings and stop token ids (cut from the text unless asked for), ``min_tokens``
(no stop before it), ``ignore_eos``, ``logit_bias``; the token that stopped generation counts.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Completion", "SamplingOptions", "complete"]


@dataclass(frozen=True)
class SamplingOptions:
    """What one completions request asks for (vLLM's defaults where OpenAI has none).

    Example:
        >>> SamplingOptions(max_tokens=8, temperature=0.0).n
        1
    """

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    min_tokens: int = 0
    skip_special_tokens: bool = True
    include_stop_str_in_output: bool = False
    logit_bias: Mapping[int, float] = field(default_factory=dict)
    ignore_eos: bool = False


@dataclass(frozen=True)
class Completion:
    """One generated choice.

    Attributes:
        token_ids: Every generated token, the one that stopped generation included (vLLM's
            convention).
        text: The decoded text; a stop string or stop token is cut unless asked for.
        finish_reason: ``"stop"`` or ``"length"``.
        stop_reason: The stop string or stop token id that ended it; None for the model's EOS or
            a length stop (vLLM's field).

    Example:
        >>> Completion((5, 7, 2), "57", "stop", stop_reason=2).finish_reason
        'stop'
    """

    token_ids: tuple[int, ...]
    text: str
    finish_reason: str
    stop_reason: int | str | None = None


def complete(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[int],
    options: SamplingOptions,
    *,
    eos_token_ids: Iterable[int] = (),
    generator: Any = None,
) -> Completion:
    """Generate one completion token by token with the KV cache, honouring ``options``.

    Args:
        model: A ``transformers`` causal LM.
        tokenizer: Its tokenizer (for stop strings and the text).
        prompt_ids: The prompt's token ids.
        options: The request's sampling options (``n`` is ignored: one choice).
        eos_token_ids: Ids that end generation unless ``options.ignore_eos``.
        generator: A ``torch.Generator`` for sampling (``temperature > 0``).

    Example:
        >>> complete(model, tok, [1, 2], SamplingOptions(max_tokens=4))  # doctest: +SKIP
        Completion(token_ids=(7, 9, 3, 3), text='...', finish_reason='length', stop_reason=None)
    """
    import torch

    eos = frozenset(() if options.ignore_eos else eos_token_ids)
    stop_ids = frozenset(options.stop_token_ids)
    ends = eos | stop_ids
    bias_ids = torch.tensor(list(options.logit_bias), dtype=torch.long)
    bias = torch.tensor(list(options.logit_bias.values()), dtype=torch.float32)
    end_ids = torch.tensor(sorted(ends), dtype=torch.long)
    generated: list[int] = []
    inputs = torch.tensor([list(prompt_ids)], dtype=torch.long)
    # transformers 5 renamed the forward's `past_key_values` to `cache`; accept both.
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else None
    past = None
    with torch.inference_mode():
        for step in range(options.max_tokens):
            if cache_arg:
                out = model(input_ids=inputs, cache=past, use_cache=True)
                past = out["cache"]
            else:
                out = model(input_ids=inputs, past_key_values=past, use_cache=True)
                past = out.past_key_values
            logits = out.logits[0, -1].float().clone()
            if len(bias_ids):
                logits.index_add_(0, bias_ids, bias)
            if step < options.min_tokens and len(end_ids):
                logits[end_ids] = float("-inf")
            token = _pick(logits, options, generator)
            generated.append(token)
            inputs = torch.tensor([[token]], dtype=torch.long)
            if token in ends:
                keep = generated if options.include_stop_str_in_output else generated[:-1]
                reason = token if token in stop_ids else None
                return Completion(
                    tuple(generated), _decode(tokenizer, keep, options), "stop", reason
                )
            if options.stop and step + 1 >= options.min_tokens:
                text = _decode(tokenizer, generated, options)
                hit = _first_stop(text, options.stop)
                if hit is not None:
                    at, stop = hit
                    end = at + len(stop) if options.include_stop_str_in_output else at
                    return Completion(tuple(generated), text[:end], "stop", stop)
    return Completion(tuple(generated), _decode(tokenizer, generated, options), "length")


def _pick(logits: Any, options: SamplingOptions, generator: Any) -> int:
    import torch

    if options.temperature == 0:
        return int(logits.argmax())
    logits = logits / options.temperature
    if options.top_p < 1.0:
        sorted_logits, order = logits.sort(descending=True)
        probs = sorted_logits.softmax(-1)
        # Keep the smallest head whose mass reaches top_p (the top token always stays).
        drop = probs.cumsum(-1) - probs >= options.top_p
        logits = logits.scatter(0, order, sorted_logits.masked_fill(drop, float("-inf")))
    return int(torch.multinomial(logits.softmax(-1), 1, generator=generator))


def _decode(tokenizer: Any, ids: Sequence[int], options: SamplingOptions) -> str:
    return tokenizer.decode(
        list(ids),
        skip_special_tokens=options.skip_special_tokens,
        clean_up_tokenization_spaces=False,
    )


def _first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    hits = [(text.find(s), s) for s in stops if s and s in text]
    return min(hits) if hits else None
