"""The five provider teachers as users get them: registry, keys, validation, lazy SDK imports.

Gemini and Anthropic run end to end through the engine with their real SDKs against the loopback
server; DeepSeek's run is in test_provider_deepseek.py, the local model's in test_provider_local.py.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_teachers.py``
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.teachers.teacher import ProviderTeacher
from tinyreason.testing.provider_server import ProviderServer, ScriptedReply

KEY = "sk-teachers-FAKE-KEY-0123456789abcdef"
NAMES = ("gemini", "deepseek", "anthropic", "openai-compatible", "local")
KEY_VARS = {
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "deepseek": ("DEEPSEEK_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
}
FAST = {"timeout": 1.0, "retry_base_delay": 0.01, "retry_max_delay": 0.05}


@pytest.fixture(autouse=True)
def _no_keys_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in (*(v for vs in KEY_VARS.values() for v in vs), "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)


def build(name: str, **options: Any) -> Any:
    if name in ("openai-compatible", "local"):
        options.setdefault("model", "some-model")
        options.setdefault("prices", {"some-model": {"input": 0}})
    return tr.teacher(name, **options)


def test_all_five_are_registered_and_are_teachers() -> None:
    assert set(NAMES) <= set(tr.available("teacher"))
    for name in NAMES:
        teacher = build(name)
        assert isinstance(teacher, ProviderTeacher) and isinstance(teacher, tr.Teacher)
        assert teacher.name == name


@pytest.mark.parametrize("name", sorted(KEY_VARS))
def test_a_missing_key_names_the_environment_variable(name: str) -> None:
    teacher = build(name)
    with pytest.raises(tr.ConfigError) as info:
        teacher.distill([tr.Problem("p", "Q")], cache=False, progress=False)
    for var in KEY_VARS[name]:
        assert var in str(info.value)


@pytest.mark.parametrize("name", sorted(KEY_VARS))
def test_the_key_never_shows_in_reprs(name: str) -> None:
    teacher = build(name, api_key=KEY)
    provider = teacher.make_provider()
    assert KEY not in repr(teacher) and KEY not in str(teacher) and KEY not in repr(provider)


def test_the_second_gemini_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    assert build("gemini").resolve_api_key() == KEY


def test_openai_compatible_needs_no_key_for_a_local_server() -> None:
    with ProviderServer() as server:
        teacher = build("openai-compatible", base_url=f"{server.base_url}/v1", **FAST)
        ds = teacher.distill([tr.Problem("p", "Q")], cache=False, progress=False)
        assert "authorization" in server.requests[0].header_names  # "EMPTY" was sent
    assert ds["error"] == [None] and ds["thinking_kind"] == ["raw"]


@pytest.mark.parametrize(
    ("name", "options", "match"),
    [
        ("gemini", {"thinking_level": "extreme"}, "thinking_level"),
        ("gemini", {"thinking_level": "low", "thinking_budget": 1024}, "not both"),
        ("anthropic", {"thinking_budget": 500}, ">= 1024"),
        ("anthropic", {"thinking_budget": 40_000}, "below max_output_tokens"),
        ("anthropic", {"temperature": 0.3}, "temperature=1"),
        ("anthropic", {"effort": "maximal"}, "effort"),
        ("deepseek", {"thinking_budget": 1024}, "no thinking budget"),
        ("openai-compatible", {"thinking_budget": 1024}, "extra_body"),
        ("openai-compatible", {"top_p": 2}, "top_p"),
        ("openai-compatible", {"model": None}, "model"),
    ],
)
def test_settings_a_provider_would_reject_fail_when_the_teacher_is_built(
    name: str, options: dict[str, Any], match: str
) -> None:
    with pytest.raises(tr.ConfigError, match=match):
        build(name, **options)


def test_anthropic_thinking_can_be_turned_off_to_use_a_temperature() -> None:
    teacher = build("anthropic", thinking_budget=0, temperature=0.3)
    assert teacher.settings() == {
        "temperature": 0.3,
        "max_output_tokens": 32_000,
        "thinking_budget": 0,
        "thinking": "off",
    }


@pytest.mark.parametrize("name", ["gemini", "anthropic"])
def test_turning_thinking_off_changes_the_cache_key_but_a_bigger_budget_does_not(
    name: str,
) -> None:
    [problem] = [tr.Problem("p", "Q")]

    def key(**options: Any) -> str:
        return build(name, **options).requests([problem])[0][0]

    assert key(thinking_budget=2048) == key(thinking_budget=4096)  # refresh=truncated works
    assert key(thinking_budget=0) != key(thinking_budget=2048)


def test_thinking_kind_follows_the_model_table() -> None:
    # Claude 3.7 Sonnet returns its full thinking; Claude 4 models a summary (models.json).
    raw = build("anthropic", model="claude-3-7-sonnet", thinking_budget=2048, api_key=KEY)
    summary = build("anthropic", api_key=KEY)
    assert raw.make_provider().thinking_kind == "raw"
    assert summary.make_provider().thinking_kind == "summary"
    assert build("gemini", api_key=KEY).make_provider().thinking_kind == "summary"


@pytest.mark.parametrize(
    ("name", "model"), [("gemini", "gemini-2.5-flash"), ("anthropic", "claude-sonnet-4-6")]
)
def test_summary_teachers_distil_end_to_end(name: str, model: str) -> None:
    replies = {
        "What is 6 * 7?": ScriptedReply("**Multiplying** six by seven.", "42", thinking_tokens=80),
        "What is 2 + 3?": ScriptedReply("Adding.", "5", "length", thinking_tokens=40),
    }
    problems = [tr.Problem("a", "What is 6 * 7?"), tr.Problem("b", "What is 2 + 3?")]
    with ProviderServer(replies, retry_after="0") as server:
        server.inject("rate_limit", "unavailable")
        options: dict[str, Any] = {"model": model}
        if name == "anthropic":  # a fixed budget, and a price for a model the table lacks
            options |= {"thinking_budget": 2048, "prices": {model: {"input": 3, "output": 15}}}
        teacher = build(name, base_url=server.base_url, api_key=KEY, **options, **FAST)
        ds = teacher.distill(problems, cache=False, progress=False)
        assert len(server.requests) == 4  # two faults retried, two answers
    assert ds["teacher"] == [name, name] and ds["teacher_model"] == [model, model]
    assert ds["thinking_kind"] == ["summary", "summary"]
    assert ds["attempt"] == ["42", "5"] and ds["finish_reason"] == ["stop", "length"]
    assert ds["error"] == [None, None]
    assert [u["thinking_tokens"] for u in ds["usage"]] == [80, 40]


_SCRIPT = """
import json, sys
sdks = ("openai", "anthropic", "google.genai", "torch", "transformers")
import tinyreason.teachers.gemini, tinyreason.teachers.deepseek, tinyreason.teachers.anthropic
import tinyreason.teachers.openai_compatible, tinyreason.teachers.local
import tinyreason as tr
for name in ("gemini", "deepseek", "anthropic"):
    tr.teacher(name, api_key="k")
tr.teacher("local", model="m")
before = [m for m in sdks if m in sys.modules]
tr.teacher("gemini", api_key="k").make_provider()
print(json.dumps({"before": before, "after": [m for m in sdks if m in sys.modules]}))
"""


def test_sdks_are_imported_only_when_a_provider_is_built() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert loaded == {"before": [], "after": ["google.genai"]}


def test_docs_have_a_providers_section() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    text = "\n".join(
        p.read_text(encoding="utf-8")
        for p in (docs / "teachers.md", docs / "providers.md")
        if p.exists()
    )
    assert "## Providers" in text
    for name in NAMES:
        assert f"`{name}`" in text
