"""TransformersBackend: prompts, batching, n samples, seeds, parsing and exact counts."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.scaling import TransformersBackend

from .conftest import chain_table, cycle_table, random_table


class CountingGenerate:
    """A thin wrapper that records the batch shape of every model.generate() call."""

    def __init__(self, model: Any):
        self.original, self.shapes = model.generate, []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.shapes.append(tuple(kwargs["input_ids"].shape))
        return self.original(*args, **kwargs)


def counting(monkeypatch: pytest.MonkeyPatch, model: Any) -> CountingGenerate:
    wrapper = CountingGenerate(model)
    monkeypatch.setattr(model, "generate", wrapper)
    return wrapper


def backend(model: Any, tokenizer: Any, **options: Any) -> TransformersBackend:
    return TransformersBackend(model, tokenizer=tokenizer, progress=False, **options)


def test_prompt_uses_the_chat_template_and_ends_with_think_start(
    tiny_lm: Any, tokenizer: Any
) -> None:
    for name, start in (("think-tags", "<think>"), ("qwen-s1", "<|im_start|>think")):
        b = backend(tiny_lm, tokenizer, format=name)
        assert b.prompt("What is 6*7?") == (
            "<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n" + start
        )
        assert isinstance(b, tr.Backend)


def test_loads_a_model_folder_through_the_registry(tiny_path: Path) -> None:
    b = tr.backend("transformers", model=str(tiny_path), format="qwen-s1", device="cpu")
    assert isinstance(b, TransformersBackend) and b.format.name == "qwen-s1"
    assert b.describe() == {
        "backend": "transformers",
        "model": str(tiny_path),
        "format": "qwen-s1",
        "device": "cpu",
        "dtype": "torch.float32",
        "batch_size": 16,
        "context_window": 4096,
        "budget_forcing": "s1 rounds (stop, strip, append, regenerate)",
    }
    [[g]] = b.generate(
        [b.prompt("hi")], max_new_tokens=3, control=tr.ThinkingControl(max_thinking=1)
    )
    assert g.thinking_tokens == 1 and g.forced_end


def test_budget_forced_generation_is_parsed_and_counted(
    scripted: Any, tokenizer: Any, qwen_s1: Any
) -> None:
    b = backend(scripted(cycle_table()), tokenizer, format=qwen_s1)
    control = tr.ThinkingControl(max_thinking=7)
    [[g]] = b.generate([b.prompt("q")], control=control, max_new_tokens=40)
    assert g.text == "5678956\n<|im_start|>answer\nFinal Answer:42"
    assert (g.thinking, g.answer_text) == ("5678956", "Final Answer:42")
    assert (g.thinking_tokens, g.answer_tokens, g.waits, g.forced_end) == (7, 2, 0, True)
    assert g.finish_reason == "stop"


def test_without_control_the_format_still_splits_and_counts(scripted: Any, tokenizer: Any) -> None:
    fmt = tr.chat_format("think-tags", answer_separator="\n")
    table = chain_table(4)
    table["</think>"] = {"Ċ": 30.0}  # the script writes the delimiter and separator itself
    b = backend(scripted(table), tokenizer, format=fmt)
    [[g]] = b.generate([b.prompt("q")], max_new_tokens=40)
    assert g.text == "5678</think>\n42"
    assert (g.thinking, g.answer_text, g.thinking_tokens, g.answer_tokens) == ("5678", "42", 4, 2)
    assert (g.finish_reason, g.waits, g.forced_end) == ("stop", 0, False)


def test_running_out_of_tokens_is_length(scripted: Any, tokenizer: Any, think_tags: Any) -> None:
    b = backend(scripted(cycle_table()), tokenizer, format=think_tags)
    [[g]] = b.generate([b.prompt("q")], max_new_tokens=6)
    assert (g.text, g.thinking_tokens, g.answer_tokens, g.finish_reason) == (
        "567895",
        6,
        0,
        "length",
    )
    # Under control the thinking gets the whole budget (s1: no cap means max_gen_toks), ends by
    # length, and the answer gets the whole budget again.
    [[g]] = b.generate([b.prompt("q")], max_new_tokens=6, control=tr.ThinkingControl(None))
    assert g.text == "567895\n</think>\nFinal Answer:42" and g.forced_end
    assert (g.thinking_tokens, g.answer_tokens, g.finish_reason) == (6, 2, "stop")
    control = tr.ThinkingControl(max_thinking=2, max_answer_tokens=1)
    [[g]] = b.generate([b.prompt("q")], control=control)
    assert (g.answer_text, g.answer_tokens, g.finish_reason) == ("Final Answer:4", 1, "length")


def test_many_problems_times_many_samples_in_one_call_per_batch(
    monkeypatch: pytest.MonkeyPatch, scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    model = scripted(random_table())
    calls = counting(monkeypatch, model)
    b = backend(model, tokenizer, format=think_tags, batch_size=2)
    questions = ["a", "a longer question", "the longest question of them all", "mid size"]
    control = tr.ThinkingControl(max_thinking=10, waits=1, max_answer_tokens=4)
    results = b.generate(
        [b.prompt(q) for q in questions],
        n=3,
        temperature=1.0,
        control=control,
        seed=3,
        max_new_tokens=40,
    )
    # 12 samples, 2 rows per call: 6 calls for the first thinking round, fewer later.
    assert max(rows for rows, _ in calls.shapes) == 2 and len(calls.shapes) >= 6
    assert [len(r) for r in results] == [3, 3, 3, 3]
    generations = [g for samples in results for g in samples]
    assert len({g.text for g in generations}) > 4
    for g in generations:
        # Digits and "Wait" re-tokenise one for one, so the text gives the exact counts back.
        assert g.thinking_tokens == len(tokenizer.encode(g.thinking))
        answer = g.answer_text.removeprefix("Final Answer:")
        newline = 0 if g.forced_end else 1  # after a natural end the model writes "\n" first
        assert g.answer_tokens == len(tokenizer.encode(answer)) + newline
        assert g.thinking_tokens <= 10
        assert g.waits == 1 or (g.forced_end and g.waits == 0)
        assert g.thinking.count("Wait") == g.waits or g.thinking.endswith("Wa")
        assert g.answer_tokens <= 4 and set(answer) <= set("42")


def test_results_keep_prompt_order(scripted: Any, tokenizer: Any, think_tags: Any) -> None:
    b = backend(scripted(cycle_table()), tokenizer, format=think_tags, batch_size=2)
    # The script continues the digit cycle from a prompt's last token; batches go longest first.
    prompts = [b.prompt("q") + "7", b.prompt("a much longer question") + "5", b.prompt("q?") + "9"]
    out = b.generate(prompts, control=tr.ThinkingControl(max_thinking=3))
    assert [samples[0].thinking for samples in out] == ["895", "678", "567"]


def test_greedy_samples_are_generated_once_and_repeated(
    monkeypatch: pytest.MonkeyPatch, tiny_lm: Any, tokenizer: Any
) -> None:
    calls = counting(monkeypatch, tiny_lm)
    b = backend(tiny_lm, tokenizer)
    [samples] = b.generate([b.prompt("q")], n=4, max_new_tokens=5)
    assert len(samples) == 4 and all(g is samples[0] for g in samples)
    assert calls.shapes[0][0] == 1


def test_greedy_is_deterministic(tiny_lm: Any, tokenizer: Any) -> None:
    b = backend(tiny_lm, tokenizer)
    prompts = [b.prompt("What is 6*7?"), b.prompt("Solve 2x + 3 = 11.")]
    control = tr.ThinkingControl(max_thinking=6, max_answer_tokens=4)
    assert b.generate(prompts, control=control) == b.generate(prompts, control=control)


def test_sampling_is_reproducible_with_a_seed(tiny_lm: Any, tokenizer: Any) -> None:
    b = backend(tiny_lm, tokenizer, batch_size=1)
    prompts = [b.prompt("What is 6*7?"), b.prompt("Solve 2x + 3 = 11.")]
    control = tr.ThinkingControl(max_thinking=8, max_answer_tokens=4)

    def texts(seed: int | None, ctl: Any = control) -> list[str]:
        out = b.generate(prompts, n=2, temperature=1.0, seed=seed, control=ctl, max_new_tokens=8)
        return [g.text for samples in out for g in samples]

    assert texts(0) == texts(0)
    assert texts(0) != texts(1)
    assert texts(5, None) == texts(5, None)
    assert len(set(texts(None))) > 1


def test_top_p_one_token_is_greedy(tiny_lm: Any, tokenizer: Any) -> None:
    b = backend(tiny_lm, tokenizer)
    prompt = [b.prompt("What is 6*7?")]
    greedy = b.generate(prompt, max_new_tokens=6)[0][0].text
    nucleus = b.generate(prompt, temperature=1.0, top_p=1e-6, seed=1, max_new_tokens=6)
    assert nucleus[0][0].text == greedy


def test_empty_prompts(tiny_lm: Any, tokenizer: Any) -> None:
    assert backend(tiny_lm, tokenizer).generate([]) == []


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"n": 0}, tr.ConfigError, "n must be"),
        ({"n": 1.5}, tr.ConfigError, "n must be"),
        ({"temperature": -0.1}, tr.ConfigError, "temperature"),
        ({"temperature": math.nan}, tr.ConfigError, "temperature"),
        ({"max_new_tokens": 0}, tr.ConfigError, "max_new_tokens"),
        ({"control": {"max_thinking": 3}}, tr.ConfigError, "ThinkingControl"),
        ({"seed": "0"}, tr.ConfigError, "seed"),
        ({"top_p": 0.0}, tr.ConfigError, "top_p"),
        ({"prompts": "one prompt"}, tr.DataError, "list of strings"),
        ({"prompts": ["ok", 3]}, tr.DataError, r"\[1\]"),
    ],
)
def test_bad_generate_arguments(
    tiny_lm: Any, tokenizer: Any, options: dict, error: type, match: str
) -> None:
    b = backend(tiny_lm, tokenizer)
    prompts = options.pop("prompts", [b.prompt("q")])
    with pytest.raises(error, match=match):
        b.generate(prompts, **options)


def test_bad_backend_settings(tiny_lm: Any, tokenizer: Any, tmp_path: Path) -> None:
    with pytest.raises(tr.ConfigError, match="batch_size"):
        backend(tiny_lm, tokenizer, batch_size=0)
    with pytest.raises(tr.ConfigError, match="dtype"):
        backend(tiny_lm, tokenizer, dtype="float99")
    with pytest.raises(tr.ConfigError, match="PreTrainedModel"):
        backend(object(), tokenizer)
    with pytest.raises(tr.ConfigError, match="special token"):
        backend(tiny_lm, tokenizer, format=tr.students.ThinkFormat("mine", "<t>", "</t>"))
    with pytest.raises(tr.UnknownPluginError):
        backend(tiny_lm, tokenizer, format="think-tagz")
    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    with pytest.raises(tr.DataError, match="chat template"):
        backend(tiny_lm, plain)
    with pytest.raises(tr.DataError, match=r"no model folder .*missing"):
        TransformersBackend(tmp_path / "missing")
    (tmp_path / "empty").mkdir()  # a folder without config.json: transformers' error, named
    with pytest.raises(tr.DataError, match="cannot load the model"):
        TransformersBackend(tmp_path / "empty")
