"""The openai-server backend and the openai-compatible teacher against ``transformers serve``.

``transformers serve`` (FastAPI; ``pip install 'transformers[serving]'``) runs as a subprocess on
a free port, offline, and serves scripted tiny models saved to disk (see ``conftest.py``: each
writes digits, then a delimiter, then ``42``). Nobody here wrote it, and it is the strictest
server of those tried: text prompts only, HTTP 422 for any field it does not know, ``logit_bias``
ignored, special tokens always dropped from its text, ``length`` whenever the count reaches
``max_tokens``. The backend probes that and runs through its ``generation_config`` field.

What is guaranteed there:

* greedy budget forcing gives the transformers backend's generations exactly (text, thinking and
  answer tokens, waits, forced ends), less the token ids (the server returns none), as long as
  the model writes no special token but the stops: the text it returns is then the model's, and
  re-encodes to the same ids;
* when the model does write another special token (held off its stops, the scripted model writes
  ``<|endoftext|>``), the server drops it from the text: the run warns, counts the mismatch in
  ``describe()``, keeps the budgets on the server's counts and the thinking as the text shows it;
* a free generation (``control=None``) cannot be split there: a clear error.

llama.cpp's servers are not tested here: llama-cpp-python has no prebuilt CPU wheel on PyPI
(building it compiles llama.cpp) and Debian 12 ships no llama.cpp; docs/scaling.md says what was
verified where.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from transformers import AutoModelForCausalLM

import tinyreason as tr
from tinyreason.scaling import OpenAIServerBackend, TransformersBackend
from tinyreason.scaling.openai_backend import (
    ServerCapabilities,
    ServerCapabilityError,
    ServerResponseError,
)
from tinyreason.teachers.base import TeacherReply, TeacherRequest
from tinyreason.teachers.openai_compatible import OpenAICompatibleProvider

from .conftest import chain_table, cycle_table, scripted_lm

pytestmark = pytest.mark.slow

C = tr.ThinkingControl

#: The models the server serves, each a scripted table (see conftest.chain_table).
TABLES = {
    "chain": lambda: chain_table(5),
    "eot": lambda: chain_table(5, "<|im_end|>"),
    # s1's "<|im_start|>answer" is <|im_start|>, "a", "nswer" in the tiny tokenizer: the answer
    # starts after "nswer" (else the model writes <|endoftext|>, which the server drops).
    "qwen-end": lambda: {**chain_table(5, "<|im_start|>"), "nswer": {"Ċ": 30.0}},
    "cycle": cycle_table,
    # Chat models for the teacher: the turn starts after "assistant\n" (the "Ċ" token).
    "thinker": lambda: {**chain_table(5), "Ċ": {"<think>": 30.0}, "</think>": {"4": 30.0}},
    "answerer": lambda: {**chain_table(5), "Ċ": {"4": 30.0}},
    "mute": lambda: {**chain_table(5), "Ċ": {"<|im_end|>": 30.0}},
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


@pytest.fixture(scope="module")
def transformers_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``transformers serve`` on a free port, offline; yields its API root (``.../v1``)."""
    missing = [m for m in ("fastapi", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"transformers serve needs {missing}: pip install 'transformers[serving]'")
    port = _free_port()
    log = tmp_path_factory.mktemp("transformers-serve") / "serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    root = f"http://127.0.0.1:{port}"
    try:
        # Ready when GET /v1/models answers. The deadline is a safety net against a hang (the
        # server starts in ~5 s here), not something the test measures.
        deadline = time.monotonic() + 180
        while True:
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{root}/v1/models", timeout=5) as reply,
            ):
                if reply.status == 200:
                    break
            if process.poll() is not None:
                pytest.fail(f"transformers serve exited ({process.returncode}):\n{_log_tail(log)}")
            if time.monotonic() > deadline:
                pytest.fail(f"transformers serve never answered:\n{_log_tail(log)}")
            time.sleep(0.2)
        yield f"{root}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory, tokenizer: Any) -> dict[str, Path]:
    """Each scripted model saved with the tiny tokenizer; the server names it by its path."""
    root = tmp_path_factory.mktemp("served")
    folders = {}
    for name, table in TABLES.items():
        folder = root / name
        scripted_lm(tokenizer, table()).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        folders[name] = folder
    return folders


def backend(url: str, folder: Path, tokenizer: Any, **options: Any) -> OpenAIServerBackend:
    options.setdefault("max_retries", 0)
    return OpenAIServerBackend(url, str(folder), tokenizer, progress=False, **options)


def reference(folder: Path, tokenizer: Any, fmt: str) -> TransformersBackend:
    model = AutoModelForCausalLM.from_pretrained(folder)
    return TransformersBackend(model, tokenizer=tokenizer, format=fmt, progress=False)


# -- the backend -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "fmt", "control"),
    [
        ("chain", "think-tags", C(max_thinking=30, waits=2)),
        ("chain", "think-tags", C(max_thinking=6, waits=1)),  # ends on a stop at max_tokens
        ("chain", "think-tags", C(max_thinking=30, ban_delimiters_in_answer=True)),
        ("eot", "think-tags", C(max_thinking=30, waits=1)),
        ("qwen-end", "qwen-s1", C(max_thinking=30, waits=1)),  # s1's two-token delimiter
        ("cycle", "qwen-s1", C(max_thinking=7)),
        ("cycle", "think-tags", C(max_thinking=4, final_answer_text=None)),
    ],
)
def test_budget_forcing_matches_the_transformers_backend(
    transformers_serve: str,
    models: dict[str, Path],
    tokenizer: Any,
    script: str,
    fmt: str,
    control: Any,
) -> None:
    ref = reference(models[script], tokenizer, fmt)
    prompts = [ref.prompt("What is 6*7?"), ref.prompt("q")]
    expected = ref.generate(prompts, control=control, max_new_tokens=48)
    # transformers serve returns no token ids: everything else must be the same.
    expected = [[dataclasses.replace(g, token_ids=None) for g in gs] for gs in expected]
    served = backend(transformers_serve, models[script], tokenizer, format=fmt)
    assert served.generate(prompts, control=control, max_new_tokens=48) == expected
    described = served.describe()["server"]
    assert isinstance(described, dict)
    assert described["text_checks"]["count_mismatches"] == 0
    assert described["text_checks"]["prompt_mismatches"] == 0


def test_what_transformers_serve_takes_is_probed(
    transformers_serve: str, models: dict[str, Path], tokenizer: Any
) -> None:
    served = backend(transformers_serve, models["chain"], tokenizer)
    served.generate([served.prompt("q")], control=C(max_thinking=4), max_new_tokens=8)
    caps = served.capabilities
    assert caps is not None
    assert dataclasses.replace(caps, owned_by=None) == ServerCapabilities(
        token_prompts=False,  # 400 "prompt must be a string."
        extra_fields=False,  # 422 "Unexpected fields in the request"
        stop_token_ids=True,  # through generation_config's eos_token_id
        min_tokens=True,  # min_new_tokens
        logit_bias=True,  # suppress_tokens
        token_ids=False,
        special_text=False,  # </think> is a special token of the tiny tokenizer: dropped
        generation_config=True,
        length_at_max=True,
    )
    described = served.describe()["server"]
    assert isinstance(described, dict)
    assert described["mode"] == "text prompts, token-id stops (generation_config), text output"


def test_a_special_token_the_server_drops_is_counted_and_warned(
    transformers_serve: str, models: dict[str, Path], tokenizer: Any
) -> None:
    # Held off its stops for 13 tokens, the scripted model writes <|endoftext|> (special, not a
    # stop). transformers serve drops it from the text: ids cannot be identical.
    control = C(max_thinking=30, min_thinking=13, max_answer_tokens=2)
    ref = reference(models["chain"], tokenizer, "think-tags")
    prompt = ref.prompt("q")
    [[expected]] = ref.generate([prompt], control=control, max_new_tokens=48)
    assert "<|endoftext|>" in expected.thinking
    served = backend(transformers_serve, models["chain"], tokenizer)
    with pytest.warns(RuntimeWarning, match="text does not show"):
        [[got]] = served.generate([prompt], control=control, max_new_tokens=48)
    # Guaranteed: the thinking is the model's as the server's text shows it, the budgets hold.
    assert got.thinking == expected.thinking.replace("<|endoftext|>", "")
    assert got.answer_text == expected.answer_text and got.thinking_tokens <= 30
    checks = served.describe()["server"]["text_checks"]  # type: ignore[index]
    assert checks["count_mismatches"] >= 1


def test_a_free_generation_needs_the_delimiter_in_the_text(
    transformers_serve: str, models: dict[str, Path], tokenizer: Any
) -> None:
    served = backend(transformers_serve, models["chain"], tokenizer)
    with pytest.raises(ServerCapabilityError) as err:
        served.generate([served.prompt("q")], max_new_tokens=16)  # control=None
    message = str(err.value)
    assert "'</think>'" in message and "control=tr.ThinkingControl(max_thinking=None)" in message
    # What it suggests works: s1's loop stops on the delimiter's id.
    [[g]] = served.generate([served.prompt("q")], max_new_tokens=16, control=C(max_thinking=None))
    assert (g.thinking, g.answer_text) == ("56789", "42")


def test_the_servers_own_error_is_shown(
    transformers_serve: str, models: dict[str, Path], tokenizer: Any
) -> None:
    # Told it is vLLM, the backend sends vLLM's fields: transformers serve answers 422, and says
    # which fields in its `detail`.
    told = backend(
        transformers_serve, models["chain"], tokenizer, capabilities=ServerCapabilities.vllm()
    )
    with pytest.raises(ServerResponseError) as err:
        told.generate([told.prompt("q")], max_new_tokens=4, control=C(max_thinking=2))
    assert err.value.status_code == 422
    assert "Unexpected fields in the request" in str(err.value)
    assert "stop_token_ids" in str(err.value) and "capabilities=None" in str(err.value)
    standard = backend(
        transformers_serve, models["chain"], tokenizer, capabilities=ServerCapabilities.standard()
    )
    with pytest.raises(ServerResponseError, match=r"HTTP 400 \(prompt must be a string\.\)"):
        standard.generate([standard.prompt("q")], max_new_tokens=4, control=C(max_thinking=2))


def test_sixteen_requests_in_flight(
    transformers_serve: str, models: dict[str, Path], tokenizer: Any
) -> None:
    served = backend(transformers_serve, models["chain"], tokenizer, max_concurrency=16)
    prompts = [served.prompt(f"What is {i} * 7?") for i in range(16)]
    out = served.generate(prompts, control=C(max_thinking=30, waits=1), max_new_tokens=24)
    assert [(g.thinking, g.answer_text, g.waits) for [g] in out] == [
        ("56789Wait56789", "42", 1)
    ] * 16


# -- the teacher -------------------------------------------------------------------------------


def ask(url: str, folder: Path) -> TeacherReply:
    import asyncio

    async def go() -> TeacherReply:
        provider = OpenAICompatibleProvider(str(folder), api_key="EMPTY", base_url=url)
        try:
            return await provider.complete(TeacherRequest("p", "What is 6*7?", str(folder)))
        finally:
            await provider.aclose()

    return asyncio.run(go())


def test_the_teacher_reads_the_servers_reasoning(
    transformers_serve: str, models: dict[str, Path]
) -> None:
    # transformers serve parses a Qwen model's <think> block into reasoning_content.
    reply = ask(transformers_serve, models["thinker"])
    assert (reply.thinking, reply.answer, reply.finish_reason) == ("56789", "42", "stop")
    assert reply.usage.input_tokens > 0 and reply.usage.total_tokens > reply.usage.input_tokens


def test_the_teacher_warns_of_a_reply_without_thinking(
    transformers_serve: str, models: dict[str, Path]
) -> None:
    with pytest.warns(RuntimeWarning, match="no thinking"):
        reply = ask(transformers_serve, models["answerer"])
    assert (reply.thinking, reply.answer) == ("", "42")


def test_a_reply_of_no_text_still_counts_its_tokens(
    transformers_serve: str, models: dict[str, Path]
) -> None:
    folder = str(models["mute"])  # ends its turn at once
    teacher = tr.teacher(
        "openai-compatible",
        model=folder,
        base_url=transformers_serve,
        prices={folder: {"input": 0, "output": 0}},
    )
    with pytest.warns(RuntimeWarning, match="no thinking"):
        ds = teacher.distill([tr.Problem("p", "What is 6*7?")], cache=False, progress=False)
    summary = teacher.last_summary
    assert summary is not None and (summary.done, summary.failed_total) == (1, 0)
    assert summary.usage.input_tokens > 0  # the reply is in the usage summary
    assert ds[0]["error"] is None and ds[0]["thinking_trajectories"] == [""]
