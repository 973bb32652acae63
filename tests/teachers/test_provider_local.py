"""The local provider: a transformers model through TransformersBackend, in a worker thread.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_local.py`` (tests that build and run
the tiny model are marked slow).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.teachers.base import ProviderError, TeacherReply, TeacherRequest
from tinyreason.teachers.local import LocalProvider, LocalTeacher


class ScriptedBackend:
    """A stand-in backend: records prompts and calls, checks calls never overlap."""

    def __init__(self, generation: tr.Generation, delay: float = 0.0):
        self.format = tr.chat_format("think-tags")
        self.tokenizer = _WordTokenizer()
        self.generation, self.delay = generation, delay
        self.prompts: list[str] = []
        self.options: list[dict[str, Any]] = []
        self.active = self.most_active = 0
        self._lock = threading.Lock()

    def prompt(self, question: str) -> str:
        return question

    def generate(self, prompts: list[str], **options: Any) -> list[list[tr.Generation]]:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(self.delay)
            self.prompts.extend(prompts)
            self.options.append(options)
            return [[self.generation] for _ in prompts]
        finally:
            with self._lock:
                self.active -= 1


class _WordTokenizer:
    chat_template = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}"
    eos_token = "<eos>"

    def apply_chat_template(self, messages: list[dict[str, str]], **_: Any) -> str:
        text = "".join(f"[{m['role']}] {m['content']}\n" for m in messages)
        return text + "[assistant] "

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return list(range(len(text.split())))


GEN = tr.Generation("t</think>a", "six sevens", "42", thinking_tokens=7, answer_tokens=2)


def run(p: LocalProvider, *requests: TeacherRequest) -> list[TeacherReply | ProviderError]:
    async def go() -> list[TeacherReply | ProviderError]:
        results = await asyncio.gather(*(p.complete(r) for r in requests), return_exceptions=True)
        await p.aclose()
        return list(results)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_maps_a_generation_to_a_raw_reply_with_exact_token_counts() -> None:
    backend = ScriptedBackend(GEN)
    [reply] = run(LocalProvider(backend), TeacherRequest("p", "What is 6*7?", "m"))
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer, reply.thinking_kind) == ("six sevens", "42", "raw")
    assert (reply.usage.thinking_tokens, reply.usage.output_tokens) == (7, 2)
    assert reply.usage.input_tokens == len(backend.prompts[0].split())
    assert reply.finish_reason == "stop"


def test_settings_map_to_generate_options_and_the_system_prompt_to_the_template() -> None:
    backend = ScriptedBackend(GEN)
    request = TeacherRequest(
        "p",
        "What is 6*7?",
        "m",
        system="Think in steps.",
        settings={"temperature": 0.7, "top_p": 0.9, "max_output_tokens": 64,
                  "thinking_budget": 16, "seed": 3},
    )  # fmt: skip
    run(LocalProvider(backend), request)
    [options] = backend.options
    assert options["temperature"] == 0.7 and options["top_p"] == 0.9
    assert options["max_new_tokens"] == 64 and options["seed"] == 3
    # max_output_tokens bounds the whole reply: the answer gets what the thinking leaves.
    assert options["control"] == tr.ThinkingControl(max_thinking=16, max_answer_tokens=48)
    assert backend.prompts[0].startswith("[system] Think in steps.\n[user] What is 6*7?")
    assert backend.prompts[0].endswith("<think>")


def test_calls_run_one_at_a_time_off_the_event_loop() -> None:
    backend = ScriptedBackend(GEN, delay=0.05)
    requests = [TeacherRequest(f"p{i}", f"Q{i}", "m") for i in range(4)]
    replies = run(LocalProvider(backend), *requests)
    assert all(isinstance(r, TeacherReply) for r in replies)
    assert backend.most_active == 1 and len(backend.prompts) == 4


def test_length_and_empty_generations() -> None:
    cut = tr.Generation("so far", "so far", "", 5, 0, finish_reason="length")
    [reply] = run(LocalProvider(ScriptedBackend(cut)), TeacherRequest("p", "Q", "m"))
    assert isinstance(reply, TeacherReply) and reply.finish_reason == "length"
    nothing = tr.Generation("", "", "", 0, 0)
    [err] = run(LocalProvider(ScriptedBackend(nothing)), TeacherRequest("p", "Q", "m"))
    assert isinstance(err, ProviderError) and (err.reason, err.retryable) == ("empty", True)


def test_teacher_needs_no_key_and_puts_the_format_in_the_settings() -> None:
    teacher = tr.teacher("local", model="some/folder", format="qwen-s1", thinking_budget=64)
    assert isinstance(teacher, LocalTeacher)
    assert teacher.resolve_api_key() is None and teacher.concurrency == 1
    assert teacher.settings() == {"thinking_budget": 64, "format": "qwen-s1"}
    assert isinstance(teacher.make_provider(), LocalProvider)
    with pytest.raises(tr.ConfigError, match="model"):
        tr.teacher("local")  # no default model: the message says to pass one


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tr.testing.tiny_model(tmp_path_factory.mktemp("local") / "tiny")


@pytest.mark.slow
def test_a_real_tiny_model_through_transformers_backend(tiny_path: Path) -> None:
    provider = LocalProvider(str(tiny_path), device="cpu")
    capped = TeacherRequest(
        "p", "What is 6*7?", "tiny", settings={"max_output_tokens": 12, "thinking_budget": 4}
    )
    free = TeacherRequest("p", "What is 6*7?", "tiny", settings={"max_output_tokens": 6})
    first, second = run(provider, capped, free)
    assert isinstance(first, TeacherReply) and isinstance(second, TeacherReply)
    assert first.usage.thinking_tokens == 4  # the end of thinking was forced at the budget
    assert second.usage.thinking_tokens + second.usage.output_tokens <= 6
    assert second.finish_reason == "length"
    assert first.model == str(tiny_path) and first.usage.input_tokens > 0


@pytest.mark.slow
def test_local_teacher_distils_with_the_engine(tiny_path: Path) -> None:
    teacher = tr.teacher("local", model=str(tiny_path), device="cpu", max_output_tokens=6)
    ds = teacher.distill(
        [tr.Problem("a", "What is 6*7?"), tr.Problem("b", "What is 2+3?")],
        cache=False,
        progress=False,
    )
    assert ds["teacher"] == ["local", "local"] and ds["thinking_kind"] == ["raw", "raw"]
    assert ds["error"] == [None, None] and ds["cost_usd"] == [0.0, 0.0]  # free, not unknown
    assert ds["finish_reason"] == ["length", "length"]
