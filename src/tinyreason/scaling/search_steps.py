r"""Step-wise generation for the tree searches: grow partial solutions one step at a time.

A *step* ends at the step delimiter (``"\n\n"``, search-and-learn's and s1's), at the end of the
turn, or when it runs out of tokens. :class:`Stepper` extends many partial solutions (*paths*) by
one step each in a single :meth:`Backend.generate <tinyreason.Backend.generate>` call: each path is
continued from ``backend.prompt(question) + path.text``, freely (no thinking control), and what it
writes is cut after the first delimiter.

The Backend protocol has no stop strings, so a step is generated up to its token cap and cut
afterwards: the tokens past the delimiter are generated, counted in :attr:`Step.generated`, and
thrown away (vLLM's ``stop=["\n\n"]`` would not generate them; ``docs/scaling.md`` has the cost).
Every count is exact when the backend returns token ids (the ``transformers`` backend, vLLM);
otherwise steps are counted by re-encoding their text with the backend's tokenizer.

Example:
    >>> Step("6*7 = 42\n\n", tokens=5, generated=9, end="step").done
    False
    >>> Path().extend(Step("6*7 = 42\n\n", 5, 9, "step")).text
    '6*7 = 42\n\n'
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError
from ..interfaces import HasTokenizer
from ..records import Generation
from .budget_forcing import check_results
from .common import find_ids

if TYPE_CHECKING:
    from ..interfaces import Backend, StudentFormat

__all__ = ["Path", "Step", "Stepper", "derive_seed", "generated_tokens", "split_steps"]

StepEnd = Literal["step", "stop", "length"]


@dataclass(frozen=True)
class Step:
    """One step of a path, as kept.

    Args:
        text: The step's text (ending with the delimiter when ``end`` is ``"step"``).
        tokens: Tokens kept: those up to and including the one that completed the delimiter, or
            every token written when the step ended otherwise (the end-of-turn token excluded).
        generated: Tokens the backend generated for it, the discarded ones after the delimiter
            and the end-of-turn token included: the compute spent.
        end: ``"step"`` (the delimiter), ``"stop"`` (the end of the turn) or ``"length"`` (out
            of tokens: the step's cap or the path's budget).
        token_ids: The kept ids (plus the end-of-turn id when ``end`` is ``"stop"``), when the
            backend returned ids; None otherwise.
    """

    text: str
    tokens: int
    generated: int
    end: StepEnd
    token_ids: tuple[int, ...] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        """True when the path ends with this step (it did not stop at the delimiter)."""
        return self.end != "step"


@dataclass(frozen=True)
class Path:
    """A partial (or, once :attr:`done`, complete) solution: the steps written so far."""

    steps: tuple[Step, ...] = ()

    def extend(self, step: Step) -> Path:
        """This path with one more step."""
        return Path((*self.steps, step))

    @property
    def text(self) -> str:
        """Everything written after the prompt."""
        return "".join(s.text for s in self.steps)

    @property
    def tokens(self) -> int:
        """Tokens kept on the path."""
        return sum(s.tokens for s in self.steps)

    @property
    def done(self) -> bool:
        """True when the last step ended the path (end of turn, or out of tokens)."""
        return bool(self.steps) and self.steps[-1].done

    @property
    def token_ids(self) -> tuple[int, ...] | None:
        """Every kept id (the end-of-turn id last when it ended so), or None if any is unknown."""
        ids: list[int] = []
        for s in self.steps:
            if s.token_ids is None:
                return None
            ids += s.token_ids
        return tuple(ids)


def split_steps(text: str, delimiter: str = "\n\n") -> list[str]:
    r"""Split text into steps on the delimiter; blank steps are dropped, each step is stripped.

    Example:
        >>> split_steps("a = 1\n\nb = 2\n\n\n\nso 3\n\n")
        ['a = 1', 'b = 2', 'so 3']
    """
    return [s.strip() for s in text.split(delimiter) if s.strip()]


def reward_steps(text: str, fmt: StudentFormat, delimiter: str) -> list[str]:
    r"""What a reward model reads of a path: its thinking's steps, then its answer as one step.

    A path with nothing written yet is one empty step, so every candidate gets a score.

    Example:
        >>> import tinyreason as tr
        >>> reward_steps("6*7\n\n= 42\n</think>\n\n42", tr.chat_format("think-tags"), "\n\n")
        ['6*7', '= 42', '42']
    """
    thinking, answer = fmt.parse(text)
    steps = split_steps(thinking, delimiter)
    if answer.strip():
        steps.append(answer.strip())
    return steps or [""]


def derive_seed(seed: int, *keys: object) -> int:
    """A 31-bit seed for one call of a search, from the solve's seed and the call's keys.

    Example:
        >>> derive_seed(0, "round", 1) == derive_seed(0, "round", 1) != derive_seed(0, "round", 2)
        True
    """
    digest = hashlib.blake2b("/".join(map(str, (seed, *keys))).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") >> 1


def fresh_seed(seed: int | None) -> int:
    """``seed``, or a random one when None (so every call of the solve still differs)."""
    return seed if seed is not None else random.SystemRandom().getrandbits(31)


def generated_tokens(generation: Generation, tokenizer: Any = None) -> int:
    """Tokens the backend generated for a whole generation (the end-of-turn token included).

    Exact when the generation has its token ids; else the text re-encoded with ``tokenizer``;
    else its thinking and answer tokens (the delimiters between them are then not counted).

    Example:
        >>> generated_tokens(Generation("42", "", "42", 0, 1, token_ids=(52, 50, 2)))
        3
    """
    if generation.token_ids is not None:
        return len(generation.token_ids)
    stop = int(generation.finish_reason == "stop")
    if tokenizer is not None:
        return len(tokenizer.encode(generation.text, add_special_tokens=False)) + stop
    return generation.thinking_tokens + generation.answer_tokens + stop


class Stepper:
    """Extends paths one step at a time through a backend, counting every generated token.

    Args:
        backend: Any :class:`~tinyreason.Backend` with a tokenizer (``HasTokenizer``; every
            built-in backend has one), used to count and split tokens.
        delimiter: Where a step ends.
        max_step_tokens: Tokens one step may take.
        max_new_tokens: Tokens a whole path may take (None: only ``max_step_tokens`` per step).

    Raises:
        ConfigError: the backend has no tokenizer.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        delimiter: str,
        max_step_tokens: int,
        max_new_tokens: int | None,
    ):
        if not isinstance(backend, HasTokenizer):
            raise ConfigError(
                f"step-wise search counts and cuts tokens with the backend's tokenizer, and "
                f"{type(backend).__name__} has none; use a built-in backend or give yours a "
                "`tokenizer` attribute (tinyreason.interfaces.HasTokenizer)."
            )
        from ..students.protocol import as_think_format

        self.backend, self.tokenizer = backend, backend.tokenizer
        self.delimiter, self.max_step_tokens = delimiter, max_step_tokens
        self.max_new_tokens = max_new_tokens
        fmt = as_think_format(backend.format)
        self._think_end = self._encode(fmt.think_end)
        self._separator_text = fmt.answer_separator
        self._separator = self._encode(fmt.answer_separator)

    def _encode(self, text: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.encode(text, add_special_tokens=False)) if text else ()

    def _decode(self, ids: Sequence[int]) -> str:
        return str(
            self.tokenizer.decode(
                list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False
            )
        )

    def budget(self, path: Path) -> int:
        """Tokens the next step of ``path`` may take (0: the path's budget is spent)."""
        if self.max_new_tokens is None:
            return self.max_step_tokens
        return max(0, min(self.max_step_tokens, self.max_new_tokens - path.tokens))

    def expand(
        self,
        prompts: Sequence[str],
        paths: Sequence[Path],
        *,
        temperature: float,
        seed: int,
        to_end: bool = False,
    ) -> list[Step]:
        """One next step for each ``(prompt, path)``, from one backend call per step budget.

        Args:
            prompts: Each path's rendered question (``backend.prompt(question)``).
            paths: The paths to extend; none may be done or out of budget.
            temperature: Sampling temperature.
            seed: The call's seed (each prompt's sample gets its own stream from it).
            to_end: Write to the end of the turn (or the cap) instead of stopping at the delimiter.

        Returns:
            The steps, in order.
        """
        groups: dict[int, list[int]] = {}
        for i, path in enumerate(paths):
            groups.setdefault(self.budget(path), []).append(i)
        if 0 in groups:
            raise ConfigError("a path with no token budget left cannot take another step")
        steps: list[Step | None] = [None] * len(paths)
        for budget, indices in sorted(groups.items()):
            results = self.backend.generate(
                [prompts[i] + paths[i].text for i in indices],
                n=1,
                temperature=temperature,
                max_new_tokens=budget,
                control=None,
                seed=derive_seed(seed, budget),
            )
            check_results(results, len(indices), 1)
            for i, [generation] in zip(indices, results, strict=True):
                steps[i] = self._step(generation, paths[i], to_end=to_end)
        return steps  # type: ignore[return-value]

    def _step(self, g: Generation, path: Path, *, to_end: bool) -> Step:
        generated = generated_tokens(g, self.tokenizer)
        ids = g.token_ids
        cut = -1 if to_end else g.text.find(self.delimiter)
        if cut >= 0:
            text = g.text[: cut + len(self.delimiter)]
            kept = self._ids_through(ids, self.delimiter) if ids is not None else None
            tokens = len(kept) if kept is not None else len(self._encode(text))
            end: StepEnd = "step"
            if self.max_new_tokens is not None and path.tokens + tokens >= self.max_new_tokens:
                end = "length"  # the path's budget is spent: it ends here
            return Step(text, tokens, generated, end, kept)
        finished = g.finish_reason == "stop"
        if ids is not None:
            tokens = len(ids) - int(finished)
        else:
            tokens = len(self._encode(g.text))
        return Step(g.text, tokens, generated, "stop" if finished else "length", ids)

    def _ids_through(self, ids: Sequence[int], delimiter: str) -> tuple[int, ...]:
        """The shortest prefix of ``ids`` whose text holds ``delimiter`` (binary search)."""
        lo, hi = 1, len(ids)
        while lo < hi:
            mid = (lo + hi) // 2
            if delimiter in self._decode(ids[:mid]):
                hi = mid
            else:
                lo = mid + 1
        return tuple(ids[:lo])

    def generation(self, path: Path, fmt: StudentFormat) -> Generation:
        """A complete path as a :class:`~tinyreason.Generation` (thinking and answer counted)."""
        text = path.text
        thinking, answer = fmt.parse(text)
        ids = path.token_ids
        finished = bool(path.steps) and path.steps[-1].end == "stop"
        if ids is not None:
            thinking_tokens, answer_tokens = self._counts(ids[:-1] if finished else ids)
        else:
            before, found, after = text.partition(fmt.think_end)
            if self._separator_text and after.startswith(self._separator_text):
                after = after[len(self._separator_text) :]
            thinking_tokens = len(self._encode(before))
            answer_tokens = len(self._encode(after)) if found else 0
        return Generation(
            text=text,
            thinking=thinking,
            answer_text=answer,
            thinking_tokens=thinking_tokens,
            answer_tokens=answer_tokens,
            finish_reason="stop" if finished else "length",
            token_ids=ids,
        )

    def _counts(self, body: Sequence[int]) -> tuple[int, int]:
        """Thinking and answer tokens, split where the path wrote ``think_end`` (as the loop)."""
        end = find_ids(body, self._think_end)
        if end < 0:
            return len(body), 0
        start = end + len(self._think_end)
        sep = self._separator
        if sep and tuple(body[start : start + len(sep)]) == sep:
            start += len(sep)
        return end, max(0, len(body) - start)
