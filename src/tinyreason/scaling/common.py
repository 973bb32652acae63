"""What every backend shares, without torch: argument checks, formats, tokenizers, delimiter ids.

:class:`~tinyreason.scaling.TransformersBackend` (which imports torch) and the stop-and-continue
backends (:mod:`tinyreason.scaling.continuation`, which must not) both build on these, so a
backend checks its arguments, resolves its format and loads its tokenizer the same way, and the
logits processor and the continuation rounds force the very same token ids.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, DataError
from ..records import ThinkingControl
from ..students.formats import ThinkFormat

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

    from ..interfaces import StudentFormat

__all__ = [
    "Delimiters",
    "check_generate_args",
    "delimiters",
    "find_ids",
    "generation_budget",
    "load_tokenizer",
    "max_new_tokens_problems",
    "model_context_window",
    "resolve_format",
    "temperature_problems",
]


def check_generate_args(
    prompts: Sequence[str],
    n: int,
    temperature: float,
    max_new_tokens: int | None,
    control: ThinkingControl | None,
    seed: int | None,
    top_p: float,
) -> None:
    """Check ``generate``'s arguments, reporting every problem at once.

    Raises:
        DataError: ``prompts`` is not a sequence of non-empty strings.
        ConfigError: any other argument is invalid.

    Example:
        >>> check_generate_args(["p"], 0, -1.0, 8, None, None, 1.0)
        Traceback (most recent call last):
        ...
        tinyreason.errors.ConfigError: 2 problems:
          - n must be a whole number >= 1, got 0
          - temperature must be a finite number >= 0 (0: greedy), got -1.0
    """
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise DataError(
            "prompts must be a list of strings (one per problem); wrap a single prompt in a list."
        )
    bad = [i for i, p in enumerate(prompts) if not isinstance(p, str) or not p]
    if bad:
        raise DataError(f"prompts {bad[:5]} are not non-empty strings; render them with prompt().")
    problems = []
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        problems.append(f"n must be a whole number >= 1, got {n!r}")
    problems += temperature_problems(temperature)
    problems += max_new_tokens_problems(max_new_tokens)
    if control is not None and not isinstance(control, ThinkingControl):
        problems.append(f"control must be a ThinkingControl or None, got {type(control).__name__}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        problems.append(f"seed must be an int or None, got {seed!r}")
    if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) or not 0 < top_p <= 1:
        problems.append(f"top_p must be in (0, 1], got {top_p!r}")
    if problems:
        raise ConfigError(problems)


def max_new_tokens_problems(max_new_tokens: object) -> list[str]:
    """The problem with a generation budget, if any (the backends' and the scalers' check).

    Example:
        >>> max_new_tokens_problems(None), max_new_tokens_problems(0)
        ([], ['max_new_tokens must be None or a whole number >= 1, got 0'])
    """
    if max_new_tokens is not None and (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 1
    ):
        return [f"max_new_tokens must be None or a whole number >= 1, got {max_new_tokens!r}"]
    return []


def temperature_problems(temperature: object) -> list[str]:
    """The problem with a sampling temperature, if any (a backend's and a scaler's check).

    Example:
        >>> temperature_problems(0.7), temperature_problems(float("nan"))
        ([], ['temperature must be a finite number >= 0 (0: greedy), got nan'])
    """
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        return [f"temperature must be a finite number >= 0 (0: greedy), got {temperature!r}"]
    return []


def generation_budget(
    max_new_tokens: int | None, context_window: int | None, longest_prompt: int
) -> int:
    """The generation budget (s1's ``max_gen_toks``): the one given, else the context window.

    This is the one place budgets are sized: thinking rounds, ``max_thinking="auto"`` and the
    answer are all derived from it. Without one, the budget is the model's whole context window,
    as s1 ran (``max_gen_toks`` 32,768 = Qwen2.5-32B's ``max_model_len``); every request is then
    clipped to what the window leaves after its prompt.

    Args:
        max_new_tokens: The budget asked for; None uses the context window.
        context_window: The model's context length in tokens, when known.
        longest_prompt: The longest prompt of the call, in tokens.

    Raises:
        ConfigError: no budget was given and the context window is unknown, or the longest
            prompt fills the window.

    Example:
        >>> generation_budget(None, 4096, 96), generation_budget(512, 4096, 96)
        (4096, 512)
    """
    if context_window is not None and longest_prompt >= context_window:
        raise ConfigError(
            f"the longest prompt ({longest_prompt} tokens) fills the model's context window "
            f"({context_window}); shorten the prompts or use a model with a longer context."
        )
    if max_new_tokens is not None:
        return max_new_tokens
    if context_window is None:
        raise ConfigError(
            "max_new_tokens is None but the model's context window is unknown; pass "
            "max_new_tokens=... (s1 used 32768 on its benchmarks)."
        )
    return context_window


def model_context_window(config: object, tokenizer: object = None) -> int | None:
    """A model's context length from its config (``max_position_embeddings``) or tokenizer.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> model_context_window(NS(max_position_embeddings=32768))
        32768
        >>> model_context_window(NS(), NS(model_max_length=int(1e30))) is None
        True
    """
    for source, name in ((config, "max_position_embeddings"), (tokenizer, "model_max_length")):
        value = getattr(source, name, None) if source is not None else None
        # Tokenizers without a limit report a huge sentinel (int(1e30)): that is no window.
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10**8:
            return value
    return None


def resolve_format(
    format: str | StudentFormat | None, needed_by: str = "budget forcing", *, model: object = None
) -> ThinkFormat:
    """A registered format name or a format, as the :class:`ThinkFormat` backends use.

    Args:
        format: The format (a ThinkFormat, or a plugin's, used through its Protocol) or its
            registered name; None: the one a tinyreason-trained ``model`` folder records in its
            ``tinyreason.json``, else ``"think-tags"``.
        needed_by: Who needs it, for the error message.
        model: The backend's model (a folder is looked into when ``format`` is None).

    Raises:
        ConfigError: the format lacks a method backends call.

    Example:
        >>> resolve_format("qwen-s1").think_end
        '<|im_start|>answer'
    """
    chosen: object = format
    if chosen is None:
        from ..students.formats import DEFAULT_BACKEND_FORMAT, saved_format

        # A student trained with qwen-s1 but read with think-tags would never stop thinking.
        chosen = saved_format(model) or DEFAULT_BACKEND_FORMAT
    if isinstance(chosen, str):
        from ..registry import build

        chosen = build("student", chosen)
    from ..students.protocol import as_think_format

    # A plugin's format is used through its Protocol alone (the rest is derived, as s1 does).
    return as_think_format(chosen)


_NO_TOKENIZER = (
    "pass tokenizer=... (the served model's folder or hub name, or a loaded tokenizer): "
    "prompts and delimiters are rendered and counted locally."
)
_LOAD_HINT = (
    "Give the model's folder, or a hub name already in the cache (HF_HUB_OFFLINE=1), or a "
    "loaded tokenizer."
)


def load_tokenizer(
    tokenizer: str | Path | PreTrainedTokenizerBase | None,
    source: str | None = None,
    *,
    missing: str = _NO_TOKENIZER,
    hint: str = _LOAD_HINT,
) -> PreTrainedTokenizerBase:
    """A loaded tokenizer, or one loaded from a folder / hub name with ``AutoTokenizer``.

    Args:
        tokenizer: A loaded tokenizer (returned as is), or a folder / hub name to load.
        source: Where to load from when ``tokenizer`` is None (the model's own folder).
        missing: The error message when there is nothing to load from.
        hint: What the load error suggests.

    Raises:
        ConfigError: no tokenizer was given (and no ``source``).
        DataError: it cannot be loaded.
    """
    if tokenizer is not None and not isinstance(tokenizer, (str, Path)):
        return tokenizer
    name = str(tokenizer) if tokenizer is not None else source
    if not name:
        raise ConfigError(missing)
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except OSError as exc:
        raise DataError(f"cannot load a tokenizer from {name!r}: {exc}. {hint}") from exc


def find_ids(seq: Sequence[int], sub: tuple[int, ...]) -> int:
    """Where ``sub`` first starts in ``seq`` (-1: nowhere).

    Example:
        >>> find_ids([5, 1, 2, 1, 2], (1, 2)), find_ids([5], (1, 2))
        (1, -1)
    """
    first, k = sub[0], len(sub)
    for i, token in enumerate(seq):
        if token == first and tuple(seq[i : i + k]) == sub:
            return i
    return -1


@dataclass(frozen=True)
class Delimiters:
    r"""A format's delimiters and a control's appended texts as token ids, for one tokenizer.

    Attributes:
        think_start: Ids of ``think_start``.
        think_end: Ids of ``think_end``; its first id *tries to end* thinking.
        end_of_turn: The end-of-turn id.
        stop: Every id that ends generation (end of turn first, then other EOS ids).
        separator: Ids of the answer separator (to split free generations).
        wait: Ids of the wait text (empty when the control never waits).
        natural_end: Ids appended when the last round stopped: ``think_end`` (s1).
        forced_end: Ids appended when it ran out of budget: ``think_end + "\n" + lead-in``.
        newline: Ids of ``"\n"``, put before ``forced_end`` unless the thinking ends with one.
        auto_end: Ids of ``think_end + "\nFinal Answer:"``, which s1's ``"auto"`` budget leaves.
    """

    think_start: tuple[int, ...]
    think_end: tuple[int, ...]
    end_of_turn: int
    stop: tuple[int, ...]
    separator: tuple[int, ...] = ()
    wait: tuple[int, ...] = ()
    natural_end: tuple[int, ...] = ()
    forced_end: tuple[int, ...] = ()
    newline: tuple[int, ...] = ()
    auto_end: tuple[int, ...] = ()

    @property
    def try_end(self) -> tuple[int, ...]:
        """Ids that end a thinking round: ``think_end``'s first id and every stop id."""
        return tuple(dict.fromkeys((self.think_end[0], *self.stop)))

    @property
    def strip(self) -> tuple[int, ...]:
        """Ids removed from the end of a round: ``think_end``'s first id and the end of turn.

        s1 strips the ids of its ``until_thinking`` strings (``<|im_start|>`` and the end of
        turn); another EOS id the model stops on stays, as in s1.
        """
        return (self.think_end[0], self.end_of_turn)

    @property
    def banned_in_answer(self) -> tuple[int, ...]:
        """Ids an answer may not pick with ``ban_delimiters_in_answer``: both delimiters' first."""
        return tuple(dict.fromkeys((self.think_start[0], self.think_end[0])))


#: The lead-in s1's ``max_tokens_thinking="auto"`` always leaves room for.
_AUTO_LEAD_IN = "Final Answer:"


def delimiters(
    control: ThinkingControl | None,
    format: ThinkFormat,
    tokenizer: PreTrainedTokenizerBase,
    extra_stop: Iterable[int] = (),
) -> Delimiters:
    """Tokenise a format's delimiters and a control's texts.

    Args:
        control: The thinking control, or None to get only the delimiters.
        format: The student format.
        tokenizer: The model's tokenizer.
        extra_stop: Other ids that end generation (the model's ``generation_config.eos_token_id``).

    Raises:
        ConfigError: the delimiters do not fit the tokenizer (see :meth:`ThinkFormat.tokens`), or
            the wait text encodes to nothing.

    Example:
        >>> d = delimiters(ThinkingControl(waits=1), fmt, tokenizer)  # doctest: +SKIP
        >>> tokenizer.decode(d.wait)  # doctest: +SKIP
        'Wait'
    """
    tokens = format.tokens(tokenizer)

    def encode(text: str | None) -> tuple[int, ...]:
        return tuple(tokenizer.encode(text, add_special_tokens=False)) if text else ()

    eot = tokens.end_of_turn[0]
    base = Delimiters(
        think_start=tokens.think_start,
        think_end=tokens.think_end,
        end_of_turn=eot,
        stop=tuple(dict.fromkeys([eot, *extra_stop])),
        separator=encode(format.answer_separator),
    )
    if control is None:
        return base
    wait = encode(control.wait_text) if control.extends else ()
    if control.extends and not wait:
        raise ConfigError(f"wait_text {control.wait_text!r} encodes to no tokens; use e.g. 'Wait'.")
    return dataclasses.replace(
        base,
        wait=wait,
        natural_end=encode(format.natural_end()),
        forced_end=encode(format.forced_end(control.final_answer_text)),
        newline=encode("\n"),
        auto_end=encode(format.forced_end(_AUTO_LEAD_IN)),
    )
