r"""Process reward models over ``transformers``: the Qwen2.5-Math-PRM family and Math-Shepherd.

A process reward model (PRM) scores every step of a partial solution (the
:class:`~tinyreason.interfaces.RewardModel` protocol); the search scalers
(:mod:`tinyreason.scaling.search`, :mod:`tinyreason.scaling.search_tree`) rank and weight
candidates by those scores. Both built-ins write ``(question, steps)`` as the text their model was
trained on, with a marker after every step, run the model over a batch of such texts, and read one
probability at each marker:

* :class:`QwenPRM` (``tr.reward_model("qwen-prm")``), Qwen2.5-Math-PRM-7B/72B: the steps are the
  assistant turn of the model's chat template, each followed by ``<extra_0>``; the model is a
  two-class token classifier, and a step's score is the softmax probability of the positive class
  (index 1) at its ``<extra_0>``, as Qwen's model card computes it.
* :class:`MathShepherdPRM` (``tr.reward_model("math-shepherd")``): a causal LM reads
  ``"{question} {step 1} ки\n{step 2} ки"``; a step's score is the softmax over the ``+`` and ``-``
  tokens' logits at its ``ки`` tag, the ``+`` share (Math-Shepherd's model card).

Markers are found by character offset (a fast tokenizer maps each marker's last character to its
token), so a step whose own text holds the marker (``ки`` inside a Russian word, a literal
``<extra_0>``) never shifts which logits are read. Texts run longest first in batches of
``batch_size``, right-padded: a causal model's logits at a real token never see the padding.

Example:
    >>> import tinyreason as tr
    >>> prm = tr.reward_model("qwen-prm", trust_remote_code=True)  # doctest: +SKIP
    >>> prm.score("What is 6*7?", ["6*7 = 6*5 + 6*2 = 30 + 12.", "So 42."])  # doctest: +SKIP
    [0.97, 0.99]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from .common import load_tokenizer

if TYPE_CHECKING:
    import torch

__all__ = ["QWEN_SYSTEM_PROMPT", "MathShepherdPRM", "QwenPRM", "RewardUsage"]

#: The system prompt of Qwen's PRM model card (and search-and-learn's use of it).
QWEN_SYSTEM_PROMPT = "Please reason step by step, and put your final answer within \\boxed{}."

# Stands for the assistant's text while the chat template is rendered, so the steps (and their
# markers' offsets) are placed into the template's own text verbatim.
_SLOT = "\x00tinyreason-steps\x00"


@dataclass
class RewardUsage:
    """What a reward model has run so far (compute a search spends besides generated tokens).

    Attributes:
        forward_passes: Model calls (one per batch of texts).
        sequences: Texts scored (one per ``(question, steps)`` item).
        tokens: Tokens the model read, padding excluded.

    Example:
        >>> RewardUsage(forward_passes=1, sequences=4, tokens=900).sequences
        4
    """

    forward_passes: int = 0
    sequences: int = 0
    tokens: int = 0


class _TransformersPRM:
    """A PRM over a ``transformers`` model: render, tokenise, batch, read scores at markers.

    Subclasses say how a solution is written (:meth:`render_marked`) and how a marker's logits
    become a score (:meth:`_scores`).
    """

    name = "prm"
    model: Any
    tokenizer: Any

    def __init__(self, batch_size: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self.usage = RewardUsage()

    def _ready(self, device: str | None) -> None:
        import torch

        if not getattr(self.tokenizer, "is_fast", False):
            raise ConfigError(
                f"{type(self).__name__} needs a fast tokenizer (it finds each step's marker by "
                "character offset); load the model's tokenizer with AutoTokenizer (use_fast=True)."
            )
        if device is None and self.model.device.type == "cpu" and torch.cuda.is_available():
            device = "cuda"
        if device is not None:
            self.model.to(device)
        self.model.eval()
        self.context_window = getattr(self.model.config, "max_position_embeddings", None)

    # -- the contract ------------------------------------------------------------------------

    def score(self, question: str, steps: Sequence[str]) -> list[float]:
        """One score per step, in order (see the class docs for how it is read).

        Example:
            >>> prm.score("What is 6*7?", ["6*7 = 42", "So 42."])  # doctest: +SKIP
            [0.91, 0.95]
        """
        return self.score_batch([(question, steps)])[0]

    def score_batch(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """:meth:`score` for every ``(question, steps)`` item, in batches of ``batch_size``.

        Raises:
            DataError: an item is not a question and a list of step strings, or a text is
                longer than the model's context window.
        """
        encoded = [self._encode(*_check_item(i, item)) for i, item in enumerate(items)]
        results: list[list[float]] = [[] for _ in encoded]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            for i, scores in zip(batch, self._forward([encoded[i] for i in batch]), strict=True):
                results[i] = scores
        return results

    def render(self, question: str, steps: Sequence[str]) -> str:
        """The text the model reads for a solution (markers included).

        Example:
            >>> MathShepherdPRM.render(prm, "1+1?", ["1+1 = 2", "So 2."])  # doctest: +SKIP
            '1+1? 1+1 = 2 ки\\nSo 2. ки'
        """
        return self.render_marked(question, steps)[0]

    def render_marked(self, question: str, steps: Sequence[str]) -> tuple[str, list[int]]:
        """The text and, per step, the offset just past its marker."""
        raise NotImplementedError

    def describe(self) -> dict[str, object]:
        """What a run's manifest records about this reward model."""
        return {
            "reward_model": self.name,
            "model": getattr(self.model, "name_or_path", "") or type(self.model).__name__,
            "batch_size": self.batch_size,
        }

    # -- the machinery -----------------------------------------------------------------------

    def _encode(self, question: str, steps: Sequence[str]) -> tuple[list[int], list[int]]:
        """Token ids, and the position of each step's marker among them."""
        text, ends = self.render_marked(question, steps)
        encoding = self.tokenizer(text)
        ids = list(encoding["input_ids"])
        positions = []
        for end in ends:
            position = encoding.char_to_token(end - 1)
            if position is None:  # the tokenizer's normaliser dropped the marker
                raise DataError(
                    f"{type(self).__name__}: the tokenizer lost a step marker of {text[:60]!r}; "
                    "use the PRM's own tokenizer."
                )
            positions.append(position)
        if self.context_window is not None and len(ids) > self.context_window:
            raise DataError(
                f"a solution to score is {len(ids)} tokens, longer than the reward model's "
                f"context window ({self.context_window}); cap the search's max_new_tokens."
            )
        return ids, positions

    def _forward(self, batch: list[tuple[list[int], list[int]]]) -> list[list[float]]:
        import torch

        width = max(len(ids) for ids, _ in batch)
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else 0
        input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, _) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[row, : len(ids)] = 1
        device = self.model.device
        with torch.inference_mode():
            out = self.model(input_ids=input_ids.to(device), attention_mask=mask.to(device))
        logits = getattr(out, "logits", None)
        logits = logits if logits is not None else out[0]
        self.usage.forward_passes += 1
        self.usage.sequences += len(batch)
        self.usage.tokens += sum(len(ids) for ids, _ in batch)
        results = []
        for row, (_, positions) in enumerate(batch):
            at = logits[row, positions].float()
            results.append([float(s) for s in self._scores(at).tolist()])
        return results

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        """Scores from the logits at the markers (one row per step)."""
        raise NotImplementedError


class QwenPRM(_TransformersPRM):
    """The Qwen2.5-Math-PRM family: ``<extra_0>`` after each step, positive-class probability.

    The solution is rendered with the PRM's chat template as Qwen's model card does: a system
    message, the question as the user's turn, and the steps joined and ended by ``<extra_0>`` as
    the assistant's turn. At every ``<extra_0>`` the model gives two logits; a step's score is the
    softmax probability of the second (positive) class, in [0, 1].

    Args:
        model: A folder or hub name, or a loaded model whose output has ``logits`` of shape
            ``(batch, tokens, 2)``. Qwen's PRMs ship their own model class (``AutoModel`` in
            their ``auto_map``): loading one needs ``trust_remote_code=True``. A folder without an
            ``auto_map`` loads with ``AutoModelForTokenClassification``.
        tokenizer: Its tokenizer (a fast one), or a folder / name; None loads the model's.
        separator: The step marker; it must be one token of the tokenizer.
        system_prompt: The system message (None: none).
        device: Where to run; None puts a model loaded here on CUDA when there is one.
        dtype: ``torch.dtype`` or its name (``"bfloat16"``); None keeps the default.
        batch_size: Texts per forward pass.
        trust_remote_code: Allow the model repository's own code to run (Qwen's PRMs need it).

    Raises:
        ConfigError: the separator is not one token, remote code is needed but not allowed, or the
            tokenizer is not a fast one.
        DataError: the model or tokenizer cannot be loaded.

    Example:
        >>> import tinyreason as tr
        >>> prm = tr.reward_model(  # doctest: +SKIP
        ...     "qwen-prm", model="Qwen/Qwen2.5-Math-PRM-7B", trust_remote_code=True
        ... )
        >>> prm.render("1+1?", ["1+1 = 2", "So 2."]).split("assistant\\n")[1]  # doctest: +SKIP
        '1+1 = 2<extra_0>So 2.<extra_0><|im_end|>\\n'
    """

    name = "qwen-prm"

    def __init__(
        self,
        model: str | Path | Any = "Qwen/Qwen2.5-Math-PRM-7B",
        tokenizer: str | Path | Any = None,
        separator: str = "<extra_0>",
        system_prompt: str | None = QWEN_SYSTEM_PROMPT,
        device: str | None = None,
        dtype: str | Any = None,
        batch_size: int = 8,
        trust_remote_code: bool = False,
    ):
        super().__init__(batch_size)
        self.model = _load_model(model, "token-classifier", dtype, trust_remote_code)
        self.tokenizer = _tokenizer(tokenizer, self.model)
        ids = self.tokenizer.encode(separator, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(
                f"the step separator {separator!r} is {len(ids)} tokens in this tokenizer; a "
                "Qwen PRM reads one token per step. Use the PRM's own tokenizer, or add the "
                "separator to it as a special token."
            )
        self.separator, self.separator_id = separator, ids[0]
        self.system_prompt = system_prompt
        self._ready(device)

    def render_marked(self, question: str, steps: Sequence[str]) -> tuple[str, list[int]]:
        """The chat-template text and the offset just past each ``<extra_0>``."""
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": _SLOT}]
        if self.system_prompt is not None:
            messages.insert(0, {"role": "system", "content": self.system_prompt})
        template = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=False
        )
        head, found, tail = template.partition(_SLOT)
        if not found:
            raise ConfigError(
                "the PRM's chat template does not put the assistant's text in verbatim; pass a "
                "tokenizer whose template does (Qwen's does)."
            )
        text, ends = head, []
        for step in steps:
            text += step + self.separator
            ends.append(len(text))
        return text + tail, ends

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        if logits.shape[-1] != 2:
            raise ConfigError(
                f"QwenPRM reads a two-class token classifier, but the model gives "
                f"{logits.shape[-1]} values per token; load a Qwen2.5-Math-PRM model."
            )
        return logits.softmax(dim=-1)[:, 1]


class MathShepherdPRM(_TransformersPRM):
    """A Math-Shepherd style PRM: a causal LM that predicts ``+`` or ``-`` at each step tag.

    The solution is written as Math-Shepherd's model card does: the question, a space, then the
    steps joined by newlines, each followed by a space and the tag ``ки``. At each tag the model's
    next-token logits for ``+`` and ``-`` are softmaxed; a step's score is the ``+`` probability.

    Args:
        model: A folder or hub name of a causal LM, or a loaded one.
        tokenizer: Its tokenizer (a fast one), or a folder / name; None loads the model's.
        step_tag: The tag after each step.
        good_token: The token that says a step is right; ``bad_token`` that it is wrong. Each
            must be one token of the tokenizer (or give ``label_token_ids``).
        label_token_ids: ``(good_id, bad_id)``, overriding the two tokens' ids.
        device: Where to run; None puts a model loaded here on CUDA when there is one.
        dtype: ``torch.dtype`` or its name; None keeps the default.
        batch_size: Texts per forward pass.

    Raises:
        ConfigError: a label token is not one token, or the tokenizer is not a fast one.
        DataError: the model or tokenizer cannot be loaded.

    Example:
        >>> import tinyreason as tr
        >>> prm = tr.reward_model("math-shepherd")  # doctest: +SKIP
        >>> prm.render("1+1?", ["1+1 = 2", "So 2."])  # doctest: +SKIP
        '1+1? 1+1 = 2 ки\\nSo 2. ки'
    """

    name = "math-shepherd"

    def __init__(
        self,
        model: str | Path | Any = "peiyi9979/math-shepherd-mistral-7b-prm",
        tokenizer: str | Path | Any = None,
        step_tag: str = "ки",
        good_token: str = "+",
        bad_token: str = "-",
        label_token_ids: tuple[int, int] | None = None,
        device: str | None = None,
        dtype: str | Any = None,
        batch_size: int = 8,
    ):
        super().__init__(batch_size)
        if not isinstance(step_tag, str) or not step_tag.strip():
            raise ConfigError(f"step_tag must be a non-empty string, got {step_tag!r}")
        self.model = _load_model(model, "causal-lm", dtype, trust_remote_code=False)
        self.tokenizer = _tokenizer(tokenizer, self.model)
        self.step_tag = step_tag
        if label_token_ids is None:
            label_token_ids = (self._one_token(good_token), self._one_token(bad_token))
        self.label_token_ids = tuple(label_token_ids)
        self._ready(device)

    def _one_token(self, text: str) -> int:
        ids = self.tokenizer.encode(text, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(
                f"the label token {text!r} is {len(ids)} tokens in this tokenizer; pass "
                "label_token_ids=(good_id, bad_id)."
            )
        return int(ids[0])

    def render_marked(self, question: str, steps: Sequence[str]) -> tuple[str, list[int]]:
        """``"{question} {step} ки\\n{step} ки"`` and the offset just past each tag."""
        text, ends = f"{question} ", []
        for i, step in enumerate(steps):
            text += ("\n" if i else "") + f"{step} {self.step_tag}"
            ends.append(len(text))
        return text, ends

    def _scores(self, logits: torch.Tensor) -> torch.Tensor:
        return logits[:, list(self.label_token_ids)].softmax(dim=-1)[:, 0]


# -- loading --------------------------------------------------------------------------------------


def _check_item(index: int, item: object) -> tuple[str, list[str]]:
    if (
        isinstance(item, (tuple, list))
        and len(item) == 2
        and isinstance(item[0], str)
        and isinstance(item[1], (list, tuple))
        and all(isinstance(s, str) for s in item[1])
    ):
        return item[0], list(item[1])
    raise DataError(
        f"reward model item {index} must be (question, [step, ...]) with strings, got "
        f"{type(item).__name__} {str(item)[:60]!r}"
    )


def _tokenizer(tokenizer: object, model: Any) -> Any:
    return load_tokenizer(
        tokenizer,  # type: ignore[arg-type]
        getattr(model, "name_or_path", None) or None,
        missing="the reward model has no name_or_path to load its tokenizer from; pass tokenizer=",
        hint="Pass tokenizer=... explicitly.",
    )


def _load_model(model: object, kind: str, dtype: object, trust_remote_code: bool) -> Any:
    """A loaded model as is, else one loaded from a folder / hub name for ``kind``."""
    if not isinstance(model, (str, Path)):
        if not callable(model) or not hasattr(model, "config"):
            raise ConfigError(
                f"model must be a folder, a hub name or a loaded transformers model, got "
                f"{type(model).__name__}"
            )
        return model
    import transformers

    source = str(model)
    kwargs: dict[str, Any] = {} if dtype is None else {"dtype": _dtype(dtype)}
    loader: Any
    if kind == "causal-lm":
        loader, remote = transformers.AutoModelForCausalLM, False
    else:
        config = _loading(source, transformers.AutoConfig, trust_remote_code=trust_remote_code)
        remote = "AutoModel" in (getattr(config, "auto_map", None) or {})
        if remote and not trust_remote_code:
            raise ConfigError(
                f"{source!r} ships its own model class (its auto_map names one), as Qwen's PRMs "
                "do; pass trust_remote_code=True to run the repository's code."
            )
        loader = transformers.AutoModel if remote else transformers.AutoModelForTokenClassification
    if remote:
        kwargs["trust_remote_code"] = True
    return _loading(source, loader, **kwargs)


def _loading(source: str, loader: Any, **kwargs: Any) -> Any:
    try:
        return loader.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise DataError(
            f"cannot load the reward model {source!r}: {exc}. Give a local folder, or a hub name "
            "already in the cache (HF_HUB_OFFLINE=1)."
        ) from exc
    except ValueError as exc:
        if "trust_remote_code" not in str(exc):
            raise
        raise ConfigError(
            f"{source!r} needs its repository's code: pass trust_remote_code=True."
        ) from exc


def _dtype(dtype: object) -> object:
    import torch

    if isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ConfigError(f"dtype {dtype!r} is not a torch dtype; use e.g. 'bfloat16' or 'auto'.")
    return value
