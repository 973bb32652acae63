"""OpenAIServerBackend over real TCP to the loopback CompletionsServer, against the processor.

The server runs the same model as the TransformersBackend reference, so greedy generations must
be identical: text, answers, exact thinking and answer tokens, waits and forced ends. The
server plays vLLM (token ids back), SGLang (text back) and a server that takes only OpenAI's
standard fields; the backend probes which at its first call. Real servers nobody here wrote
(``transformers serve``) are in ``test_real_servers.py``.
"""

from __future__ import annotations

import _thread
import asyncio
import dataclasses
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest

import tinyreason as tr
from tinyreason._async import run_sync
from tinyreason.scaling import OpenAIServerBackend, TransformersBackend
from tinyreason.scaling.continuation import CompletionRequest
from tinyreason.scaling.openai_backend import (
    ServerCapabilities,
    ServerCapabilityError,
    ServerConnectionError,
    ServerError,
    ServerResponseError,
    completion_params,
)
from tinyreason.scaling.server_capabilities import PROBE_USER
from tinyreason.testing import CompletionsServer
from tinyreason.testing.loopback import LoopbackServer, Request, Response

from .conftest import chain_table, cycle_table

C = tr.ThinkingControl
KEY = "sk-test-5ecret-d0-not-leak"


@contextmanager
def serve(model: Any, tokenizer: Any, **options: Any) -> Iterator[CompletionsServer]:
    with CompletionsServer(model, tokenizer, **options) as server:
        yield server


def client(server: CompletionsServer, tokenizer: Any, **options: Any) -> OpenAIServerBackend:
    options.setdefault("max_retries", 0)
    options.setdefault("progress", False)
    return OpenAIServerBackend(server.base_url, "tiny", tokenizer, **options)


def reference(model: Any, tokenizer: Any, fmt: str) -> TransformersBackend:
    return TransformersBackend(model, tokenizer=tokenizer, format=fmt, progress=False)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the same generations as the transformers backend ------------------------------------------


@pytest.mark.parametrize(
    ("script", "fmt", "control"),
    [
        ("chain", "think-tags", C(max_thinking=30, waits=2)),
        ("chain", "think-tags", C(max_thinking=30, min_thinking=13, max_answer_tokens=2)),
        ("chain", "think-tags", C(max_thinking=6, waits=1)),
        ("eot", "think-tags", C(max_thinking=30, waits=1)),
        ("qwen-end", "qwen-s1", C(max_thinking=30, waits=1)),  # s1's two-token delimiter
        ("cycle", "qwen-s1", C(max_thinking=7)),
        ("cycle", "think-tags", C(max_thinking=4, final_answer_text=None)),
        ("chain", "think-tags", None),
    ],
)
@pytest.mark.parametrize("mode", ["token-ids", "text", "standard-fields"])
def test_scripted_models_give_identical_generations(
    scripted: Any, tokenizer: Any, script: str, fmt: str, control: Any, mode: str
) -> None:
    table = {
        "chain": lambda: chain_table(5),
        "eot": lambda: chain_table(5, "<|im_end|>"),
        "qwen-end": lambda: chain_table(5, "<|im_start|>"),
        "cycle": cycle_table,
    }[script]()
    standard = mode == "standard-fields"
    model = scripted(table)
    ref = reference(model, tokenizer, fmt)
    prompts = [ref.prompt("What is 6*7?"), ref.prompt("q")]
    expected = ref.generate(prompts, control=control, max_new_tokens=48)
    if mode != "token-ids":  # without ids back, the backend cannot vouch for exact ids
        expected = [[dataclasses.replace(g, token_ids=None) for g in gs] for gs in expected]
    # token-ids: vLLM-style, ids come back. text: a server that never returns ids (SGLang,
    # llama.cpp). standard-fields: only OpenAI's fields, so stops are matched on the text, which
    # this server (like llama.cpp) writes with its special tokens; min_tokens is emulated with
    # logit_bias (the first tokens with the stops banned, then the rest).
    options = {"return_token_ids": mode == "token-ids", "skip_special_tokens": not standard}
    with serve(model, tokenizer, **options) as server:
        backend = client(server, tokenizer, format=fmt, vllm_extras=not standard)
        got = backend.generate(prompts, control=control, max_new_tokens=48)
    assert got == expected
    caps = backend.capabilities
    assert caps is not None and caps.token_ids == (mode == "token-ids")
    assert (caps.stop_token_ids, caps.min_tokens) == (not standard, not standard)
    if standard:
        assert all(set(r) <= STANDARD_FIELDS for r in server.requests)
        if control is not None and control.min_tokens > 1:  # min_thinking: held off by bias
            banned = [r for r in server.requests if "logit_bias" in r]
            assert banned and all(r["max_tokens"] == control.min_tokens for r in banned)


STANDARD_FIELDS = {"model", "prompt", "max_tokens", "temperature", "top_p", "n", "seed", "stop"} | {
    "logit_bias"
}


def test_the_tiny_model_gives_identical_generations(tiny_lm: Any, tokenizer: Any) -> None:
    with serve(tiny_lm, tokenizer) as server:
        for fmt in ("think-tags", "qwen-s1"):
            ref = reference(tiny_lm, tokenizer, fmt)
            backend = client(server, tokenizer, format=fmt)
            prompts = [ref.prompt("What is 6*7?"), ref.prompt("Solve 2x + 3 = 11.")]
            for control in (None, C(max_thinking=6, max_answer_tokens=5), C(max_thinking=0)):
                expected = ref.generate(prompts, control=control, max_new_tokens=24)
                assert backend.generate(prompts, control=control, max_new_tokens=24) == expected


def test_what_is_sent(scripted: Any, tokenizer: Any, think_tags: Any) -> None:
    with serve(scripted(chain_table(5)), tokenizer) as server:
        backend = client(server, tokenizer)
        [[g]] = backend.generate([backend.prompt("q")], control=C(waits=1, max_answer_tokens=9))
    assert (g.thinking, g.answer_text, g.waits) == ("56789Wait56789", "42", 1)
    think, rethink, answer = server.requests
    prompt = tokenizer.encode(backend.prompt("q"), add_special_tokens=False)
    assert think["prompt"] == prompt and think["n"] == 1 and think["temperature"] == 0
    assert think["stop"] == ["</think>", "<|im_end|>"]
    ids = tokenizer.convert_tokens_to_ids
    assert think["stop_token_ids"] == [ids("</think>"), ids("<|im_end|>")]
    assert think["skip_special_tokens"] is False and think["add_special_tokens"] is False
    assert think["return_token_ids"] is True and think["min_tokens"] == 1  # s1: with waits
    assert "logit_bias" not in think and "seed" not in think
    assert rethink["prompt"][len(prompt) :] == tokenizer.encode("56789Wait")
    assert answer["max_tokens"] == 9 and answer["stop_token_ids"] == [ids("<|im_end|>")]
    assert "logit_bias" not in answer and "min_tokens" not in answer  # s1 bans nothing
    assert think["repeat_penalty"] == 1.0  # not known to be vLLM: llama.cpp's greedy fix
    # "auto": the served max_model_len (GET /models) less the prompt, delimiters and 100.
    auto = 1024 - len(prompt) - len(tokenizer.encode("</think>\nFinal Answer:")) - 100
    assert answer["max_tokens"] == 9
    assert think["max_tokens"] == rethink["max_tokens"] == auto


def test_completion_params_for_a_text_prompt() -> None:
    request = CompletionRequest("hello", max_tokens=3, seed=7)
    params = completion_params(request, "m", vllm_extras=False)
    assert params == {
        "model": "m",
        "prompt": "hello",
        "max_tokens": 3,
        "temperature": 0.0,
        "top_p": 1.0,
        "n": 1,
        "seed": 7,
    }


# -- sampling, seeds, concurrency --------------------------------------------------------------


def test_samples_are_n_per_prompt_and_seeds_reproduce(tiny_lm: Any, tokenizer: Any) -> None:
    with serve(tiny_lm, tokenizer) as server:
        backend = client(server, tokenizer, max_concurrency=4)
        prompts = [backend.prompt("What is 6*7?"), backend.prompt("hi")]
        control = C(max_thinking=6, max_answer_tokens=4)

        def texts(seed: int | None) -> list[str]:
            out = backend.generate(prompts, n=3, temperature=1.0, seed=seed, control=control)
            assert [len(samples) for samples in out] == [3, 3]
            return [g.text for samples in out for g in samples]

        first = texts(0)
        assert texts(0) == first and texts(1) != first
        assert len(set(first)) > 1
        assert len({r["seed"] for r in server.requests[:6]}) == 6  # one seed per sample


def test_generate_works_inside_a_running_event_loop(scripted: Any, tokenizer: Any) -> None:
    # As in Jupyter: generate() is called from code that runs inside an event loop.
    with serve(scripted(chain_table(5)), tokenizer) as server:
        backend = client(server, tokenizer)

        async def cell() -> list[list[tr.Generation]]:
            asyncio.get_running_loop()  # a loop is running here
            return backend.generate([backend.prompt("q")], control=C(waits=1))

        [[g]] = asyncio.run(cell())
    assert (g.thinking, g.answer_text, g.thinking_tokens) == ("56789Wait56789", "42", 12)


@pytest.mark.timeout(120)  # only a guard against a hang: the test decides by events, not time
def test_an_interrupt_in_a_notebook_cancels_the_round() -> None:
    # No clock anywhere: on a loaded machine a process may get no CPU for seconds, and a round
    # that ended by itself (a sleep) or a button that gave up waiting (a timed wait) would make
    # the outcome a race. The round ends only when cancelled; the button waits for the round.
    started, cancelled = threading.Event(), threading.Event()

    async def round_of_requests() -> None:
        started.set()
        try:
            # A future nobody resolves: only a cancel ends the round.
            await asyncio.get_running_loop().create_future()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    def stop_button() -> None:
        # Jupyter's stop button: KeyboardInterrupt in the main thread while generate() waits.
        # The round runs by now, so the main thread is inside run_sync's wait (or starting it).
        started.wait()
        _thread.interrupt_main()

    async def cell() -> None:
        threading.Thread(target=stop_button, daemon=True).start()
        run_sync(round_of_requests)

    loop = asyncio.new_event_loop()  # no asyncio.run: it would turn SIGINT into a cancel
    try:
        with pytest.raises(KeyboardInterrupt):
            loop.run_until_complete(cell())
    finally:
        loop.close()
    assert cancelled.is_set()


# -- errors --------------------------------------------------------------------------------------


def test_a_server_error_names_the_url_and_status(tiny_lm: Any, tokenizer: Any) -> None:
    with serve(tiny_lm, tokenizer) as server:
        backend, url = client(server, tokenizer, api_key=KEY), server.base_url
        server.fail_next(500)
        with pytest.raises(ServerResponseError) as err:
            backend.generate([backend.prompt("q")], max_new_tokens=4)
    assert err.value.status_code == 500 and err.value.base_url == url
    assert url in str(err.value) and "HTTP 500" in str(err.value)
    assert "log" in str(err.value) and isinstance(err.value, tr.TinyReasonError)
    assert KEY not in str(err.value) and KEY not in repr(err.value)
    assert err.value.__cause__ is None  # the SDK's request (headers, key) is not attached


def test_transient_failures_are_retried(tiny_lm: Any, tokenizer: Any) -> None:
    with serve(tiny_lm, tokenizer) as server:
        backend = client(server, tokenizer, max_retries=2)
        server.fail_next(503, 429)
        [[g]] = backend.generate([backend.prompt("q")], max_new_tokens=3)
    assert g.thinking_tokens == 3 and len(server.requests) == 1


def test_connection_refused_is_a_clear_error(tokenizer: Any) -> None:
    url = f"http://127.0.0.1:{closed_port()}/v1"
    backend = OpenAIServerBackend(url, "tiny", tokenizer, api_key=KEY, max_retries=0)
    with pytest.raises(ServerConnectionError) as err:
        backend.generate([backend.prompt("q")], max_new_tokens=4)
    message = str(err.value)
    assert url in message and "running" in message and "/v1" in message
    assert err.value.status_code is None and isinstance(err.value, ServerError)
    assert KEY not in message and KEY not in repr(err.value)


@pytest.mark.parametrize(
    ("options", "status", "hint"),
    [
        ({"api_key": "sk-wrong-key-123"}, 401, "api_key"),
        ({"model": "nope"}, 404, "/models"),
    ],
)
def test_auth_and_model_errors_say_what_to_check(
    tiny_lm: Any, tokenizer: Any, options: dict, status: int, hint: str
) -> None:
    with serve(tiny_lm, tokenizer, api_key=KEY) as server:
        options = {"api_key": KEY, "model": "tiny", **options}
        backend = OpenAIServerBackend(
            server.base_url, tokenizer=tokenizer, max_retries=0, **options
        )
        with pytest.raises(ServerResponseError) as err:
            backend.generate([backend.prompt("q")], max_new_tokens=4)
    assert err.value.status_code == status and hint in str(err.value)
    for text in (str(err.value), repr(err.value), repr(backend), str(backend.describe())):
        assert KEY not in text and options["api_key"] not in text


def test_the_key_comes_from_the_argument_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tiny_lm: Any, tokenizer: Any
) -> None:
    with serve(tiny_lm, tokenizer, api_key=KEY) as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        backend = client(server, tokenizer)
        assert backend.generate([backend.prompt("q")], max_new_tokens=2)[0][0].thinking_tokens == 2
        monkeypatch.delenv("OPENAI_API_KEY")
        with pytest.raises(ServerResponseError, match="HTTP 401"):
            client(server, tokenizer).generate([backend.prompt("q")], max_new_tokens=2)
    assert KEY not in repr(backend) and KEY not in str(vars(backend))


def test_credentials_in_the_url_are_never_shown(tokenizer: Any) -> None:
    backend = OpenAIServerBackend(
        "http://user:hunter2@127.0.0.1:9/v1", "tiny", tokenizer, max_retries=0
    )
    assert "hunter2" not in repr(backend) and "hunter2" not in str(backend.describe())
    with pytest.raises(ServerConnectionError) as err:
        backend.generate([backend.prompt("q")], max_new_tokens=1)
    assert "hunter2" not in str(err.value) and "***@127.0.0.1:9" in str(err.value)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"n": 0}, "n must be"),
        ({"temperature": -1.0}, "temperature"),
        ({"max_new_tokens": 0}, "max_new_tokens"),
        ({"top_p": 0}, "top_p"),
    ],
)
def test_bad_generate_arguments(tokenizer: Any, options: dict, match: str) -> None:
    backend = OpenAIServerBackend("http://127.0.0.1:9/v1", "tiny", tokenizer)
    with pytest.raises(tr.ConfigError, match=match):
        backend.generate([backend.prompt("q")], **options)


def test_bad_backend_settings(tokenizer: Any) -> None:
    with pytest.raises(tr.ConfigError) as err:
        OpenAIServerBackend("localhost:8000", "", tokenizer, max_concurrency=0, timeout=-1)
    assert len(err.value.problems) == 4
    with pytest.raises(tr.ConfigError, match="tokenizer"):
        OpenAIServerBackend("http://127.0.0.1:9/v1", "tiny", None)
    with pytest.raises(tr.ConfigError, match="special token"):
        bad = tr.students.ThinkFormat("mine", "<t>", "</t>")
        OpenAIServerBackend("http://127.0.0.1:9/v1", "tiny", tokenizer, format=bad)


def test_registered_as_a_backend(tiny_path: Any) -> None:
    backend = tr.backend(
        "openai-server", base_url="http://127.0.0.1:9/v1", model="tiny", tokenizer=str(tiny_path)
    )
    assert isinstance(backend, OpenAIServerBackend) and isinstance(backend, tr.Backend)
    assert backend.describe() == {
        "backend": "openai-server",
        "base_url": "http://127.0.0.1:9/v1",
        "model": "tiny",
        "format": "think-tags",
        "max_concurrency": 16,
        "timeout": 600.0,
        "vllm_extras": True,
    }
    assert repr(backend) == (
        "OpenAIServerBackend('http://127.0.0.1:9/v1', model='tiny', format='think-tags')"
    )


# -- the loopback server itself -------------------------------------------------------------------


def test_the_server_speaks_the_completions_api(scripted: Any, tokenizer: Any) -> None:
    with (
        serve(scripted(chain_table(5)), tokenizer) as server,
        openai.OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0) as sdk,
    ):
        assert [m.id for m in sdk.models.list()] == ["tiny"]
        prompt = tokenizer.encode("<think>", add_special_tokens=False)
        base = {"model": "tiny", "prompt": prompt, "temperature": 0}
        out = sdk.completions.create(
            **base, max_tokens=20, extra_body={"skip_special_tokens": False}
        )
        # The script: 56789, </think>, a newline, 42 and the end of turn (the model's EOS).
        assert out.choices[0].text == "56789</think>\n42"
        assert out.choices[0].finish_reason == "stop" and out.usage.completion_tokens == 10
        out = sdk.completions.create(**base, max_tokens=20, stop=["8"])
        assert (out.choices[0].text, out.choices[0].finish_reason) == ("567", "stop")
        assert out.choices[0].model_extra["stop_reason"] == "8"
        assert out.usage.completion_tokens == 4  # the token that matched counts
        out = sdk.completions.create(
            **base, max_tokens=20, stop=["8"], extra_body={"include_stop_str_in_output": True}
        )
        assert out.choices[0].text == "5678"
        end = tokenizer.convert_tokens_to_ids("</think>")
        out = sdk.completions.create(
            **base,
            max_tokens=20,
            extra_body={"stop_token_ids": [end], "return_token_ids": True, "min_tokens": 0},
        )
        choice = out.choices[0]
        assert (choice.text, choice.finish_reason, choice.model_extra["stop_reason"]) == (
            "56789",
            "stop",
            end,
        )
        assert choice.model_extra["token_ids"][-1] == end
        out = sdk.completions.create(
            **base, max_tokens=3, n=2, logit_bias={str(tokenizer.convert_tokens_to_ids("5")): -100}
        )
        assert len(out.choices) == 2 and not out.choices[0].text.startswith("5")
        assert out.usage.completion_tokens == 6
        with pytest.raises(openai.BadRequestError, match="max_tokens"):
            sdk.completions.create(**base, max_tokens=0)
        with pytest.raises(openai.NotFoundError, match="does not exist"):
            sdk.completions.create(model="other", prompt=prompt, max_tokens=1)


def test_min_tokens_holds_off_the_stop(scripted: Any, tokenizer: Any) -> None:
    with (
        serve(scripted(chain_table(5, "<|im_end|>")), tokenizer) as server,
        openai.OpenAI(base_url=server.base_url, api_key="EMPTY", max_retries=0) as sdk,
    ):
        prompt = tokenizer.encode("<think>", add_special_tokens=False)
        out = sdk.completions.create(model="tiny", prompt=prompt, max_tokens=20, temperature=0)
        assert (out.choices[0].text, out.usage.completion_tokens) == ("56789", 6)
        out = sdk.completions.create(
            model="tiny", prompt=prompt, max_tokens=8, temperature=0, extra_body={"min_tokens": 7}
        )
        assert (out.choices[0].finish_reason, out.usage.completion_tokens) == ("length", 8)


# -- what the server takes: probed once, or given ------------------------------------------------


@pytest.mark.parametrize(
    ("options", "extras", "expected"),
    [
        ({}, True, ServerCapabilities()),  # vLLM
        ({"return_token_ids": False}, True, ServerCapabilities(token_ids=False)),  # SGLang
    ],
)
def test_the_server_is_probed_once(
    scripted: Any, tokenizer: Any, options: dict, extras: bool, expected: ServerCapabilities
) -> None:
    with serve(scripted(chain_table(5)), tokenizer, **options) as server:
        backend = client(server, tokenizer, vllm_extras=extras)
        assert backend.capabilities is None and "server" not in backend.describe()
        prompt = backend.prompt("q")
        backend.generate([prompt], max_new_tokens=4, control=C(max_thinking=3))
        probes = len(server.probes)
        backend.generate([prompt], max_new_tokens=4, control=C(max_thinking=3))
        assert len(server.probes) == probes <= 6  # once, and cheap
        assert all(p["user"] == PROBE_USER and p["max_tokens"] <= 2 for p in server.probes)
    assert backend.capabilities == expected
    described = backend.describe()["server"]
    assert isinstance(described, dict) and described["mode"] == expected.mode
    assert described["text_checks"]["count_mismatches"] == 0
    if not expected.token_ids:
        assert described["text_checks"]["replies"] > 0  # every text reply was re-encoded


def test_given_capabilities_skip_the_probes(scripted: Any, tokenizer: Any) -> None:
    with serve(scripted(chain_table(5)), tokenizer) as server:
        backend = client(server, tokenizer, capabilities=ServerCapabilities.vllm())
        backend.generate([backend.prompt("q")], max_new_tokens=4, control=C(max_thinking=3))
        with pytest.raises(tr.ConfigError, match="capabilities"):
            client(server, tokenizer, capabilities="vllm")
    assert (len(server.requests), server.probes) == (2, [])  # a round of thinking, the answer


def test_a_delimiter_the_server_never_writes_is_a_clear_error(
    scripted: Any, tokenizer: Any
) -> None:
    # llama-server without --special: special tokens never reach the text, and stops are text.
    with serve(scripted(chain_table(5)), tokenizer, return_token_ids=False) as server:
        backend, url = client(server, tokenizer, vllm_extras=False), server.base_url
        control = C(max_thinking=6, waits=1)
        with pytest.raises(ServerCapabilityError) as err:
            backend.generate([backend.prompt("q")], max_new_tokens=8, control=control)
    assert backend.capabilities == ServerCapabilities(
        extra_fields=False,
        stop_token_ids=False,
        min_tokens=False,
        token_ids=False,
        special_text=False,
    )
    message = str(err.value)
    assert "'</think>'" in message and "--special" in message and url in message
    assert server.requests == []  # refused before a token was generated
    assert isinstance(err.value, ServerError) and isinstance(err.value, tr.TinyReasonError)


def test_banned_ids_need_a_server_that_honours_logit_bias(scripted: Any, tokenizer: Any) -> None:
    caps = ServerCapabilities(logit_bias=False)
    with serve(scripted(chain_table(5)), tokenizer) as server:
        backend = client(server, tokenizer, capabilities=caps)
        control = C(max_thinking=6, ban_delimiters_in_answer=True)
        with pytest.raises(ServerCapabilityError, match="ban_delimiters_in_answer"):
            backend.generate([backend.prompt("q")], max_new_tokens=8, control=control)


class FastAPIStyle(LoopbackServer):
    """A server that answers every completion 422 in FastAPI's shape (``detail``)."""

    url_path = "/v1"

    def respond(self, request: Request) -> Response:
        if request.method == "GET":
            return Response.json(200, {"object": "list", "data": []})
        detail = [{"loc": ["body", "prompt"], "msg": "Input should be a valid string"}]
        return Response.json(422, {"detail": detail})


def test_the_servers_error_body_is_surfaced(tokenizer: Any) -> None:
    with FastAPIStyle() as server:
        probed = OpenAIServerBackend(server.base_url, "tiny", tokenizer, max_retries=0)
        with pytest.raises(ServerResponseError) as err:
            probed.generate([probed.prompt("q")], max_new_tokens=2)
        assert "body.prompt: Input should be a valid string" in str(err.value)
        assert err.value.status_code == 422 and "refused every form" in str(err.value)
        given = OpenAIServerBackend(
            server.base_url, "tiny", tokenizer, max_retries=0, capabilities=ServerCapabilities()
        )
        with pytest.raises(ServerResponseError) as err:
            given.generate([given.prompt("q")], max_new_tokens=2)
    assert "HTTP 422 (body.prompt: Input should be a valid string)" in str(err.value)
    assert "capabilities=None" in str(err.value)
