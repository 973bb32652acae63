"""Default models, API-key variables and prices of the teachers, and the cost estimate of a run.

The defaults live in one data file, ``tinyreason/data/models.json`` (shipped with the package).
Prices are USD per 1M tokens for input, output (the visible answer) and thinking tokens; they go
stale, so the file says when they were checked, and users override them:

1. the file named by the ``TINYREASON_MODELS`` environment variable, then
2. a teacher's ``prices=`` argument (a mapping or a JSON file path),

each replacing the entries it names, field by field. A model with no price gets a warning and a
cost of None ("unknown", never a made-up zero), except on a provider marked ``free`` (local).
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..records import THINKING_KINDS, Usage

__all__ = [
    "MODELS_ENV",
    "Estimate",
    "ModelTable",
    "Price",
    "ProviderDefaults",
    "UnknownPriceWarning",
    "estimate_tokens",
    "load_models",
]

#: Environment variable naming a JSON file that overrides the packaged models.json.
MODELS_ENV = "TINYREASON_MODELS"

# A rough, provider-independent token count: ~4 characters per token for English and LaTeX.
CHARS_PER_TOKEN = 4
# Chat-template tokens a provider adds around the messages.
PROMPT_OVERHEAD_TOKENS = 8

# Version suffixes that name the same model at the same price (dates, "-latest", "-001", Vertex's
# "@20250514"). "-preview-..." is *not* stripped: previews have had different prices.
_SAME_MODEL_SUFFIX = re.compile(r"(@.*|-\d{8}|-latest|-\d{3})$")


class UnknownPriceWarning(UserWarning):
    """A model has no price in the data file: its cost is reported as unknown (None)."""


@dataclass(frozen=True)
class Price:
    """A model's price in USD per 1M tokens.

    Example:
        >>> Price(input=0.3, output=2.5, thinking=2.5).cost(Usage(1_000_000, 0, 400_000))
        1.3
    """

    input: float
    output: float
    thinking: float

    def cost(self, usage: Usage) -> float:
        """What ``usage`` costs, in USD."""
        total = (
            usage.input_tokens * self.input
            + usage.output_tokens * self.output
            + usage.thinking_tokens * self.thinking
        )
        return round(total / 1e6, 10)  # rounding: 0.3 * 1e6 / 1e6 should print as 0.3

    @property
    def generated(self) -> float:
        """The price of a generated token when the thinking/answer split is unknown (the higher)."""
        return max(self.output, self.thinking)


@dataclass(frozen=True)
class ProviderDefaults:
    """What the data file says about one provider.

    Args:
        name: The provider's name (``"gemini"``...).
        default_model: The model used when a teacher is given none, or None.
        api_key_env: Environment variables holding its API key, in the order they are tried.
        thinking_kind: ``"raw"`` or ``"summary"`` (a model may say otherwise).
        free: True for providers that bill nothing (a local model): cost 0 without a price entry.
    """

    name: str
    default_model: str | None = None
    api_key_env: tuple[str, ...] = ()
    thinking_kind: str = "unknown"
    free: bool = False


class ModelTable:
    """The data file (plus overrides): default models, key variables, prices, thinking kinds.

    Example:
        >>> table = load_models({"my-model": {"input": 1.0, "output": 2.0}})
        >>> table.price("openai-compatible", "my-model")
        Price(input=1.0, output=2.0, thinking=2.0)
        >>> table.provider("gemini").api_key_env
        ('GEMINI_API_KEY', 'GOOGLE_API_KEY')
        >>> table.price("deepseek", "deepseek-reasoner") is not None
        True
    """

    def __init__(self, data: Mapping[str, Any]):
        self.data = data
        self.prices_checked: str | None = data.get("prices_checked")

    def provider(self, name: str) -> ProviderDefaults:
        """The defaults of provider ``name`` (empty defaults for a provider the file lacks)."""
        entry = self.data.get("providers", {}).get(name) or {}
        return ProviderDefaults(
            name=name,
            default_model=entry.get("default_model"),
            api_key_env=tuple(entry.get("api_key_env") or ()),
            thinking_kind=entry.get("thinking_kind") or "unknown",
            free=bool(entry.get("free", False)),
        )

    def _model_entry(self, provider: str, model: str) -> Mapping[str, Any] | None:
        models = self.data.get("models", {})
        name = model.removeprefix("models/")  # Gemini's SDK reports "models/gemini-2.5-flash"
        while True:
            entry = models.get(name)
            # An entry that names another provider is that provider's price, not this one's (the
            # same open model costs differently on different hosts).
            if entry is not None and entry.get("provider") in (None, provider):
                return entry
            shorter = _SAME_MODEL_SUFFIX.sub("", name)
            if shorter == name:
                return None
            name = shorter

    def price(self, provider: str, model: str) -> Price | None:
        """The price of ``model`` on ``provider``: 0 on a free provider, None when unknown."""
        entry = self._model_entry(provider, model)
        if entry is not None and entry.get("input") is not None:
            return Price(float(entry["input"]), float(entry["output"]), float(entry["thinking"]))
        if self.provider(provider).free:
            return Price(0.0, 0.0, 0.0)
        return None

    def thinking_kind(self, provider: str, model: str) -> str:
        """What kind of thinking ``model`` returns: the model's entry, else the provider's."""
        entry = self._model_entry(provider, model) or {}
        return entry.get("thinking_kind") or self.provider(provider).thinking_kind

    def cost(self, provider: str, model: str, usage: Usage) -> float | None:
        """What ``usage`` costs on ``model``, or None when its price is unknown."""
        price = self.price(provider, model)
        return None if price is None else price.cost(usage)

    def warn_if_unpriced(self, provider: str, model: str, *, stacklevel: int = 2) -> None:
        """Warn (:class:`UnknownPriceWarning`) when ``model`` has no price."""
        if self.price(provider, model) is None:
            warnings.warn(
                f"no price for {provider} model {model!r}: its cost will be reported as unknown "
                f"(None), and max_cost_usd cannot be used. Give one with prices={{{model!r}: "
                "{'input': USD_per_1M, 'output': ..., 'thinking': ...}} or a JSON file in "
                f"${MODELS_ENV}.",
                UnknownPriceWarning,
                stacklevel=stacklevel + 1,
            )


def load_models(prices: Mapping[str, Any] | str | Path | None = None) -> ModelTable:
    """The packaged data file, overridden by ``$TINYREASON_MODELS`` and then by ``prices``.

    Args:
        prices: Either a mapping in the data file's format (``{"providers": ..., "models": ...}``),
            a plain ``{model: {"input": ..., "output": ..., "thinking": ...}}`` mapping (USD per
            1M tokens; ``thinking`` defaults to ``output``), or the path of a JSON file holding
            either.

    Raises:
        ConfigError: a file is missing or not JSON, or a price is negative or malformed.

    Example:
        >>> load_models({"gemini-2.5-flash": {"input": 0.5}}).price("gemini", "gemini-2.5-flash")
        Price(input=0.5, output=2.5, thinking=2.5)
    """
    from importlib.resources import files

    data = json.loads(files("tinyreason").joinpath("data/models.json").read_text("utf-8"))
    env_file = os.environ.get(MODELS_ENV)
    if env_file:
        data = _merge(data, _normalise(_read_json(Path(env_file), f"${MODELS_ENV}")))
    if prices is not None:
        if isinstance(prices, (str, Path)):
            prices = _read_json(Path(prices), "prices=")
        data = _merge(data, _normalise(prices))
    _validate(data)
    return ModelTable(data)


def _read_json(path: Path, what: str) -> Mapping[str, Any]:
    try:
        loaded = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{what} names {str(path)!r}, which does not exist.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} file {str(path)!r} is not valid JSON: {exc}") from None
    if not isinstance(loaded, Mapping):
        raise ConfigError(f"{what} file {str(path)!r} must hold a JSON object.")
    return loaded


def _normalise(override: Mapping[str, Any]) -> Mapping[str, Any]:
    """A plain ``{model: price}`` mapping becomes ``{"models": {...}}``."""
    if not isinstance(override, Mapping):
        raise ConfigError(f"prices must be a mapping or a JSON file path, got {override!r}")
    if {"models", "providers"} & set(override):
        return override
    models = {}
    for model, price in override.items():
        if isinstance(price, Price):
            price = {"input": price.input, "output": price.output, "thinking": price.thinking}
        models[model] = price
    return {"models": models}


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for section in ("providers", "models"):
        table = {name: dict(entry) for name, entry in base.get(section, {}).items()}
        for name, entry in (override.get(section) or {}).items():
            if not isinstance(entry, Mapping):
                raise ConfigError(
                    f"{section}[{name!r}] must be a mapping such as "
                    "{'input': 0.3, 'output': 2.5, 'thinking': 2.5} (USD per 1M tokens), "
                    f"got {entry!r}"
                )
            entry = dict(entry)
            if section == "models" and "output" in entry and "thinking" not in entry:
                entry["thinking"] = entry["output"]  # a new output price carries thinking with it
            table[name] = table.get(name, {}) | entry
        merged[section] = table
    for key, value in override.items():
        if key not in ("providers", "models"):
            merged[key] = value
    return merged


def _validate(data: Mapping[str, Any]) -> None:
    problems = []
    for model, entry in data.get("models", {}).items():
        if entry.get("input") is None and entry.get("output") is None:
            continue  # a model listed for its thinking kind only
        entry.setdefault("input", 0.0)
        entry.setdefault("output", entry["input"])
        entry.setdefault("thinking", entry["output"])
        for part in ("input", "output", "thinking"):
            value = entry[part]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                problems.append(
                    f"price of {model!r} {part} must be a number >= 0 (USD per 1M tokens), "
                    f"got {value!r}"
                )
        kind = entry.get("thinking_kind")
        if kind is not None and kind not in THINKING_KINDS:
            problems.append(f"thinking_kind of {model!r} must be one of {THINKING_KINDS}")
    if problems:
        raise ConfigError(problems)


# -- estimates ---------------------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """A rough token count of a prompt: characters / 4, plus the chat template's overhead.

    Example:
        >>> estimate_tokens("What is 6 * 7?")
        12
    """
    return math.ceil(len(text) / CHARS_PER_TOKEN) + PROMPT_OVERHEAD_TOKENS


@dataclass(frozen=True)
class Estimate:
    """What a run will cost before it starts: tokens and dollars, low / expected / high.

    ``low`` is the prompts alone (no run can cost less), ``expected`` assumes each answer is as
    long as the replies already in the cache for this model (or ``expected_output_tokens`` per
    call without any), and ``high`` assumes every call uses its whole output budget. Cached
    questions cost nothing. Dollars are None when the model's price is unknown.

    Example:
        >>> e = Estimate("gemini", "gemini-2.5-flash", problems=10, unique=10, cached=4,
        ...              to_call=6, input_tokens=600, output_tokens_expected=24_000,
        ...              output_tokens_high=196_608, usd_low=0.00018, usd_expected=0.06018,
        ...              usd_high=0.49170, assumptions="4,000 output tokens per call")
        >>> e.tokens_expected
        24600
        >>> print(e)  # doctest: +NORMALIZE_WHITESPACE
        Estimate for gemini/gemini-2.5-flash: 10 problems, 10 unique, 4 cached, 6 to call
                 low        expected   high
          tokens 600        24,600     197,208
          USD    $0.0002    $0.0602    $0.4917
          (4,000 output tokens per call)
    """

    provider: str
    model: str
    problems: int
    unique: int
    cached: int
    to_call: int
    input_tokens: int
    output_tokens_expected: int
    output_tokens_high: int
    usd_low: float | None
    usd_expected: float | None
    usd_high: float | None
    assumptions: str = ""

    @property
    def tokens_low(self) -> int:
        """Input tokens only."""
        return self.input_tokens

    @property
    def tokens_expected(self) -> int:
        """Input plus the expected output and thinking tokens."""
        return self.input_tokens + self.output_tokens_expected

    @property
    def tokens_high(self) -> int:
        """Input plus every call's full output budget."""
        return self.input_tokens + self.output_tokens_high

    def __str__(self) -> str:
        def usd(value: float | None) -> str:
            return "unknown" if value is None else f"${value:,.4f}"

        lines = [
            f"Estimate for {self.provider}/{self.model}: {self.problems:,} problems, "
            f"{self.unique:,} unique, {self.cached:,} cached, {self.to_call:,} to call",
            f"         {'low':<10} {'expected':<10} high",
            f"  tokens {self.tokens_low:<10,} {self.tokens_expected:<10,} {self.tokens_high:,}",
            f"  USD    {usd(self.usd_low):<10} {usd(self.usd_expected):<10} {usd(self.usd_high)}",
        ]
        if self.assumptions:
            lines.append(f"  ({self.assumptions})")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from html import escape

        return "<pre>" + escape(str(self)) + "</pre>"


def make_estimate(
    provider: str,
    model: str,
    *,
    prompts: Iterable[str],
    problems: int,
    unique: int,
    cached: int,
    price: Price | None,
    expected_output_tokens: int,
    high_output_tokens: int,
    assumptions: str,
) -> Estimate:
    """An :class:`Estimate` for the prompts still to call (``ProviderTeacher.estimate``)."""
    prompts = list(prompts)
    input_tokens = sum(estimate_tokens(p) for p in prompts)
    out_expected = expected_output_tokens * len(prompts)
    out_high = high_output_tokens * len(prompts)

    def usd(output_tokens: int) -> float | None:
        if price is None:
            return None
        return round((input_tokens * price.input + output_tokens * price.generated) / 1e6, 10)

    return Estimate(
        provider=provider,
        model=model,
        problems=problems,
        unique=unique,
        cached=cached,
        to_call=len(prompts),
        input_tokens=input_tokens,
        output_tokens_expected=out_expected,
        output_tokens_high=out_high,
        usd_low=usd(0),
        usd_expected=usd(out_expected),
        usd_high=usd(out_high),
        assumptions=assumptions,
    )
