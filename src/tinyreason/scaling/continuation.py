r"""Budget forcing in rounds: s1's own loop, over any engine that completes token-id prompts.

s1's paper numbers come from its lm-evaluation-harness fork, which drives vLLM in rounds
(:mod:`tinyreason.scaling.control` states the rules): think until the model stops, strip the stop,
append "Wait", think again; cut the joined thinking to the budget; append the end of thinking the
last round's finish calls for; answer. :class:`Continuation` runs exactly that loop for every
backend over the small :class:`CompletionEngine` interface (``transformers`` in process, a vLLM or
other completions server through the OpenAI SDK, in-process vLLM), so one greedy problem gives the
same token ids on all of them and on s1's code.

Each round is one engine call holding a request for every unfinished sample of every prompt.
Samples continue from token ids (prompt + what they have so far), and when the engine returns
token ids (transformers, in-process vLLM, a vLLM server asked for ``return_token_ids``) the model
conditions on exactly the ids s1's loop would have given it. An engine that returns only text
(SGLang, llama.cpp) gets the text re-encoded here, which can differ at a boundary; the counts then
come from the engine's usage, and the cut to the budget works on the re-encoded ids.

Every request's ``max_tokens`` is clipped to the model's context window when it is known (vLLM
stops at ``max_model_len`` the same way; its server refuses a request that does not fit).

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
from typing import TYPE_CHECKING, cast

from ..errors import ConfigError
from ..records import Generation, ThinkingControl
from ..students.formats import ThinkFormat
from .common import (
    Delimiters,
    check_generate_args,
    delimiters,
    find_ids,
    generation_budget,
    load_tokenizer,
    resolve_format,
)
from .engine import (
    BAN_BIAS,
    CompletionEngine,
    CompletionRequest,
    CompletionResult,
    EngineError,
)

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# The engine interface (.engine) and the argument / format / tokenizer helpers (.common) are
# re-exported here, where they were first public (and RoundsBackend, now in .rounds, below).
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

# -- the per-sample state machine ------------------------------------------------------------------

_THINK, _ANSWER, _FREE, _DONE = range(4)


@dataclass
class _Sample:
    """One sample's progress through s1's loop."""

    prompt: tuple[int, ...]
    index: int
    copy: int
    phase: int
    thinking: list[int] = field(default_factory=list)  # joined rounds, waits included, uncut
    pieces: list[str] = field(default_factory=list)  # the same as text (for text-only engines)
    generated: int = 0  # tokens the thinking rounds generated (the "remaining" bookkeeping)
    waits: int = 0  # waits counted against control.waits
    extra_waits: int = 0  # waits added by control.wait_below
    kept: int = 0  # thinking tokens after the cut, the ones the answer conditions on
    end: tuple[int, ...] = ()  # the appended end of thinking
    answer: list[int] = field(default_factory=list)
    answer_text: str = ""
    forced_end: bool = False
    finished: bool = False  # the answer ended on a stop token
    exact: bool = True  # every id came from the engine or was appended (none re-encoded)
    rounds: int = 0


class _Generates:
    """``generate`` as the Backend protocol declares it, written once for the loop and backends.

    :class:`Continuation` runs it; a :class:`~tinyreason.scaling.rounds.RoundsBackend` settles
    itself and hands it to its Continuation (``_loop``).
    """

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        control: ThinkingControl | None = None,
        seed: int | None = None,
        top_p: float = 1.0,
    ) -> list[list[Generation]]:
        """Return ``n`` generations per prompt, in prompt order, by s1's loop.

        Every unfinished sample of every prompt advances in the same round. Greedy samples would
        be identical, so with ``temperature=0`` each prompt is generated once and its
        :class:`~tinyreason.Generation` repeated ``n`` times. Sampled requests get seeds derived
        from ``seed``, the prompt, the sample and the round, so a seed reproduces the samples on
        an engine that honours per-request seeds.

        Args:
            prompts: Prompts from ``prompt()`` (the text the model continues).
            n: Samples per prompt.
            temperature: 0 for greedy decoding; above 0 samples.
            max_new_tokens: The generation budget (s1's ``max_gen_toks``): the answer's limit,
                the thinking's when ``max_thinking`` is None, and the base of ``"auto"``. None:
                the model's context window.
            control: The thinking control to enforce; None lets the model think freely (the
                thinking and answer are still split and counted using the format).
            seed: Seed for sampling; None draws a fresh one.
            top_p: Nucleus sampling mass (1.0: off).

        Raises:
            ConfigError: invalid ``n``, ``temperature``, ``max_new_tokens``, ``top_p``,
                ``control`` or ``seed``, or budgets that leave no room to think.
            DataError: ``prompts`` is not a sequence of non-empty strings.
            EngineError: the engine failed (its subclasses, such as a server's errors, say how).
        """
        check_generate_args(prompts, n, temperature, max_new_tokens, control, seed, top_p)
        return self._loop()._rounds(
            prompts,
            n,
            control=control,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
        )

    def _loop(self) -> Continuation:
        """The Continuation that runs the rounds."""
        raise NotImplementedError


@dataclass(frozen=True)
class _Run:
    """The options of one :meth:`Continuation.generate` call."""

    control: ThinkingControl | None
    ids: Delimiters
    max_new_tokens: int
    thinking_budget: int
    temperature: float
    top_p: float
    seed: int


class Continuation(_Generates):
    """Run s1's budget-forcing loop over a :class:`CompletionEngine`, round by round.

    Every backend delegates ``generate`` to this, so the rules live in one place.

    Args:
        engine: The engine; one ``complete`` call per round, holding every unfinished sample.
        tokenizer: The model's tokenizer (prompts, delimiters, decoding).
        format: The student format.
        extra_stop: Other ids that end generation besides the format's end of turn (the model's
            ``generation_config.eos_token_id``).
        context_window: The model's context length in tokens, when known: requests are clipped to
            it, and ``max_new_tokens=None`` is sized from it.
        progress: Show a progress bar over samples; None shows it on a terminal for several.

    Raises:
        ConfigError: the format's delimiters do not fit the tokenizer.

    Example:
        >>> runner = Continuation(engine, tokenizer, tr.chat_format("think-tags"))  # doctest: +SKIP
        >>> control = ThinkingControl(max_thinking=64, waits=1)
        >>> [[g]] = runner.generate(["<prompt>"], control=control)  # doctest: +SKIP
        >>> g.thinking_tokens <= 64  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        engine: CompletionEngine,
        tokenizer: PreTrainedTokenizerBase,
        format: ThinkFormat,
        *,
        extra_stop: Iterable[int] = (),
        context_window: int | None = None,
        progress: bool | None = None,
    ):
        self.engine = engine
        self.tokenizer = tokenizer
        self.format = format
        self.progress = progress
        self.context_window = context_window
        self._extra_stop = tuple(extra_stop)
        self._ids: dict[ThinkingControl | None, Delimiters] = {
            None: delimiters(None, format, tokenizer, self._extra_stop)
        }
        self.end_of_turn = format.eot(tokenizer)
        self._texts: dict[int, str] = {}
        self._start = self._ids[None].think_start

    def delimiters(self, control: ThinkingControl | None) -> Delimiters:
        """The ids a control needs in this tokenizer (cached)."""
        if control not in self._ids:
            self._ids[control] = delimiters(control, self.format, self.tokenizer, self._extra_stop)
        return self._ids[control]

    def encode_prompt(self, prompt: str) -> tuple[int, ...]:
        """A prompt's ids; ``think_start`` is encoded on its own, as s1 appends its ids."""
        start = self.format.think_start
        if prompt.endswith(start) and len(prompt) > len(start):
            head = self.tokenizer.encode(prompt[: -len(start)], add_special_tokens=False)
            return (*head, *self._start)
        return tuple(self.tokenizer.encode(prompt, add_special_tokens=False))

    def _loop(self) -> Continuation:
        return self

    def _rounds(
        self,
        prompts: Sequence[str],
        n: int,
        *,
        control: ThinkingControl | None,
        max_new_tokens: int | None,
        temperature: float,
        top_p: float,
        seed: int | None,
    ) -> list[list[Generation]]:
        """:meth:`generate`, its arguments checked (the options in :class:`_Run`'s order)."""
        if not prompts:
            return []
        encoded = [self.encode_prompt(p) for p in prompts]
        longest = max(len(e) for e in encoded)
        budget = generation_budget(max_new_tokens, self.context_window, longest)
        ids = self.delimiters(control)
        thinking_budget = budget
        if control is not None:
            thinking_budget = control.thinking_budget(budget, longest + len(ids.auto_end))
            if control.wait_below > thinking_budget:
                raise ConfigError(
                    f"wait_below ({control.wait_below}) is above the thinking budget "
                    f"({thinking_budget}); lower wait_below or raise max_thinking."
                )
        if seed is None:
            seed = random.SystemRandom().getrandbits(31)
        run = _Run(control, ids, budget, thinking_budget, temperature, top_p, seed)
        copies = n if temperature > 0 else 1
        phase = _FREE if control is None else _THINK
        groups = [[_Sample(e, i, k, phase) for k in range(copies)] for i, e in enumerate(encoded)]
        self._run([s for group in groups for s in group], run)
        out = [[self._generation(s, run) for s in group] for group in groups]
        return [samples * n if copies == 1 else samples for samples in out]

    # -- rounds ------------------------------------------------------------------------------

    def _run(self, samples: list[_Sample], run: _Run) -> None:
        from tqdm.auto import tqdm

        disable = (len(samples) <= 1 or None) if self.progress is None else not self.progress
        with tqdm(total=len(samples), desc="generate", unit="sample", disable=disable) as bar:
            while True:
                pending = [(s, r) for s in samples if (r := self._request(s, run)) is not None]
                bar.update(len(samples) - len(pending) - bar.n)
                if not pending:
                    return
                asked = [(s, r) for s, r in pending if r.max_tokens > 0]
                results = self.engine.complete([r for _, r in asked]) if asked else []
                if not isinstance(results, list) or len(results) != len(asked):
                    got = len(results) if isinstance(results, list) else type(results).__name__
                    raise EngineError(f"the engine returned {got} results for {len(asked)}")
                answers = iter(results)
                for sample, request in pending:
                    # A request with no room left in the context window ends by length, unasked.
                    result = next(answers) if request.max_tokens > 0 else _EMPTY
                    if not isinstance(result, CompletionResult):
                        raise EngineError(f"the engine returned a {type(result).__name__}")
                    self._apply(sample, request, result, run)

    def _request(self, s: _Sample, run: _Run) -> CompletionRequest | None:
        """The sample's next request, or None when it is done."""
        control, ids = run.control, run.ids
        if s.phase == _DONE:
            return None
        banned: tuple[int, ...] = ()
        prefix: tuple[int, ...]
        min_tokens = 0
        if s.phase == _FREE:
            prefix, stop, max_tokens = (), ids.stop, run.max_new_tokens
        elif s.phase == _THINK:
            assert control is not None
            prefix, stop, min_tokens = tuple(s.thinking), ids.try_end, control.min_tokens
            max_tokens = run.thinking_budget
            if control.round_budget == "remaining":
                max_tokens -= s.generated
        else:  # _ANSWER
            assert control is not None
            prefix, stop = (*s.thinking[: s.kept], *s.end), ids.stop
            max_tokens = control.max_answer_tokens or run.max_new_tokens
            if control.ban_delimiters_in_answer:
                banned = ids.banned_in_answer
        prompt = (*s.prompt, *prefix)
        if self.context_window is not None:
            max_tokens = min(max_tokens, self.context_window - len(prompt))
        seed = None
        if run.temperature > 0:
            # One seed per (call seed, prompt, sample, round): reproducible, and no two requests
            # restart the same random stream.
            key = f"{run.seed}/{s.index}/{s.copy}/{s.rounds}".encode()
            seed = int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") >> 1
        return CompletionRequest(
            prompt=prompt,
            max_tokens=max(0, max_tokens),
            stop=tuple(t for t in (self._text(i) for i in stop) if t),
            stop_token_ids=stop,
            min_tokens=min(min_tokens, max(0, max_tokens)),
            banned_token_ids=banned,
            temperature=run.temperature,
            top_p=run.top_p,
            seed=seed,
        )

    def _ids_of(self, s: _Sample, req: CompletionRequest, res: CompletionResult) -> list[int]:
        """The result's ids, the stop token included; text-only results are re-encoded."""
        if res.token_ids is not None:
            return list(res.token_ids)
        s.exact = False
        text = res.text
        for stop in req.stop if res.finish_reason == "stop" else ():
            text = text.removesuffix(stop)  # a server that keeps the stop text
        new = list(self.tokenizer.encode(text, add_special_tokens=False))
        if res.finish_reason == "stop" and req.stop_token_ids:
            new.append(req.stop_token_ids[0])  # some stop ended it; the loop strips it anyway
        return new

    def _apply(self, s: _Sample, req: CompletionRequest, res: CompletionResult, run: _Run) -> None:
        """Fold one result into the sample's state, as s1's loop does."""
        s.rounds += 1
        new = self._ids_of(s, req, res)
        if s.phase == _FREE:
            s.answer, s.phase = new, _DONE
            s.finished = bool(new) and res.finish_reason == "stop" and new[-1] in run.ids.stop
            return
        if s.phase == _ANSWER:
            s.answer, s.answer_text, s.phase = new, res.text, _DONE
            s.finished = bool(new) and res.finish_reason == "stop" and new[-1] in run.ids.stop
            return
        control, ids = run.control, run.ids
        assert control is not None
        s.generated += res.num_tokens
        stopped = res.finish_reason == "stop"
        budget_left = run.thinking_budget - s.generated
        if stopped and (control.round_budget == "whole" or budget_left > 0):
            body = _strip(new, ids.strip)
            waits_left = s.waits < control.waits
            if waits_left or len(s.thinking) + len(body) < control.wait_below:
                # Ignore this stop: strip it, append the wait, think again.
                if waits_left:
                    s.waits += 1
                else:
                    s.extra_waits += 1
                s.thinking += [*body, *ids.wait]
                return
        s.thinking += new
        self._end_thinking(s, run, forced=res.finish_reason == "length")

    def _end_thinking(self, s: _Sample, run: _Run, *, forced: bool) -> None:
        """Cut the thinking to the budget and append the end the last round calls for."""
        ids = run.ids
        kept = _strip(s.thinking[: run.thinking_budget], ids.strip)
        s.kept = len(kept)
        s.forced_end = forced
        if forced:
            # s1 adds a newline unless the (uncut) thinking text already ends with one.
            text = cast(str, self.tokenizer.decode(s.thinking, skip_special_tokens=True))
            newline = () if text.endswith("\n") else ids.newline
            s.end = (*newline, *ids.forced_end)
        else:
            s.end = ids.natural_end
        s.phase = _ANSWER

    # -- results -----------------------------------------------------------------------------

    def _generation(self, s: _Sample, run: _Run) -> Generation:
        if run.control is None:
            generated = s.answer
        else:
            generated = [*s.thinking[: s.kept], *s.end, *s.answer]
        body = generated[:-1] if s.finished else generated
        text = self._decode(body)
        thinking_text, answer_text = self.format.parse(text, end_of_turn=self.end_of_turn)
        if run.control is None:
            thinking, answer = self._free_counts(body, run.ids)
        else:
            thinking, answer = s.kept, len(s.answer) - int(s.finished)
        return Generation(
            text=text,
            thinking=thinking_text,
            answer_text=answer_text,
            thinking_tokens=thinking,
            answer_tokens=answer,
            finish_reason="stop" if s.finished else "length",
            waits=s.waits + s.extra_waits,
            forced_end=s.forced_end,
            token_ids=tuple(generated) if s.exact else None,
        )

    def _free_counts(self, body: list[int], ids: Delimiters) -> tuple[int, int]:
        """Thinking and answer tokens of a free generation, split where it wrote ``think_end``."""
        end = find_ids(body, ids.think_end)
        if end < 0:
            return len(body), 0
        start = end + len(ids.think_end)
        if ids.separator and tuple(body[start : start + len(ids.separator)]) == ids.separator:
            start += len(ids.separator)
        return end, max(0, len(body) - start)

    def _decode(self, ids: Sequence[int]) -> str:
        # One sequence of ids decodes to one str (transformers types decode for batches too).
        return cast(
            str,
            self.tokenizer.decode(
                list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            ),
        )

    def _text(self, token: int) -> str:
        if token not in self._texts:
            self._texts[token] = self._decode([token])
        return self._texts[token]


_EMPTY = CompletionResult("", 0, "length", ())


def _strip(ids: list[int], strip: tuple[int, ...]) -> list[int]:
    """``ids`` without a trailing stop id (s1 removes the stop token's ids from the end)."""
    return ids[:-1] if ids and ids[-1] in strip else list(ids)


def __getattr__(name: str) -> type:
    # RoundsBackend lives in .rounds, which imports this module: resolved on first use.
    if name == "RoundsBackend":
        from .rounds import RoundsBackend

        return RoundsBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
