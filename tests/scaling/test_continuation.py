"""Continuation: ThinkingControl by stop-and-continue, checked against the one-pass processor.

The engine here runs the model in process (the loopback server's decoding loop, no HTTP), with
or without returning token ids, so every rule of budget forcing is compared with
TransformersBackend on the same scripted models, where "tries to end" really happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch

import tinyreason as tr
from tinyreason.scaling import TransformersBackend
from tinyreason.scaling.continuation import (
    CompletionEngine,
    CompletionRequest,
    CompletionResult,
    Continuation,
    EngineError,
    delimiters,
)
from tinyreason.testing.completions_server import SamplingOptions, complete

from .conftest import chain_table, cycle_table, random_table

C = tr.ThinkingControl


class ModelEngine:
    """A CompletionEngine running a transformers model in process; records every round."""

    def __init__(self, model: Any, tokenizer: Any, *, token_ids: bool = True):
        self.model, self.tokenizer, self.token_ids = model, tokenizer, token_ids
        self.rounds: list[list[CompletionRequest]] = []

    def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        self.rounds.append(list(requests))
        results = []
        for r in requests:
            options = SamplingOptions(
                max_tokens=r.max_tokens,
                temperature=r.temperature,
                top_p=r.top_p,
                # Without ids the engine stops on text, as a server without stop_token_ids does.
                stop=() if self.token_ids else r.stop,
                stop_token_ids=r.stop_token_ids if self.token_ids else (),
                skip_special_tokens=False,
                logit_bias={t: -100.0 for t in r.banned_token_ids},
            )
            generator = torch.Generator().manual_seed(r.seed if r.seed is not None else 0)
            done = complete(
                self.model,
                self.tokenizer,
                list(r.prompt),
                options,
                eos_token_ids=[self.tokenizer.eos_token_id],
                generator=generator,
            )
            results.append(
                CompletionResult(
                    done.text,
                    len(done.token_ids),
                    done.finish_reason,
                    done.token_ids if self.token_ids else None,
                    done.stop_reason,
                )
            )
        return results


class Scripted:
    """An engine that replays canned results, for behaviour no real model shows on demand."""

    def __init__(self, *results: CompletionResult):
        self.results = list(results)
        self.requests: list[CompletionRequest] = []

    def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        self.requests.extend(requests)
        return [self.results.pop(0) for _ in requests]


def reference(model: Any, tokenizer: Any, fmt: str) -> TransformersBackend:
    return TransformersBackend(model, tokenizer=tokenizer, format=fmt, progress=False)


def enc(tokenizer: Any, text: str) -> tuple[int, ...]:
    return tuple(tokenizer.encode(text, add_special_tokens=False))


PARITY = [
    # (script, format, control, max_new_tokens)
    ("cycle", "think-tags", C(max_thinking=0), 40),
    ("cycle", "qwen-s1", C(max_thinking=7), 40),
    ("cycle", "think-tags", C(max_thinking=7, final_answer_text=None, max_answer_tokens=3), 40),
    ("chain", "think-tags", C(waits=2), 60),
    ("qwen-end", "qwen-s1", C(min_thinking=6), 60),
    ("chain", "think-tags", C(min_thinking=13), 60),
    ("chain", "think-tags", C(min_thinking=8, max_thinking=8), 60),
    ("chain", "think-tags", C(max_thinking=6, waits=1), 60),  # the budget cuts "Wait" short
    ("chain", "think-tags", C(max_answer_tokens=2), 60),  # a natural end on the peek
    ("chain", "think-tags", C(waits=1, max_answer_tokens=1), 60),  # an answer cut at 1
    ("eot", "think-tags", C(waits=1), 60),  # an end of turn while thinking tries to end
    ("qwen-end", "qwen-s1", C(waits=2, wait_text="Hmm, wait"), 60),  # a 7-token wait text
    ("qwen-end", "qwen-s1", None, 60),
    ("cycle", "think-tags", C(), 9),  # max_new_tokens runs out while thinking
    ("cycle", "think-tags", C(max_thinking=5), 7),  # ... inside the forced delimiter
    ("chain", "think-tags", C(waits=1), 8),  # ... inside the wait text
]

TABLES = {
    "chain": lambda: chain_table(5),
    "cycle": cycle_table,
    "eot": lambda: chain_table(5, "<|im_end|>"),
    "qwen-end": lambda: chain_table(5, "<|im_start|>"),
}


@pytest.mark.parametrize("token_ids", [True, False], ids=["ids", "text"])
@pytest.mark.parametrize(("script", "fmt", "control", "max_new_tokens"), PARITY)
def test_same_generations_as_the_one_pass_processor(
    scripted: Any,
    tokenizer: Any,
    script: str,
    fmt: str,
    control: tr.ThinkingControl | None,
    max_new_tokens: int,
    token_ids: bool,
) -> None:
    model = scripted(TABLES[script]())
    ref = reference(model, tokenizer, fmt)
    prompts = [ref.prompt("What is 6*7?"), ref.prompt("q")]
    expected = ref.generate(prompts, control=control, max_new_tokens=max_new_tokens)
    runner = Continuation(ModelEngine(model, tokenizer, token_ids=token_ids), tokenizer, ref.format)
    assert runner.generate(prompts, control=control, max_new_tokens=max_new_tokens) == expected


def test_every_max_new_tokens_boundary_matches(scripted: Any, tokenizer: Any) -> None:
    # Running out of tokens inside the thinking, the wait, the delimiter, the lead-in, the answer.
    model = scripted(chain_table(5))
    ref = reference(model, tokenizer, "qwen-s1")
    runner = Continuation(ModelEngine(model, tokenizer), tokenizer, ref.format)
    prompts = [ref.prompt("q")]
    control = C(max_thinking=9, waits=1, max_answer_tokens=3)
    for limit in range(1, 26):
        expected = ref.generate(prompts, control=control, max_new_tokens=limit)
        assert runner.generate(prompts, control=control, max_new_tokens=limit) == expected, limit


def test_the_tiny_model_gives_the_same_generations(tiny_lm: Any, tokenizer: Any) -> None:
    for fmt in ("think-tags", "qwen-s1"):
        ref = reference(tiny_lm, tokenizer, fmt)
        runner = Continuation(ModelEngine(tiny_lm, tokenizer), tokenizer, ref.format)
        prompts = [ref.prompt("What is 6*7?"), ref.prompt("Solve 2x + 3 = 11.")]
        for control in (None, C(max_thinking=6, max_answer_tokens=5)):
            expected = ref.generate(prompts, control=control, max_new_tokens=24)
            assert runner.generate(prompts, control=control, max_new_tokens=24) == expected


def test_one_engine_call_per_round_for_every_sample_of_every_prompt(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    engine = ModelEngine(scripted(chain_table(5)), tokenizer)
    runner = Continuation(engine, tokenizer, think_tags)
    prompts = [think_tags.prompt(tokenizer, q) for q in ("a", "bb", "ccc")]
    out = runner.generate(prompts, n=2, temperature=1.0, seed=0, control=C(waits=1))
    assert [len(samples) for samples in out] == [2, 2, 2]
    # Round 1: think until the first attempt to end; round 2: after "Wait", until the second;
    # round 3: the answer. All six samples advance together.
    assert [len(r) for r in engine.rounds] == [6, 6, 6]
    first, _, answer = engine.rounds
    d = delimiters(C(waits=1), think_tags, tokenizer, [tokenizer.eos_token_id])
    assert {r.stop_token_ids for r in first} == {d.try_end}
    assert {r.banned_token_ids for r in answer} == {d.banned_in_answer}
    assert {r.stop for r in first} == {("</think>", "<|im_end|>")}
    assert len({r.seed for rnd in engine.rounds for r in rnd}) == 18  # a seed per request


def test_greedy_runs_each_prompt_once_and_repeats_it(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    engine = ModelEngine(scripted(chain_table(5)), tokenizer)
    runner = Continuation(engine, tokenizer, think_tags)
    [samples] = runner.generate([think_tags.prompt(tokenizer, "q")], n=3, control=C())
    assert len(samples) == 3 and all(g is samples[0] for g in samples)
    assert [len(r) for r in engine.rounds] == [1, 1]
    assert all(r.seed is None and r.temperature == 0 for rnd in engine.rounds for r in rnd)


def test_counts_come_from_the_engine_not_from_re_tokenising(
    tokenizer: Any, think_tags: Any
) -> None:
    # The engine wrote "Wait" as three tokens (W, a, it); the local tokenizer would say two.
    assert len(enc(tokenizer, "Wait")) == 2
    engine = Scripted(
        CompletionResult("Wait", 4, "stop"),  # 3 tokens + the </think> that tried to end
        CompletionResult("42", 3, "stop"),  # 2 tokens + the end of turn
    )
    runner = Continuation(engine, tokenizer, think_tags)
    [[g]] = runner.generate([think_tags.prompt(tokenizer, "q")], control=C())
    assert (g.thinking_tokens, g.answer_tokens, g.finish_reason) == (3, 2, "stop")
    assert g.text == "Wait</think>\n\n42" and (g.thinking, g.answer_text) == ("Wait", "42")
    # The second round continued from the prompt, the re-encoded text and the delimiter.
    prompt = enc(tokenizer, think_tags.prompt(tokenizer, "q"))
    assert engine.requests[1].prompt == prompt + enc(tokenizer, "Wait</think>\n\n")


def test_a_stop_string_spelled_by_plain_tokens_is_not_an_attempt_to_end(
    tokenizer: Any, think_tags: Any
) -> None:
    # "</think>" written as the plain tokens <, /, think, > matches the stop string, but is
    # not the special token that tries to end: thinking goes on, as it does in the processor.
    plain = enc(tokenizer, "5") + enc(tokenizer, "</") + enc(tokenizer, "think>")
    eot = tokenizer.eos_token_id
    engine = Scripted(
        CompletionResult("5", len(plain), "stop", plain, stop_reason="</think>"),
        CompletionResult("6", 2, "stop", (*enc(tokenizer, "6"), eot), stop_reason=eot),
        CompletionResult("42", 3, "stop", (*enc(tokenizer, "42"), eot), stop_reason=None),
    )
    runner = Continuation(engine, tokenizer, think_tags)
    [[g]] = runner.generate([think_tags.prompt(tokenizer, "q")], control=C())
    assert g.text == "5</think>6</think>\n\n42"
    assert (g.thinking_tokens, g.answer_tokens, g.waits) == (len(plain) + 1, 2, 0)
    assert engine.requests[1].prompt[-len(plain) :] == plain  # kept, and continued


def test_a_full_context_window_ends_the_sample(tokenizer: Any, think_tags: Any) -> None:
    engine = Scripted(CompletionResult("567", 3, "length", enc(tokenizer, "567")))
    runner = Continuation(engine, tokenizer, think_tags)
    [[g]] = runner.generate([think_tags.prompt(tokenizer, "q")], control=C(), max_new_tokens=50)
    assert (g.text, g.thinking_tokens, g.finish_reason) == ("567", 3, "length")
    assert len(engine.requests) == 1


@pytest.mark.parametrize(
    ("results", "match"),
    [
        ([], "returned 0 results for 1"),
        ([CompletionResult("x", 1, "stop"), CompletionResult("y", 1, "stop")], "2 results for 1"),
    ],
)
def test_an_engine_that_answers_the_wrong_number_of_results(
    tokenizer: Any, think_tags: Any, results: list, match: str
) -> None:
    class Wrong:
        def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
            return results

    runner = Continuation(Wrong(), tokenizer, think_tags)
    with pytest.raises(EngineError, match=match):
        runner.generate([think_tags.prompt(tokenizer, "q")])


def test_results_are_checked() -> None:
    with pytest.raises(EngineError, match="'abort'"):
        CompletionResult("", 0, "abort")
    with pytest.raises(EngineError, match="3 token ids but counted 2"):
        CompletionResult("", 2, "stop", (1, 2, 3))
    with pytest.raises(EngineError, match="-1"):
        CompletionResult("", -1, "length")
    assert isinstance(Scripted(), CompletionEngine)


def test_sampled_samples_follow_the_rules_and_reproduce(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    runner = Continuation(ModelEngine(scripted(random_table()), tokenizer), tokenizer, think_tags)
    prompts = [think_tags.prompt(tokenizer, q) for q in ("a", "b")]
    control = C(max_thinking=9, waits=2, max_answer_tokens=3)

    def sample(seed: int) -> list[tr.Generation]:
        out = runner.generate(prompts, n=6, temperature=1.0, seed=seed, control=control)
        assert [len(s) for s in out] == [6, 6]
        return [g for samples in out for g in samples]

    generations = sample(0)
    assert sample(0) == generations and sample(1) != generations
    assert len({g.text for g in generations}) > 3
    for g in generations:
        # Digits and "Wait" re-tokenise one for one, so the text gives the counts back.
        assert g.thinking_tokens == len(enc(tokenizer, g.thinking))
        assert g.forced_end == (g.thinking_tokens == 9)
        assert g.waits == 2 or g.forced_end
        answer = g.answer_text.removeprefix("Final Answer:")
        assert g.answer_tokens == len(enc(tokenizer, answer)) <= 3
        assert g.answer_tokens == 3 or g.finish_reason == "stop"  # only a cut answer is "length"
    assert any(g.forced_end for g in generations) and not all(g.forced_end for g in generations)


def test_delimiters_match_the_processor_ids(tokenizer: Any, qwen_s1: Any) -> None:
    from tinyreason.scaling.processor import control_ids

    control = C(max_thinking=4, waits=1)
    ours = delimiters(control, qwen_s1, tokenizer, [tokenizer.eos_token_id])
    theirs = control_ids(control, qwen_s1, tokenizer, [tokenizer.eos_token_id])
    for name in ("think_start", "think_end", "end_of_turn", "stop", "wait", "natural_end"):
        assert getattr(ours, name) == getattr(theirs, name), name
    assert (
        ours.forced_end == theirs.forced_end == enc(tokenizer, qwen_s1.forced_end("Final Answer:"))
    )
    assert ours.banned_in_answer == (tokenizer.convert_tokens_to_ids("<|im_start|>"),)
    with pytest.raises(tr.ConfigError, match="special token"):
        delimiters(control, tr.students.ThinkFormat("bad", "<t>", "</t>"), tokenizer)


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"n": 0}, tr.ConfigError, "n must be"),
        ({"temperature": -0.5}, tr.ConfigError, "temperature"),
        ({"max_new_tokens": 0}, tr.ConfigError, "max_new_tokens"),
        ({"top_p": 1.5}, tr.ConfigError, "top_p"),
        ({"seed": 1.5}, tr.ConfigError, "seed"),
        ({"control": 5}, tr.ConfigError, "ThinkingControl"),
        ({"prompts": "one"}, tr.DataError, "list of strings"),
    ],
)
def test_bad_arguments(
    tokenizer: Any, think_tags: Any, options: dict, error: type, match: str
) -> None:
    runner = Continuation(Scripted(), tokenizer, think_tags)
    prompts = options.pop("prompts", [think_tags.prompt(tokenizer, "q")])
    with pytest.raises(error, match=match):
        runner.generate(prompts, **options)
    assert runner.generate([]) == []
