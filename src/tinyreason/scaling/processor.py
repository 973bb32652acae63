"""Budget forcing inside one ``model.generate()`` call: a ``transformers`` logits processor.

:class:`ThinkingProcessor` enforces a :class:`~tinyreason.scaling.control.ThinkingControl` for
every row of a batch while ``generate`` runs, so there is no restart, no re-prefill and the KV
cache is kept. It also *chooses* each token itself and returns scores in which only that token is
finite; call ``generate`` with ``do_sample=False`` and greedy decoding then picks it. Choosing the
token here, not in HF's sampler, matters for sampling: custom processors run *before* HF's
temperature / top-p warpers, so HF would sample after the processor had already decided whether
the row "tries to end". Here a sampled end token is replaced by the wait text exactly as a greedy
one is.

Per row the processor keeps a phase (thinking, closing, answering, done), the step at which each
phase began, the waits used and a queue of forced token ids. Every token generated while thinking
counts as a thinking token, injected wait tokens included, so the thinking count of a row still
thinking is simply the step number and nothing is counted per step. The common step costs an
argmax (or one inverse-CDF draw per row), one copy of the picks to the host and a scan of them for
end tokens; only rows with something to do (a forced token, an attempt to end, a budget reached)
get Python work. On the tiny test model that is within noise of plain ``generate``.

Example:
    >>> from transformers import LogitsProcessorList  # doctest: +SKIP
    >>> ids = control_ids(ThinkingControl(max_thinking=64), fmt, tokenizer)  # doctest: +SKIP
    >>> proc = ThinkingProcessor(ThinkingControl(max_thinking=64), ids)  # doctest: +SKIP
    >>> out = model.generate(**enc, do_sample=False, max_new_tokens=600,  # doctest: +SKIP
    ...                      logits_processor=LogitsProcessorList([proc]))
    >>> proc.stats(out.shape[1] - enc["input_ids"].shape[1])[0].thinking_tokens  # doctest: +SKIP
    64
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessor

from ..errors import ConfigError
from ..students.formats import ThinkFormat
from .common import delimiters
from .control import ThinkingControl

__all__ = ["ControlIds", "RowStats", "ThinkingProcessor", "control_ids"]

THINKING, CLOSING, ANSWERING, DONE = 0, 1, 2, 3


@dataclass(frozen=True)
class ControlIds:
    r"""The token ids a :class:`ThinkingProcessor` watches and forces, for one tokenizer.

    Attributes:
        think_start: Ids of the format's start-of-thinking delimiter.
        think_end: Ids of the end-of-thinking delimiter; picking ``think_end[0]`` tries to end.
        end_of_turn: The id forced to end the turn (the format's end of turn).
        stop: Every id that ends generation (the end of turn and the model's other EOS ids);
            picking one while thinking also tries to end.
        wait: Ids of the wait text (empty when no control needs it).
        natural_end: Ids forced when the model ends thinking itself (``think_end`` + separator).
        forced_end: Ids forced at the thinking budget (``"\n"`` + ``think_end`` + separator +
            final answer text).
    """

    think_start: tuple[int, ...]
    think_end: tuple[int, ...]
    end_of_turn: int
    stop: tuple[int, ...]
    wait: tuple[int, ...] = ()
    natural_end: tuple[int, ...] = ()
    forced_end: tuple[int, ...] = ()


def control_ids(
    control: ThinkingControl | None,
    format: ThinkFormat,
    tokenizer: Any,
    extra_stop: Iterable[int] = (),
) -> ControlIds:
    """Tokenise a format's delimiters and a control's texts for a :class:`ThinkingProcessor`.

    Args:
        control: The thinking control, or None to get only the delimiters.
        format: The student format.
        tokenizer: The model's tokenizer.
        extra_stop: Other ids that end generation (the model's ``generation_config.eos_token_id``).

    Raises:
        ConfigError: the format's delimiters do not fit the tokenizer (see
            :meth:`ThinkFormat.tokens`), or a control's texts do not (see
            :func:`~tinyreason.scaling.common.delimiters`, which tokenises them for both kinds of
            backend).
    """
    d = delimiters(control, format, tokenizer, extra_stop)
    return ControlIds(
        think_start=d.think_start,
        think_end=d.think_end,
        end_of_turn=d.end_of_turn,
        stop=d.stop,
        wait=d.wait,
        natural_end=d.natural_end,
        forced_end=d.forced_end,
    )


@dataclass(frozen=True)
class RowStats:
    """What happened to one row of a generate call, counted exactly.

    Attributes:
        thinking_tokens: Tokens generated while thinking, injected wait tokens included; forced
            delimiter and lead-in tokens excluded.
        answer_tokens: Tokens the model wrote after the delimiter and lead-in, end of turn
            excluded (never more than ``max_answer_tokens``).
        waits: Times the wait text replaced an attempt to end.
        forced_end: True when thinking was cut at ``max_thinking``.
        finished: True when the row emitted an end-of-turn token.
        answer_cut: True when the end of turn was forced at ``max_answer_tokens``.
        length: Tokens generated in all, end of turn included.
    """

    thinking_tokens: int
    answer_tokens: int
    waits: int
    forced_end: bool
    finished: bool
    answer_cut: bool
    length: int


class ThinkingProcessor(LogitsProcessor):
    """A logits processor that enforces a :class:`ThinkingControl` on every row of a batch.

    Semantics are those of :mod:`tinyreason.scaling.control`. Use a new processor for each
    ``generate`` call (it keeps per-row state), with ``do_sample=False`` and ``num_beams=1``:
    the processor picks the token (greedy, or sampled with ``temperature`` / ``top_p`` from
    ``generator``) and leaves only that token finite.

    Args:
        control: The thinking control; None only samples (no forcing, no statistics).
        ids: Token ids from :func:`control_ids`.
        temperature: 0 for greedy; above 0 samples from ``softmax(scores / temperature)``.
        top_p: Nucleus sampling mass (1.0: off).
        generator: The random generator for sampling (seed it for reproducible samples); one on
            the scores' device is made when None.

    Example:
        >>> control = ThinkingControl(max_thinking=32, waits=1)
        >>> proc = ThinkingProcessor(control, control_ids(control, fmt, tok))  # doctest: +SKIP
        >>> model.generate(**enc, do_sample=False, logits_processor=[proc])  # doctest: +SKIP
        >>> [s.waits for s in proc.stats()]  # doctest: +SKIP
        [1, 1]
    """

    def __init__(
        self,
        control: ThinkingControl | None,
        ids: ControlIds,
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        generator: torch.Generator | None = None,
    ):
        problems = []
        if not isinstance(temperature, (int, float)) or not math.isfinite(temperature):
            problems.append(f"temperature must be a finite number >= 0, got {temperature!r}")
        elif temperature < 0:
            problems.append(f"temperature must be >= 0 (0 is greedy), got {temperature!r}")
        if not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {top_p!r}")
        if control is not None and control.extends and not ids.wait:
            problems.append(
                "the control injects wait text but ids.wait is empty; use control_ids()"
            )
        if control is not None and not (ids.natural_end and ids.forced_end):
            problems.append(
                "ids lack natural_end / forced_end; build them with control_ids(control)"
            )
        if problems:
            raise ConfigError(problems)
        self.control = control
        self.ids = ids
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.generator = generator
        self._stop = frozenset(ids.stop)
        self._try_end = frozenset((ids.think_end[0], *ids.stop))
        self._step = 0
        self._rows = 0
        self._prompt_len = 0

    # -- per-call setup ------------------------------------------------------------------------

    def _start(self, input_ids: torch.Tensor, scores: torch.Tensor) -> None:
        rows, device = scores.shape[0], scores.device
        self._rows, self._prompt_len = rows, input_ids.shape[1]
        if self.temperature > 0 and self.generator is None:
            self.generator = torch.Generator(device=device)
            self.generator.seed()
        if self.control is None:
            return
        self._phase = [THINKING] * rows
        self._thinking = [0] * rows  # set when thinking ends; rows still thinking use the step
        self._answer_start = [0] * rows
        self._end_step = [-1] * rows
        self._waits = [0] * rows
        self._forced_end = [False] * rows
        self._answer_cut = [False] * rows
        self._queue: list[deque[int]] = [deque() for _ in range(rows)]
        self._queued: set[int] = set()
        self._cuts: dict[int, list[int]] = {}  # step -> rows whose answer budget ends there
        self._thinking_rows = set(range(rows))
        # Answering rows may not reopen or re-close thinking: an additive bias of -inf on the
        # first tokens of both delimiters, switched on per row when its answer starts.
        banned = sorted({self.ids.think_start[0], self.ids.think_end[0]})
        self._ban_ids = torch.tensor(banned, dtype=torch.long, device=device)
        self._ban_bias = torch.zeros(rows, len(banned), dtype=scores.dtype, device=device)
        self._any_answering = False

    # -- the step ------------------------------------------------------------------------------

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Choose this step's token for every row; return scores where only it is finite."""
        step = self._step
        if step == 0:
            self._start(input_ids, scores)
        elif scores.shape[0] != self._rows or input_ids.shape[1] != self._prompt_len + step:
            raise ConfigError(
                "a ThinkingProcessor was reused across generate() calls, or used with beam search; "
                "make a new processor for each call and use num_beams=1."
            )
        self._step = step + 1
        if self.control is None:
            if self.temperature == 0:
                return scores
            return self._only(scores, self._sample(scores))

        if self._any_answering:
            scores.index_add_(1, self._ban_ids, self._ban_bias)
        pick = self._sample(scores) if self.temperature > 0 else scores.argmax(dim=-1)

        # One host sync per step: the picks as Python ints. Spotting an end token among them in
        # Python is cheaper than any tensor op at these sizes, and leaves the GPU alone.
        picks = pick.tolist()
        try_end, phase = self._try_end, self._phase
        visit = {r for r, token in enumerate(picks) if token in try_end and phase[r] != DONE}
        if self._queued:
            visit.update(self._queued)
        if step in self._cuts:
            visit.update(self._cuts.pop(step))
        if self.control.max_thinking is not None and step == self.control.max_thinking:
            visit.update(self._thinking_rows)
        if not visit:
            return self._only(scores, pick) if self.temperature > 0 else scores

        changed_rows, changed_tokens = [], []
        for row in sorted(visit):
            token = self._advance(row, step, picks[row])
            if token is not None and token != picks[row]:
                changed_rows.append(row)
                changed_tokens.append(token)
        if changed_rows:
            pick[torch.tensor(changed_rows, device=pick.device)] = torch.tensor(
                changed_tokens, dtype=pick.dtype, device=pick.device
            )
        elif self.temperature == 0:
            return scores  # greedy picks `pick` from these scores already
        return self._only(scores, pick)

    def _advance(self, row: int, step: int, pick: int) -> int | None:
        """Move one row's state machine a step; return the token to emit (None: ``pick``)."""
        phase = self._phase[row]
        queue = self._queue[row]
        control = self.control
        assert control is not None
        if phase == THINKING:
            # `step` tokens were generated so far, all of them thinking.
            if control.max_thinking is not None and step >= control.max_thinking:
                self._forced_end[row] = True
                return self._close(row, step, self.ids.forced_end)
            if queue:  # wait text being injected; it counts as thinking
                return self._pop(row)
            if pick not in self._try_end:
                return None
            if step < control.min_thinking or self._waits[row] < control.waits:
                self._waits[row] += 1
                queue.extend(self.ids.wait)
                self._queued.add(row)
                return self._pop(row)
            # The end is allowed. A pick of think_end[0] stays; an end-of-turn pick becomes it.
            return self._close(row, step, self.ids.natural_end)
        if phase == CLOSING:
            token = self._pop(row)
            if not queue:
                self._begin_answer(row, step + 1)
            return token
        if phase == ANSWERING:
            if pick in self._stop:  # a natural end, even on the last step of the budget
                self._finish(row, step)
                return None
            if step - self._answer_start[row] >= control.max_answer_tokens:
                self._answer_cut[row] = True
                self._finish(row, step)
                return self.ids.end_of_turn
            return None
        return None  # DONE: generate pads the row; nothing to do

    def _pop(self, row: int) -> int:
        queue = self._queue[row]
        token = queue.popleft()
        if not queue:
            self._queued.discard(row)
        return token

    def _close(self, row: int, step: int, delimiter: tuple[int, ...]) -> int:
        """End thinking at ``step`` tokens: force ``delimiter`` from this step on."""
        self._thinking[row] = step
        self._thinking_rows.discard(row)
        queue = self._queue[row]
        queue.clear()  # a wait text cut short by the budget
        queue.extend(delimiter)
        self._queued.add(row)
        self._phase[row] = CLOSING
        token = self._pop(row)
        if not queue:
            self._begin_answer(row, step + 1)
        return token

    def _begin_answer(self, row: int, step: int) -> None:
        self._phase[row] = ANSWERING
        self._answer_start[row] = step
        self._cuts.setdefault(step + self.control.max_answer_tokens, []).append(row)  # type: ignore[union-attr]
        self._ban_bias[row] = float("-inf")
        self._any_answering = True

    def _finish(self, row: int, step: int) -> None:
        self._phase[row] = DONE
        self._end_step[row] = step

    # -- token choice --------------------------------------------------------------------------

    def _sample(self, scores: torch.Tensor) -> torch.Tensor:
        logits = scores.div_(self.temperature)  # in place: the scores are rewritten afterwards
        if self.top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(dim=-1)
            # Drop tokens once the mass before them already reaches top_p (the top one stays).
            drop = probs.cumsum(dim=-1) - probs >= self.top_p
            sorted_logits = sorted_logits.masked_fill(drop, float("-inf"))
            logits = logits.scatter(1, order, sorted_logits)
        # Inverse-CDF sampling: one uniform per row instead of torch.multinomial's per-token
        # work (several times faster on CPU). `right=True` returns the first index whose CDF
        # exceeds the target, which is never a zero-probability (banned or cut) token.
        cdf = logits.softmax(dim=-1).cumsum_(dim=-1)
        # rand() < 1 - 2**-24; shrinking it by 2**-23 more keeps u * total a few ulps below the
        # total even after rounding, so some token's CDF always exceeds the target.
        u = torch.rand(cdf.shape[0], 1, generator=self.generator, device=cdf.device)
        target = u.mul_(1.0 - 2.0**-23).mul_(cdf[:, -1:])
        return torch.searchsorted(cdf, target, right=True).squeeze(1)

    @staticmethod
    def _only(scores: torch.Tensor, pick: torch.Tensor) -> torch.Tensor:
        """Scores where each row's ``pick`` is the only finite value."""
        scores.fill_(float("-inf"))
        return scores.scatter_(1, pick.unsqueeze(1), 0.0)

    # -- results -------------------------------------------------------------------------------

    def stats(self, generated: int | None = None) -> list[RowStats]:
        """Exact per-row statistics after ``generate`` returned.

        Args:
            generated: Tokens generated per row (``output.shape[1] - prompt length``); defaults to
                the number of steps this processor saw.

        Raises:
            ConfigError: the processor has no control (nothing is counted) or was never called.
        """
        if self.control is None:
            raise ConfigError("a ThinkingProcessor without a control counts nothing; give it one.")
        total = self._step if generated is None else generated
        if self._rows == 0:
            if total == 0:
                raise ConfigError("the processor was never called: run generate() with it first.")
            raise ConfigError("the processor was not passed to generate(); pass logits_processor.")
        out = []
        for row in range(self._rows):
            phase, end = self._phase[row], self._end_step[row]
            finished = phase == DONE
            length = end + 1 if finished else total
            if phase == THINKING:
                thinking, answer = total, 0
            elif phase == CLOSING:
                thinking, answer = self._thinking[row], 0
            else:
                thinking = self._thinking[row]
                answer = (end if finished else total) - self._answer_start[row]
            out.append(
                RowStats(
                    thinking_tokens=thinking,
                    answer_tokens=max(0, answer),
                    waits=self._waits[row],
                    forced_end=self._forced_end[row],
                    finished=finished,
                    answer_cut=self._answer_cut[row],
                    length=length,
                )
            )
        return out
