"""Continuation: s1's round loop over an engine, rule by rule.

``ModelEngine`` runs a model in process (the loopback server's decoding loop, no HTTP), with or
without returning token ids; ``Scripted`` replays canned results for what no model shows on
demand. The token-for-token comparison with s1's own loop is ``test_s1_reference.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import torch

import tinyreason as tr
from tinyreason.scaling.continuation import (
    CompletionEngine,
    CompletionRequest,
    CompletionResult,
    Continuation,
    EngineError,
    delimiters,
)
from tinyreason.testing.completions_server import SamplingOptions, complete

from .conftest import chain_table, random_table

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
                min_tokens=r.min_tokens,
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


def enc(tokenizer: Any, text: str) -> tuple[int, ...]:
    return tuple(tokenizer.encode(text, add_special_tokens=False))


def test_one_engine_call_per_round_for_every_sample_of_every_prompt(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    engine = ModelEngine(scripted(chain_table(5)), tokenizer)
    runner = Continuation(engine, tokenizer, think_tags)
    prompts = [think_tags.prompt(tokenizer, q) for q in ("a", "bb", "ccc")]
    control = C(max_thinking=30, waits=1)
    out = runner.generate(prompts, n=2, temperature=1.0, seed=0, control=control, max_new_tokens=40)
    assert [len(samples) for samples in out] == [2, 2, 2]
    # Round 1: think until the first stop; round 2: after "Wait", until the second; round 3: the
    # answer. All six samples advance together.
    assert [len(r) for r in engine.rounds] == [6, 6, 6]
    first, second, answer = engine.rounds
    d = delimiters(control, think_tags, tokenizer, [tokenizer.eos_token_id])
    assert {r.stop_token_ids for r in first} == {d.try_end}
    assert {r.stop for r in first} == {("</think>", "<|im_end|>")}
    # s1: every thinking round gets the whole budget and min_tokens=1; the answer gets the
    # generation budget, nothing banned, no minimum.
    assert {(r.max_tokens, r.min_tokens) for r in first + second} == {(30, 1)}
    assert {(r.max_tokens, r.min_tokens, r.banned_token_ids) for r in answer} == {(40, 0, ())}
    assert {r.stop_token_ids for r in answer} == {d.stop}
    assert len({r.seed for rnd in engine.rounds for r in rnd}) == 18  # a seed per request


def test_greedy_runs_each_prompt_once_and_repeats_it(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    engine = ModelEngine(scripted(chain_table(5)), tokenizer)
    runner = Continuation(engine, tokenizer, think_tags)
    prompt = think_tags.prompt(tokenizer, "q")
    [samples] = runner.generate([prompt], n=3, control=C(max_thinking=20), max_new_tokens=30)
    assert len(samples) == 3 and all(g is samples[0] for g in samples)
    assert [len(r) for r in engine.rounds] == [1, 1]
    assert all(r.seed is None and r.temperature == 0 for rnd in engine.rounds for r in rnd)


def test_counts_come_from_the_engine_not_from_re_tokenising(
    tokenizer: Any, think_tags: Any
) -> None:
    # The engine wrote "Wait" as three tokens (W, a, it); the local tokenizer would say two.
    assert len(enc(tokenizer, "Wait")) == 2
    engine = Scripted(
        CompletionResult("Wait", 3, "length"),  # 3 tokens: the budget
        CompletionResult("42", 3, "stop"),  # 2 tokens + the end of turn
    )
    runner = Continuation(engine, tokenizer, think_tags)
    prompt = think_tags.prompt(tokenizer, "q")
    [[g]] = runner.generate([prompt], control=C(max_thinking=3), max_new_tokens=10)
    # Without ids the thinking is the text re-encoded (2 tokens), cut at 3; the end is forced.
    assert g.forced_end and g.token_ids is None
    assert g.text == "Wait\n</think>\nFinal Answer:42" and g.answer_text == "Final Answer:42"
    # The second round continued from the prompt, the re-encoded text and the forced end.
    expected = enc(tokenizer, prompt) + enc(tokenizer, "Wait\n</think>\nFinal Answer:")
    assert engine.requests[1].prompt == expected


def test_a_stop_on_another_eos_stays_in_the_thinking(tokenizer: Any, think_tags: Any) -> None:
    # s1 strips only the ids of its stop strings (think_end's first token, the end of turn);
    # a round that ended on another EOS id keeps it, and the wait follows it.
    other = enc(tokenizer, "<|endoftext|>")
    assert len(other) == 1
    five, six = enc(tokenizer, "5"), enc(tokenizer, "6")
    engine = Scripted(
        CompletionResult("5", 2, "stop", (*five, *other)),
        CompletionResult("6", 2, "stop", (*six, tokenizer.eos_token_id)),
        CompletionResult("42", 3, "stop", (*enc(tokenizer, "42"), tokenizer.eos_token_id)),
    )
    runner = Continuation(engine, tokenizer, think_tags, extra_stop=other)
    prompt = think_tags.prompt(tokenizer, "q")
    [[g]] = runner.generate([prompt], control=C(max_thinking=20, waits=1), max_new_tokens=20)
    wait = enc(tokenizer, "Wait")
    assert g.token_ids == (
        *five,
        *other,
        *wait,
        *six,
        *enc(tokenizer, "</think>"),
        *enc(tokenizer, "42"),
        tokenizer.eos_token_id,
    )
    assert (g.thinking_tokens, g.answer_tokens, g.waits, g.forced_end) == (5, 2, 1, False)


def test_the_context_window_clips_every_request(tokenizer: Any, think_tags: Any) -> None:
    prompt = think_tags.prompt(tokenizer, "q")
    size = len(enc(tokenizer, prompt))
    engine = Scripted(CompletionResult("567", 3, "length", enc(tokenizer, "567")))
    runner = Continuation(engine, tokenizer, think_tags, context_window=size + 3)
    [[g]] = runner.generate([prompt], control=C(max_thinking=50), max_new_tokens=50)
    # Round 1 may only write 3 tokens; then the answer has no room and is not asked for.
    assert [r.max_tokens for r in engine.requests] == [3]
    assert g.forced_end and g.thinking_tokens == 3 and g.finish_reason == "length"
    # max_new_tokens=None is the whole window (s1's max_gen_toks = max_model_len), clipped.
    engine = Scripted(*[CompletionResult("", 0, "length", ())] * 3)
    runner = Continuation(engine, tokenizer, think_tags, context_window=size + 8)
    runner.generate([prompt], control=None)
    assert engine.requests[0].max_tokens == 8
    runner.context_window = size + 200
    runner.generate([prompt], control=C())  # "auto": the window less prompt, delimiters, 100
    lead = len(enc(tokenizer, "</think>\nFinal Answer:"))
    assert engine.requests[1].max_tokens == size + 200 - size - lead - 100
    with pytest.raises(tr.ConfigError, match="context window is unknown"):
        Continuation(Scripted(), tokenizer, think_tags).generate([prompt])


def test_auto_is_s1s_formula(tokenizer: Any, qwen_s1: Any) -> None:
    prompts = [qwen_s1.prompt(tokenizer, q) for q in ("a", "a much longer question here")]
    engine = Scripted(*[CompletionResult("", 0, "length", ())] * 4)
    runner = Continuation(engine, tokenizer, qwen_s1)
    runner.generate(prompts, control=C(), max_new_tokens=500)
    longest = max(len(enc(tokenizer, p)) for p in prompts)  # think_start included
    lead = len(enc(tokenizer, "<|im_start|>answer\nFinal Answer:"))
    assert {r.max_tokens for r in engine.requests[:2]} == {500 - longest - lead - 100}
    with pytest.raises(tr.ConfigError, match="max_thinking='auto' leaves"):
        runner.generate(prompts, control=C(), max_new_tokens=100)


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
        runner.generate([think_tags.prompt(tokenizer, "q")], max_new_tokens=8)


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
    control = C(max_thinking=4, waits=2, max_answer_tokens=3)

    def sample(seed: int) -> list[tr.Generation]:
        out = runner.generate(
            prompts, n=6, temperature=1.0, seed=seed, control=control, max_new_tokens=30
        )
        assert [len(s) for s in out] == [6, 6]
        return [g for samples in out for g in samples]

    generations = sample(0)
    assert sample(0) == generations and sample(1) != generations
    assert len({g.text for g in generations}) > 3
    for g in generations:
        # Digits and "Wait" re-tokenise one for one, so the text gives the counts back.
        assert g.thinking_tokens == len(enc(tokenizer, g.thinking)) <= 4
        assert g.waits == 2 or g.forced_end  # only a round that ran out ends before the waits
        answer = g.answer_text.removeprefix("Final Answer:")
        newline = 0 if g.forced_end else 1  # after a natural end the model writes "\n" first
        assert g.answer_tokens == len(enc(tokenizer, answer)) + newline <= 3
        assert g.answer_tokens == 3 or g.finish_reason == "stop"  # only a cut answer is "length"
    assert any(g.forced_end for g in generations) and not all(g.forced_end for g in generations)


def test_delimiters_are_s1s_texts(tokenizer: Any, qwen_s1: Any) -> None:
    control = C(max_thinking=4, waits=1)
    d = delimiters(control, qwen_s1, tokenizer, [tokenizer.eos_token_id])
    assert d.natural_end == enc(tokenizer, "<|im_start|>answer")  # no newline, no lead-in
    assert d.forced_end == enc(tokenizer, "<|im_start|>answer\nFinal Answer:")
    assert d.newline == enc(tokenizer, "\n") and d.wait == enc(tokenizer, "Wait")
    assert d.strip == (tokenizer.convert_tokens_to_ids("<|im_start|>"), tokenizer.eos_token_id)
    assert d.banned_in_answer == (tokenizer.convert_tokens_to_ids("<|im_start|>"),)
    bare = delimiters(C(max_thinking=4, final_answer_text=None), qwen_s1, tokenizer)
    assert bare.forced_end == enc(tokenizer, "<|im_start|>answer")
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
