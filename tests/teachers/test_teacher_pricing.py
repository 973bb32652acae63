"""Prices and defaults: the data file, overrides, unknown models, cost and estimates."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.records import Usage
from tinyreason.teachers.cache import CACHE_ENV
from tinyreason.teachers.pricing import (
    MODELS_ENV,
    Price,
    UnknownPriceWarning,
    load_models,
)
from tinyreason.testing import FakeProviderTeacher


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default-cache.sqlite"))
    monkeypatch.delenv(MODELS_ENV, raising=False)


def test_packaged_file_has_defaults_prices_and_a_date() -> None:
    table = load_models()
    assert table.prices_checked and table.data["prices_verified"] is False
    gemini = table.provider("gemini")
    assert gemini.default_model == "gemini-2.5-flash"
    assert gemini.api_key_env == ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    assert table.provider("deepseek").api_key_env == ("DEEPSEEK_API_KEY",)
    assert table.provider("anthropic").api_key_env == ("ANTHROPIC_API_KEY",)
    for provider, model in [
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-pro"),
        ("deepseek", "deepseek-reasoner"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-sonnet-4-6"),
        ("anthropic", "claude-opus-4-1"),
    ]:
        price = table.price(provider, model)
        assert price is not None and price.input > 0 and price.thinking >= price.input
    # Thinking kind: raw for DeepSeek, summaries for Gemini and Claude 4, raw for Claude 3.7.
    assert table.thinking_kind("deepseek", "deepseek-reasoner") == "raw"
    assert table.thinking_kind("gemini", "gemini-2.5-pro") == "summary"
    assert table.thinking_kind("anthropic", "claude-sonnet-4-5") == "summary"
    assert table.thinking_kind("anthropic", "claude-3-7-sonnet-20250219") == "raw"


def test_model_name_matching() -> None:
    table = load_models()
    sonnet = table.price("anthropic", "claude-sonnet-4-5")
    assert table.price("anthropic", "claude-sonnet-4-5-20250929") == sonnet  # dated snapshot
    assert table.price("anthropic", "claude-sonnet-4-5@20250929") == sonnet  # Vertex spelling
    assert table.price("gemini", "models/gemini-2.5-flash") is not None
    assert table.price("gemini", "gemini-2.5-flash-preview-04-17") is None  # previews differ
    # A model listed under one provider is not priced on another host.
    assert table.price("openai-compatible", "deepseek-reasoner") is None
    assert table.price("local", "any-model") == Price(0.0, 0.0, 0.0)  # local: free


def test_cost_prices_thinking_apart() -> None:
    price = Price(input=1.0, output=2.0, thinking=3.0)
    assert price.cost(Usage(1_000_000, 1_000_000, 1_000_000)) == 6.0
    assert price.cost(Usage(500_000, 0, 0)) == 0.5


def test_overrides_mapping_file_and_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A plain mapping; thinking defaults to output; one field replaces one field.
    table = load_models({"my-model": {"input": 1.0, "output": 4.0}})
    assert table.price("openai-compatible", "my-model") == Price(1.0, 4.0, 4.0)
    assert load_models({"gemini-2.5-flash": {"input": 9.0}}).price(
        "gemini", "gemini-2.5-flash"
    ) == Price(9.0, 2.5, 2.5)
    # The data file's format, with a provider default.
    table = load_models({"providers": {"openai-compatible": {"default_model": "my-model"}}})
    assert table.provider("openai-compatible").default_model == "my-model"
    # A JSON file path.
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"file-model": {"input": 2, "output": 3}}}))
    assert load_models(path).price("openai-compatible", "file-model") == Price(2.0, 3.0, 3.0)
    assert load_models(str(path)).price("openai-compatible", "file-model") is not None
    # The environment variable, overridden in turn by prices=.
    monkeypatch.setenv(MODELS_ENV, str(path))
    assert load_models().price("openai-compatible", "file-model") == Price(2.0, 3.0, 3.0)
    assert load_models({"file-model": {"input": 7}}).price(
        "openai-compatible", "file-model"
    ) == Price(7.0, 3.0, 3.0)
    teacher = FakeProviderTeacher(prices={"fake-reasoner": {"input": 5, "output": 6}})
    assert teacher.models.price("fake-api", "fake-reasoner") == Price(5.0, 6.0, 6.0)


@pytest.mark.parametrize(
    ("prices", "match"),
    [
        ({"m": {"input": -1}}, "must be a number >= 0"),
        ({"m": {"input": "cheap"}}, "must be a number >= 0"),
        ({"m": 3.0}, "must be a mapping"),
        ("/no/such/prices.json", "does not exist"),
    ],
)
def test_bad_prices_are_config_errors(prices: object, match: str) -> None:
    with pytest.raises(tr.ConfigError, match=match):
        load_models(prices)  # type: ignore[arg-type]


def test_bad_json_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    monkeypatch.setenv(MODELS_ENV, str(path))
    with pytest.raises(tr.ConfigError, match=r"TINYREASON_MODELS.*not valid JSON"):
        load_models()


def test_unknown_model_warns_and_costs_none() -> None:
    with pytest.warns(UnknownPriceWarning, match="no price for fake-api model 'mystery-1'"):
        teacher = FakeProviderTeacher(model="mystery-1")
    ds = teacher.distill([tr.Problem("p1", "What is 6 * 7?")], cache=False, progress=False)
    assert ds[0]["cost_usd"] is None and ds[0]["error"] is None  # unknown, not zero
    assert teacher.last_summary is not None and teacher.last_summary.cost_usd is None
    assert "unknown" in str(teacher.last_summary)
    estimate = teacher.estimate([tr.Problem("p1", "What is 6 * 7?")], cache=False)
    assert estimate.usd_expected is None and "unknown" in str(estimate)
    with pytest.raises(tr.ConfigError, match="max_cost_usd needs a price"):
        teacher.distill([tr.Problem("p1", "q?")], cache=False, max_cost_usd=1.0)


def test_priced_model_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownPriceWarning)
        FakeProviderTeacher()
        FakeProviderTeacher(model="mystery-2", prices={"mystery-2": {"input": 1, "output": 1}})


def test_estimate_counts_cache_and_orders_low_expected_high(tmp_path: Path) -> None:
    teacher = FakeProviderTeacher(max_output_tokens=1000)
    problems = [tr.Problem(f"p{i}", f"What is {i} * 7?") for i in range(10)]
    cache = tmp_path / "c.sqlite"
    before = teacher.estimate(problems, cache=cache)  # a missing cache is not created
    assert not cache.exists()
    assert (before.problems, before.cached, before.to_call) == (10, 0, 10)
    assert before.usd_low < before.usd_expected <= before.usd_high  # type: ignore[operator]
    assert before.tokens_low < before.tokens_expected <= before.tokens_high
    assert before.output_tokens_expected == 10 * 1000  # the default 4,000, capped by the budget
    teacher.distill(problems[:6], cache=cache, progress=False)
    after = teacher.estimate(problems, cache=cache)
    assert (after.cached, after.to_call) == (6, 4)
    # With >= 5 cached replies, "expected" uses their mean length (20 thinking + 6 answer words).
    assert after.output_tokens_expected == 4 * 26
    assert teacher.estimate(problems, cache=cache, refresh="all").to_call == 10
    text = str(after)
    assert "6 cached, 4 to call" in text and "low" in text and "$" in text
    assert after._repr_html_().startswith("<pre>")
