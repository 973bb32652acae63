r"""Budget forcing by stopping and continuing, for engines that cannot run a logits processor.

s1 enforced its budget on vLLM this way (``reference/s1.md`` section 3): generate until the model
tries to end its thinking, then append ``"Wait"`` and generate again, or let it answer. This module
does the same for any engine behind the small :class:`CompletionEngine` interface (a vLLM server
through the OpenAI SDK, in-process vLLM), with *exactly* the rules of
:class:`~tinyreason.scaling.control.ThinkingControl` that
:class:`~tinyreason.scaling.processor.ThinkingProcessor` enforces inside one ``generate`` call, so
a greedy problem gives the same text, answer and token counts on every backend.

How the processor's steps map onto rounds (each round is one engine call holding a request for
every unfinished sample of every prompt):

* **Thinking.** Generate at most ``max_thinking - thinking`` tokens (and what is left of
  ``max_new_tokens``), stopping on the ids that *try to end*: ``think_end``'s first token and the
  end-of-turn / EOS ids. A stop is an attempt to end at the step the stop token took: below
  ``min_thinking`` or with waits left, the stop token is dropped and the wait text's ids are
  appended (cut short if the budget ends inside them); otherwise the full ``natural_end()``
  delimiter is appended. Running into ``max_thinking`` appends ``forced_end(final_answer_text)``.
* **Answering.** Generate at most ``max_answer_tokens`` tokens, stopping on the end of turn, with
  the first tokens of both delimiters banned (``logit_bias``) so the model cannot reopen
  thinking. An answer that fills its budget gets one more 1-token *peek*: a stop token there is a
  natural end, anything else is the processor's forced end of turn (``answer_cut``).
* Forced text is appended as token ids (the ids the processor would force), truncated where
  ``max_new_tokens`` runs out, and counts as generated tokens exactly as it does there.

Exact counting: every count comes from the engine's own token counts (``len(token_ids)`` or
``usage.completion_tokens``) plus the forced ids, never from re-tokenising text; the engine's
count includes the token that stopped it (vLLM's convention), which is the step the processor
spends on the wait or delimiter. Samples are continued from token ids (prompt + generated +
forced), so when the engine returns token ids (in-process vLLM, a vLLM server asked for
``return_token_ids``) the model conditions on exactly what a single ``generate`` call would have
had, and the text is decoded once from all ids, as the transformers backend does. An engine that
returns only text (SGLang, llama.cpp) still gets exact counts, but the text is re-encoded locally
to continue from, which can differ from the model's own tokenisation at a boundary (s1 re-encoded
text too). The one estimate: without a control and without token ids, the split of the exact
total between thinking and answer comes from the local tokenizer.

Example:
    >>> from tinyreason.scaling.continuation import CompletionRequest, CompletionResult
    >>> request = CompletionRequest(prompt=(1, 2, 3), max_tokens=8, stop_token_ids=(9,))
    >>> result = CompletionResult("45", num_tokens=3, finish_reason="stop", token_ids=(4, 5, 9))
    >>> result.num_tokens - 1  # generated before the stop token
    2
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import TinyReasonError
from ..records import Generation
from ..students.formats import ThinkFormat
from .common import (
    Delimiters,
    check_generate_args,
    delimiters,
    find_ids,
    load_tokenizer,
    resolve_format,
)
from .control import ThinkingControl

# Delimiters, delimiters and the argument / format / tokenizer helpers live in .common (shared with
# the torch-backed transformers backend) and are re-exported here, where they were first public.
__all__ = [
    "BAN_BIAS",
    "CompletionEngine",
    "CompletionRequest",
    "CompletionResult",
    "Continuation",
    "Delimiters",
    "EngineError",
    "check_generate_args",
    "delimiters",
    "load_tokenizer",
    "resolve_format",
]

#: The logit bias that bans a token: OpenAI's lowest allowed value. It is not -inf, but a banned
#: token would need a logit 100 above every other one to be picked anyway.
BAN_BIAS = -100.0


class EngineError(TinyReasonError):
    """A generation engine failed, or answered something budget forcing cannot use.

    Example:
        >>> raise EngineError("the engine returned 2 results for 3 requests")
        Traceback (most recent call last):
        ...
        tinyreason.scaling.continuation.EngineError: the engine returned 2 results for 3 requests
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


# -- the per-sample state machine ------------------------------------------------------------------

_THINK, _ANSWER, _PEEK, _FREE, _DONE = range(5)


@dataclass
class _Sample:
    """One sample's progress. ``steps`` counts generated tokens exactly, forced ones included."""

    prompt: tuple[int, ...]
    index: int
    copy: int
    phase: int
    ids: list[int] = field(default_factory=list)  # generated so far, as the model continues it
    pieces: list[str] = field(default_factory=list)  # the same, as text
    exact: bool = True  # every id came from the engine or was forced (none re-encoded)
    steps: int = 0
    thinking: int | None = None  # set when thinking ends
    answer: int = 0
    waits: int = 0
    forced_end: bool = False
    finished: bool = False
    answer_cut: bool = False
    rounds: int = 0


@dataclass(frozen=True)
class _Run:
    """The options of one :meth:`Continuation.generate` call."""

    control: ThinkingControl | None
    ids: Delimiters
    max_new_tokens: int
    temperature: float
    top_p: float
    seed: int


class Continuation:
    """Enforce a :class:`ThinkingControl` over a :class:`CompletionEngine`, round by round.

    Backends without a logits processor (:class:`~tinyreason.scaling.OpenAIServerBackend`,
    :class:`~tinyreason.scaling.VLLMBackend`) delegate ``generate`` to this.

    Args:
        engine: The engine; one ``complete`` call per round, holding every unfinished sample.
        tokenizer: The model's tokenizer (prompts, delimiters, decoding).
        format: The student format.
        extra_stop: Other ids that end generation besides the format's end of turn.
        progress: Show a progress bar over samples; None shows it on a terminal for several.

    Raises:
        ConfigError: the format's delimiters do not fit the tokenizer.

    Example:
        >>> runner = Continuation(engine, tokenizer, tr.student("think-tags"))  # doctest: +SKIP
        >>> control = ThinkingControl(max_thinking=64, waits=1)
        >>> [[g]] = runner.generate(["<prompt>"], control=control)  # doctest: +SKIP
        >>> g.thinking_tokens <= 64  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        engine: CompletionEngine,
        tokenizer: Any,
        format: ThinkFormat,
        *,
        extra_stop: Iterable[int] = (),
        progress: bool | None = None,
    ):
        self.engine = engine
        self.tokenizer = tokenizer
        self.format = format
        self.progress = progress
        self._extra_stop = tuple(extra_stop)
        self._ids: dict[ThinkingControl | None, Delimiters] = {
            None: delimiters(None, format, tokenizer, self._extra_stop)
        }
        self.end_of_turn = format.eot(tokenizer)
        self._texts: dict[int, str] = {}

    def delimiters(self, control: ThinkingControl | None) -> Delimiters:
        """The ids a control needs in this tokenizer (cached)."""
        if control not in self._ids:
            self._ids[control] = delimiters(control, self.format, self.tokenizer, self._extra_stop)
        return self._ids[control]

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 1024,
        control: ThinkingControl | None = None,
        seed: int | None = None,
        top_p: float = 1.0,
    ) -> list[list[Generation]]:
        """Return ``n`` generations per prompt, in prompt order (see the Backend protocol).

        Greedy samples would be identical, so with ``temperature=0`` each prompt is generated
        once and its :class:`~tinyreason.Generation` repeated ``n`` times. Sampled requests get
        seeds derived from ``seed``, the prompt, the sample and the round, so a seed reproduces
        the samples on an engine that honours per-request seeds.

        Raises:
            ConfigError: invalid ``n``, ``temperature``, ``max_new_tokens``, ``top_p``,
                ``control`` or ``seed``.
            DataError: ``prompts`` is not a sequence of non-empty strings.
            EngineError: the engine failed (its subclasses say how).
        """
        check_generate_args(prompts, n, temperature, max_new_tokens, control, seed, top_p)
        if not prompts:
            return []
        if seed is None:
            seed = random.SystemRandom().getrandbits(31)
        run = _Run(control, self.delimiters(control), max_new_tokens, temperature, top_p, seed)
        copies = n if temperature > 0 else 1
        phase = _FREE if control is None else _THINK
        groups = [
            [
                _Sample(tuple(self.tokenizer.encode(p, add_special_tokens=False)), i, k, phase)
                for k in range(copies)
            ]
            for i, p in enumerate(prompts)
        ]
        self._run([s for group in groups for s in group], run)
        out = [[self._generation(s, run) for s in group] for group in groups]
        return [samples * n if copies == 1 else samples for samples in out]

    # -- rounds ------------------------------------------------------------------------------

    def _run(self, samples: list[_Sample], run: _Run) -> None:
        from tqdm.auto import tqdm

        disable = (len(samples) <= 1 or None) if self.progress is None else not self.progress
        with tqdm(total=len(samples), desc="generate", unit="sample", disable=disable) as bar:
            while True:
                pending = [(s, r) for s in samples if (r := self._next(s, run)) is not None]
                bar.update(len(samples) - len(pending) - bar.n)
                if not pending:
                    return
                results = self.engine.complete([r for _, r in pending])
                if not isinstance(results, list) or len(results) != len(pending):
                    got = len(results) if isinstance(results, list) else type(results).__name__
                    raise EngineError(f"the engine returned {got} results for {len(pending)}")
                for (sample, request), result in zip(pending, results, strict=True):
                    if not isinstance(result, CompletionResult):
                        raise EngineError(f"the engine returned a {type(result).__name__}")
                    self._apply(sample, request, result, run)

    def _next(self, s: _Sample, run: _Run) -> CompletionRequest | None:
        """Make every move that needs no engine call; return the sample's next request."""
        control, ids = run.control, run.ids
        while s.phase != _DONE:
            left = run.max_new_tokens - s.steps
            if left <= 0:
                s.phase = _DONE
            elif s.phase == _FREE:
                return self._request(s, run, left, ids.stop, ())
            elif s.phase == _THINK:
                assert control is not None
                cap = control.max_thinking
                if cap is not None and s.steps >= cap:  # the budget: force the end
                    s.forced_end = True
                    self._close(s, ids.forced_end, run)
                    continue
                room = left if cap is None else min(left, cap - s.steps)
                return self._request(s, run, room, ids.try_end, ())
            elif s.phase == _ANSWER:
                assert control is not None
                budget = control.max_answer_tokens - s.answer
                if budget <= 0:
                    s.phase = _PEEK
                    continue
                return self._request(s, run, min(budget, left), ids.stop, ids.banned_in_answer)
            else:  # _PEEK: would the model stop here, or is the end of turn forced?
                return self._request(s, run, 1, ids.stop, ids.banned_in_answer)
        return None

    def _request(
        self, s: _Sample, run: _Run, max_tokens: int, stop: tuple[int, ...], banned: tuple[int, ...]
    ) -> CompletionRequest:
        seed = None
        if run.temperature > 0:
            # One seed per (call seed, prompt, sample, round): reproducible, and no two requests
            # restart the same random stream.
            key = f"{run.seed}/{s.index}/{s.copy}/{s.rounds}".encode()
            seed = int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") >> 1
        return CompletionRequest(
            prompt=(*s.prompt, *s.ids),
            max_tokens=max_tokens,
            stop=tuple(t for t in (self._text(i) for i in stop) if t),
            stop_token_ids=stop,
            banned_token_ids=banned,
            temperature=run.temperature,
            top_p=run.top_p,
            seed=seed,
        )

    def _apply(self, s: _Sample, req: CompletionRequest, res: CompletionResult, run: _Run) -> None:
        """Fold one result into the sample's state, exactly as the processor's steps would."""
        s.rounds += 1
        stopped = _real_stop(res, req.stop_token_ids)
        if s.phase == _PEEK:
            s.steps += 1  # the model's stop token, or the end of turn forced in its place
            s.finished, s.answer_cut, s.phase = True, not stopped, _DONE
            return
        kept = res.num_tokens - 1 if stopped and res.num_tokens else res.num_tokens
        if res.token_ids is not None:
            new = list(res.token_ids[:kept])
            text = self._decode(new)
        else:
            # No ids: continue from the text re-encoded here (counts still come from the engine).
            s.exact = False
            text = res.text
            for stop in req.stop if stopped else ():
                text = text.removesuffix(stop)  # a server that keeps the stop text
            new = list(self.tokenizer.encode(text, add_special_tokens=False))
        # A length stop short of max_tokens: the engine's context window is full.
        full = res.finish_reason == "length" and res.num_tokens < req.max_tokens
        s.ids.extend(new)
        s.pieces.append(text)
        if s.phase == _THINK and stopped:
            s.steps += kept
            self._try_end(s, run)
            return
        s.steps += res.num_tokens  # a stop token's step is the end of turn, not in the text
        if s.phase == _ANSWER:
            s.answer += kept
        if stopped:
            s.finished, s.phase = True, _DONE
        elif full:
            s.phase = _DONE

    def _try_end(self, s: _Sample, run: _Run) -> None:
        """The model tried to end thinking at step ``s.steps``: wait, or let it end."""
        control, ids = run.control, run.ids
        assert control is not None
        if s.steps < control.min_thinking or s.waits < control.waits:
            s.waits += 1
            room = run.max_new_tokens - s.steps
            if control.max_thinking is not None:
                room = min(room, control.max_thinking - s.steps)
            # A wait cut short by the budget is followed by the forced end in _next().
            self._force(s, ids.wait[:room])
        else:
            self._close(s, ids.natural_end, run)

    def _close(self, s: _Sample, delimiter: tuple[int, ...], run: _Run) -> None:
        """End thinking at ``s.steps`` tokens and append ``delimiter`` (as far as it fits)."""
        s.thinking = s.steps
        room = max(0, run.max_new_tokens - s.steps)
        self._force(s, delimiter[:room])
        s.phase = _ANSWER if room >= len(delimiter) else _DONE

    def _force(self, s: _Sample, forced: tuple[int, ...]) -> None:
        s.ids.extend(forced)
        s.pieces.append(self._decode(forced))
        s.steps += len(forced)

    # -- results -----------------------------------------------------------------------------

    def _generation(self, s: _Sample, run: _Run) -> Generation:
        text = self._decode(s.ids) if s.exact else "".join(s.pieces)
        thinking_text, answer_text = self.format.parse(text, end_of_turn=self.end_of_turn)
        if run.control is None:
            thinking, answer = self._free_counts(s, run.ids)
        else:
            thinking = s.thinking if s.thinking is not None else s.steps
            answer = s.answer
        return Generation(
            text=text,
            thinking=thinking_text,
            answer_text=answer_text,
            thinking_tokens=thinking,
            answer_tokens=answer,
            finish_reason="stop" if s.finished and not s.answer_cut else "length",
            waits=s.waits,
            forced_end=s.forced_end,
        )

    def _free_counts(self, s: _Sample, ids: Delimiters) -> tuple[int, int]:
        """Thinking and answer tokens of a free generation.

        They are split where the model wrote ``think_end`` (and the separator), as the
        transformers backend splits them.
        """
        total = s.steps - int(s.finished)  # the end of turn is neither
        end = find_ids(s.ids, ids.think_end)
        if end < 0:
            return total, 0
        start = end + len(ids.think_end)
        if ids.separator and tuple(s.ids[start : start + len(ids.separator)]) == ids.separator:
            start += len(ids.separator)
        # With re-encoded ids (no token ids from the engine) the split is the local tokenizer's
        # estimate; the total stays the engine's count.
        return min(end, total), max(0, total - start)

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(
            list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
        )

    def _text(self, token: int) -> str:
        if token not in self._texts:
            self._texts[token] = self._decode([token])
        return self._texts[token]


def _real_stop(result: CompletionResult, stop_ids: Sequence[int]) -> bool:
    """True when a result stopped on a stop token or the model's EOS.

    A stop *string* matched by ordinary tokens that spell it out (``<``, ``|im_end|``, ``>``) is
    not a stop token in the processor's eyes, so when the ids show it, generation goes on.
    """
    if result.finish_reason != "stop":
        return False
    ids = result.token_ids
    return not (isinstance(result.stop_reason, str) and ids and ids[-1] not in stop_ids)
