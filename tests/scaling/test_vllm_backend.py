"""VLLMBackend: request building on CPU, the backend over a stand-in ``vllm``, real vLLM on GPU.

vLLM is not installed in CPU CI. Its pure request/result conversion is tested directly, and the
backend runs against a fake ``vllm`` module whose ``LLM.generate`` decodes with the transformers
model (the loopback server's loop), which checks the class end to end. The real-vLLM test needs
vllm and CUDA, and is skipped otherwise.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace as NS
from typing import Any, ClassVar

import pytest
import torch

import tinyreason as tr
from tinyreason.scaling import TransformersBackend, VLLMBackend
from tinyreason.scaling.continuation import CompletionRequest, EngineError
from tinyreason.scaling.vllm_backend import prompt_input, result_from_output, sampling_kwargs
from tinyreason.testing.completions_server import SamplingOptions, complete

from .conftest import chain_table, cycle_table, scripted_lm

C = tr.ThinkingControl


# -- pure request building -------------------------------------------------------------------------


def test_sampling_kwargs_stop_on_ids_and_keep_special_tokens() -> None:
    request = CompletionRequest(
        prompt=(1, 2, 3),
        max_tokens=7,
        stop=("</think>",),
        stop_token_ids=(4, 5),
        banned_token_ids=(6,),
        temperature=0.7,
        top_p=0.9,
        seed=11,
    )
    assert sampling_kwargs(request) == {
        "n": 1,
        "max_tokens": 7,
        "temperature": 0.7,
        "top_p": 0.9,
        "seed": 11,
        "stop_token_ids": [4, 5],
        "min_tokens": 0,  # an early stop is an attempt to end, answered with "Wait"
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "include_stop_str_in_output": False,
        "logit_bias": {6: -100.0},
    }
    assert "stop" not in sampling_kwargs(request)  # ids are exact; strings could misfire
    assert sampling_kwargs(CompletionRequest((1,), max_tokens=1))["logit_bias"] is None
    assert prompt_input(request) == {"prompt_token_ids": [1, 2, 3]}
    assert prompt_input(CompletionRequest("text", max_tokens=1)) == "text"


def test_results_from_vllm_outputs() -> None:
    output = NS(outputs=[NS(text="42", token_ids=[7, 8, 2], finish_reason="stop", stop_reason=2)])
    result = result_from_output(output)
    assert (result.text, result.num_tokens, result.token_ids, result.stop_reason) == (
        "42",
        3,
        (7, 8, 2),
        2,
    )
    with pytest.raises(EngineError, match="'abort'"):
        result_from_output(NS(outputs=[NS(text="", token_ids=[], finish_reason="abort")]))
    with pytest.raises(EngineError, match="without completions"):
        result_from_output(NS(outputs=[]))


def test_a_missing_vllm_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tokenizer: Any
) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm now raises ImportError
    with pytest.raises(tr.ConfigError, match=r"pip install 'tinyreason\[vllm\]'"):
        VLLMBackend("some/model", tokenizer=tokenizer)
    with pytest.raises(tr.ConfigError, match="tinyreason"):
        tr.backend("vllm", model="some/model")


# -- the backend over a stand-in vllm -------------------------------------------------------------


class FakeLLM:
    """``vllm.LLM`` as far as VLLMBackend uses it, decoding with a transformers model."""

    models: ClassVar[dict[str, tuple[Any, Any]]] = {}

    def __init__(self, model: str, **options: Any):
        self.model, self.tokenizer = self.models[model]
        self.options = {"model": model, **options}
        self.calls: list[int] = []
        # vLLM's engine knows its context length; the backend clips requests to it.
        self.llm_engine = NS(model_config=NS(max_model_len=options.get("max_model_len")))

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: Sequence[Any], params: Sequence[Any], use_tqdm: bool) -> list:
        assert use_tqdm is False and len(prompts) == len(params)
        self.calls.append(len(prompts))
        outputs = []
        for prompt, p in zip(prompts, params, strict=True):
            options = SamplingOptions(
                max_tokens=p.max_tokens,
                temperature=p.temperature,
                top_p=p.top_p,
                seed=p.seed,
                stop_token_ids=tuple(p.stop_token_ids),
                min_tokens=p.min_tokens,
                skip_special_tokens=p.skip_special_tokens,
                include_stop_str_in_output=p.include_stop_str_in_output,
                logit_bias=p.logit_bias or {},
            )
            generator = torch.Generator().manual_seed(p.seed if p.seed is not None else 0)
            done = complete(
                self.model,
                self.tokenizer,
                prompt["prompt_token_ids"],
                options,
                eos_token_ids=[self.tokenizer.eos_token_id],
                generator=generator,
            )
            completion = NS(
                text=done.text,
                token_ids=list(done.token_ids),
                finish_reason=done.finish_reason,
                stop_reason=done.stop_reason,
            )
            outputs.append(NS(outputs=[completion]))
        return outputs


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> type[FakeLLM]:
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = lambda **kwargs: NS(**kwargs)  # type: ignore[attr-defined]
    module.__version__ = "0.0-fake"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setattr(FakeLLM, "models", {})
    return FakeLLM


@pytest.mark.parametrize(
    ("table", "fmt", "control"),
    [
        (lambda: chain_table(5), "think-tags", C(max_thinking=20, waits=2, max_answer_tokens=1)),
        (lambda: chain_table(5, "<|im_start|>"), "qwen-s1", C(max_thinking=20, min_thinking=8)),
        (cycle_table, "qwen-s1", C(max_thinking=7)),
        (lambda: chain_table(5, "<|im_end|>"), "think-tags", None),
    ],
)
def test_same_generations_as_the_transformers_backend(
    fake_vllm: type[FakeLLM], scripted: Any, tokenizer: Any, table: Any, fmt: str, control: Any
) -> None:
    model = scripted(table())
    fake_vllm.models["scripted"] = (model, tokenizer)
    backend = VLLMBackend("scripted", format=fmt, dtype="float32", max_model_len=512)
    assert backend._runner.context_window == 512
    ref = TransformersBackend(model, tokenizer=tokenizer, format=fmt, progress=False)
    prompts = [ref.prompt("What is 6*7?"), ref.prompt("q")]
    expected = ref.generate(prompts, control=control, max_new_tokens=40)
    assert backend.generate(prompts, control=control, max_new_tokens=40) == expected
    assert backend.llm.options == {
        "model": "scripted",
        "dtype": "float32",
        "tensor_parallel_size": 1,
        "seed": 0,
        "max_model_len": 512,
    }
    assert set(backend.llm.calls) == {2}  # every round holds both prompts


def test_built_from_the_registry_or_a_ready_engine(
    fake_vllm: type[FakeLLM], scripted: Any, tokenizer: Any
) -> None:
    fake_vllm.models["m"] = (scripted(chain_table(5)), tokenizer)
    backend = tr.backend("vllm", model="m", format="think-tags", tokenizer=tokenizer, seed=3)
    assert isinstance(backend, VLLMBackend) and isinstance(backend, tr.Backend)
    assert backend.tokenizer is tokenizer and backend.llm.options["seed"] == 3
    assert backend.describe() == {
        "backend": "vllm",
        "model": "m",
        "format": "think-tags",
        "dtype": "auto",
        "tensor_parallel_size": 1,
        "vllm": "0.0-fake",
    }
    ready = VLLMBackend(FakeLLM("m"), format="think-tags")
    out = ready.generate(
        [ready.prompt("q")] * 3,
        n=2,
        temperature=1.0,
        seed=0,
        control=C(max_thinking=20, waits=1),
        max_new_tokens=30,
    )
    assert [len(s) for s in out] == [2, 2, 2] and ready.llm.calls == [6, 6, 6]
    assert all(g.waits == 1 and g.answer_text == "42" for s in out for g in s)
    with pytest.raises(tr.ConfigError, match="only apply"):
        VLLMBackend(FakeLLM("m"), gpu_memory_utilization=0.5)
    with pytest.raises(tr.ConfigError, match=r"vllm\.LLM"):
        VLLMBackend(3.5)
    with pytest.raises(tr.ConfigError, match="n must be"):
        ready.generate([ready.prompt("q")], n=0)


# -- real vLLM -------------------------------------------------------------------------------------


def _scripted_folder(path: Path, tokenizer: Any, table: dict) -> Path:
    """A scripted bigram model (conftest's) with vLLM-friendly head size 128, saved."""
    scripted_lm(tokenizer, table, head_dim=128).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.mark.gpu
@pytest.mark.slow
def test_real_vllm_matches_the_transformers_backend(tmp_path: Path, tokenizer: Any) -> None:
    pytest.importorskip("vllm")
    if not torch.cuda.is_available():
        pytest.skip("vLLM needs a CUDA GPU")
    folder = _scripted_folder(tmp_path / "scripted", tokenizer, chain_table(5))
    backend = VLLMBackend(
        str(folder),
        format="think-tags",
        dtype="float32",
        max_model_len=512,
        gpu_memory_utilization=0.3,
        enforce_eager=True,
    )
    ref = TransformersBackend(str(folder), format="think-tags", device="cuda", progress=False)
    prompts = [ref.prompt("What is 6*7?"), ref.prompt("q")]
    controls = (
        C(max_thinking=30, waits=2),
        C(max_thinking=7),
        C(max_thinking=30, min_thinking=13, max_answer_tokens=1),
    )
    for control in controls:
        expected = ref.generate(prompts, control=control, max_new_tokens=64)
        assert backend.generate(prompts, control=control, max_new_tokens=64) == expected
    samples = backend.generate(prompts, n=4, temperature=1.0, seed=0, control=C(max_thinking=9))
    again = backend.generate(prompts, n=4, temperature=1.0, seed=0, control=C(max_thinking=9))
    assert samples == again and [len(s) for s in samples] == [4, 4]
