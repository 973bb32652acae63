"""ThinkingProcessor: s1's budget forcing inside one generate() call, checked token by token."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from transformers import LogitsProcessorList

import tinyreason as tr
from tinyreason.scaling.processor import ControlIds, ThinkingProcessor, control_ids

from .conftest import chain_table, cycle_table, random_table


def run(
    model: Any,
    tokenizer: Any,
    fmt: Any,
    control: tr.ThinkingControl | None,
    *,
    rows: int = 1,
    temperature: float = 0.0,
    seed: int | None = None,
    max_new_tokens: int = 60,
) -> tuple[list[list[int]], ThinkingProcessor, ControlIds]:
    ids = control_ids(control, fmt, tokenizer, extra_stop=[tokenizer.eos_token_id])
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    proc = ThinkingProcessor(control, ids, temperature=temperature, generator=generator)
    prompt = tokenizer.encode(fmt.prompt(tokenizer, "What is 6*7?"), add_special_tokens=False)
    input_ids = torch.tensor([prompt] * rows)
    out = model.generate(
        input_ids=input_ids,
        attention_mask=torch.ones_like(input_ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=list(ids.stop),
        pad_token_id=tokenizer.pad_token_id,
        logits_processor=LogitsProcessorList([proc]),
    )
    return out[:, input_ids.shape[1] :].tolist(), proc, ids


def enc(tokenizer: Any, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


@pytest.mark.parametrize("fmt_name", ["think-tags", "qwen-s1"])
@pytest.mark.parametrize("budget", [0, 1, 3, 12])
def test_max_thinking_gives_exactly_that_many_tokens_then_the_forced_end(
    scripted: Any, tokenizer: Any, fmt_name: str, budget: int
) -> None:
    fmt = tr.student(fmt_name)
    control = tr.ThinkingControl(max_thinking=budget)
    [gen], proc, ids = run(scripted(cycle_table()), tokenizer, fmt, control)
    forced = enc(tokenizer, fmt.forced_end("Final Answer:"))
    assert tuple(forced) == ids.forced_end
    assert gen[:budget] == enc(tokenizer, ("56789" * 3)[:budget])
    assert gen[budget : budget + len(forced)] == forced
    assert gen[budget + len(forced) :] == [*enc(tokenizer, "42"), tokenizer.eos_token_id]
    [stats] = proc.stats(len(gen))
    assert (stats.thinking_tokens, stats.answer_tokens, stats.waits) == (budget, 2, 0)
    assert stats.forced_end and stats.finished and not stats.answer_cut
    assert stats.length == len(gen)


@pytest.mark.parametrize("fmt_name", ["think-tags", "qwen-s1"])
@pytest.mark.parametrize("waits", [0, 1, 2, 3])
def test_waits_replace_each_attempt_to_end_with_the_wait_text(
    scripted: Any, tokenizer: Any, fmt_name: str, waits: int
) -> None:
    fmt = tr.student(fmt_name)
    end = fmt.tokens(tokenizer).think_end[0]
    table = chain_table(5, tokenizer.convert_ids_to_tokens(end))
    [gen], proc, _ = run(scripted(table), tokenizer, fmt, tr.ThinkingControl(waits=waits))
    thinking = "Wait".join(["56789"] * (waits + 1))
    expected = enc(tokenizer, thinking) + enc(tokenizer, fmt.natural_end()) + enc(tokenizer, "42")
    assert gen == [*expected, tokenizer.eos_token_id]
    [stats] = proc.stats()
    assert stats.thinking_tokens == len(enc(tokenizer, thinking)) == 5 * (waits + 1) + 2 * waits
    assert (stats.waits, stats.answer_tokens, stats.forced_end) == (waits, 2, False)


@pytest.mark.parametrize(
    ("min_thinking", "thinking", "waits"),
    [(0, 5, 0), (5, 5, 0), (6, 12, 1), (12, 12, 1), (13, 19, 2)],
)
def test_min_thinking_extends_until_reached(
    scripted: Any, tokenizer: Any, think_tags: Any, min_thinking: int, thinking: int, waits: int
) -> None:
    control = tr.ThinkingControl(min_thinking=min_thinking)
    [gen], proc, _ = run(scripted(chain_table(5)), tokenizer, think_tags, control)
    [stats] = proc.stats()
    assert (stats.thinking_tokens, stats.waits) == (thinking, waits)
    assert gen[:thinking] == enc(tokenizer, "Wait".join(["56789"] * (waits + 1)))
    assert gen[thinking] == think_tags.tokens(tokenizer).think_end[0]


def test_an_end_of_turn_while_thinking_is_an_attempt_to_end(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    table = chain_table(5, "<|im_end|>")
    [gen], proc, _ = run(scripted(table), tokenizer, think_tags, tr.ThinkingControl(waits=1))
    # First attempt: Wait. Second: allowed, and the end of turn becomes the full delimiter.
    expected = enc(tokenizer, "56789Wait56789") + enc(tokenizer, "</think>\n\n42")
    assert gen == [*expected, tokenizer.eos_token_id]
    assert proc.stats()[0].thinking_tokens == 12


def test_the_budget_cuts_a_wait_text_short(scripted: Any, tokenizer: Any, think_tags: Any) -> None:
    control = tr.ThinkingControl(max_thinking=6, waits=1)
    [gen], proc, _ = run(scripted(chain_table(5)), tokenizer, think_tags, control)
    assert gen[:6] == enc(tokenizer, "56789") + enc(tokenizer, "Wait")[:1]
    assert gen[6:8] == enc(tokenizer, "\n</think>")
    [stats] = proc.stats()
    assert (stats.thinking_tokens, stats.waits, stats.forced_end) == (6, 1, True)


def test_min_equal_to_max_forces_the_end_at_the_budget(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    control = tr.ThinkingControl(min_thinking=8, max_thinking=8)
    _, proc, _ = run(scripted(chain_table(5)), tokenizer, think_tags, control)
    [stats] = proc.stats()
    assert (stats.thinking_tokens, stats.waits, stats.forced_end) == (8, 1, True)


def test_no_final_answer_text(scripted: Any, tokenizer: Any, qwen_s1: Any) -> None:
    control = tr.ThinkingControl(max_thinking=2, final_answer_text=None)
    [gen], proc, _ = run(scripted(cycle_table()), tokenizer, qwen_s1, control)
    assert gen == [*enc(tokenizer, "56\n<|im_start|>answer\n42"), tokenizer.eos_token_id]
    assert proc.stats()[0].answer_tokens == 2


@pytest.mark.parametrize("fmt_name", ["think-tags", "qwen-s1"])
def test_the_answer_cannot_reopen_thinking_and_stops_at_its_budget(
    scripted: Any, tokenizer: Any, fmt_name: str
) -> None:
    fmt = tr.student(fmt_name)
    tokens = fmt.tokens(tokenizer)
    start = tokenizer.convert_ids_to_tokens(tokens.think_start[0])
    end = tokenizer.convert_ids_to_tokens(tokens.think_end[0])
    # The script's answer would rather reopen or re-close thinking than write digits.
    answer = {
        "4": {start: 40.0, end: 39.0, "2": 20.0},
        "2": {end: 40.0, start: 39.0, "4": 20.0},
    }
    control = tr.ThinkingControl(max_answer_tokens=5)
    [gen], proc, _ = run(scripted(chain_table(3, end, answer=answer)), tokenizer, fmt, control)
    natural = enc(tokenizer, fmt.natural_end())
    assert gen == [
        *enc(tokenizer, "567"),
        *natural,
        *enc(tokenizer, "42424"),
        tokenizer.eos_token_id,
    ]
    [stats] = proc.stats()
    assert (stats.answer_tokens, stats.answer_cut, stats.finished) == (5, True, True)


def test_a_natural_end_on_the_last_answer_token_is_not_a_cut(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    control = tr.ThinkingControl(max_answer_tokens=2)
    _, proc, _ = run(scripted(chain_table(5)), tokenizer, think_tags, control)
    [stats] = proc.stats()
    assert (stats.answer_tokens, stats.answer_cut, stats.finished) == (2, False, True)


def test_running_out_of_tokens_while_thinking(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    control = tr.ThinkingControl(max_thinking=None)
    [gen], proc, _ = run(scripted(cycle_table()), tokenizer, think_tags, control, max_new_tokens=9)
    [stats] = proc.stats(len(gen))
    assert (stats.thinking_tokens, stats.answer_tokens, stats.finished, stats.length) == (
        9,
        0,
        False,
        9,
    )


def test_sampled_rows_follow_the_rules_exactly(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    control = tr.ThinkingControl(max_thinking=9, waits=2, max_answer_tokens=3)
    model = scripted(random_table())
    gens, proc, ids = run(
        model, tokenizer, think_tags, control, rows=12, temperature=1.0, seed=0, max_new_tokens=40
    )
    wait = list(ids.wait)
    stats = proc.stats(len(gens[0]))
    assert len({tuple(g) for g in gens}) > 3, "sampling should give different rows"
    for gen, s in zip(gens, stats, strict=True):
        thinking = gen[: s.thinking_tokens]
        assert not set(thinking) & {ids.think_end[0], *ids.stop}
        waits = sum(thinking[i : i + 2] == wait for i in range(len(thinking)))
        delimiter = ids.forced_end if s.forced_end else ids.natural_end
        if s.forced_end:
            assert s.thinking_tokens == 9
            assert s.waits >= waits  # the last wait may be cut short by the budget
        else:
            assert s.waits == waits == 2  # every allowed wait was spent before a natural end
        start = s.thinking_tokens + len(delimiter)
        assert tuple(gen[s.thinking_tokens : start]) == delimiter
        answer = gen[start : start + s.answer_tokens]
        assert not set(answer) & {*ids.think_start, *ids.think_end, *ids.stop}
        assert s.answer_tokens <= 3 and s.finished
        assert gen[start + s.answer_tokens] == tokenizer.eos_token_id
        assert s.length == start + s.answer_tokens + 1
    assert any(s.forced_end for s in stats) and not all(s.forced_end for s in stats)


def test_sampling_is_reproducible_with_a_seed(
    tiny_lm: Any, tokenizer: Any, think_tags: Any
) -> None:
    control = tr.ThinkingControl(max_thinking=10, max_answer_tokens=4)

    def sample(seed: int) -> list[list[int]]:
        return run(tiny_lm, tokenizer, think_tags, control, rows=3, temperature=1.0, seed=seed)[0]

    assert sample(0) == sample(0)
    assert sample(0) != sample(1)


def test_greedy_without_events_leaves_generation_unchanged(
    tiny_lm: Any, tokenizer: Any, think_tags: Any
) -> None:
    [gen], proc, _ = run(tiny_lm, tokenizer, think_tags, tr.ThinkingControl(), max_new_tokens=20)
    prompt = enc(tokenizer, think_tags.prompt(tokenizer, "What is 6*7?"))
    plain = tiny_lm.generate(torch.tensor([prompt]), max_new_tokens=20, do_sample=False)
    assert gen == plain[0, len(prompt) :].tolist()
    assert proc.stats()[0].thinking_tokens == 20


def test_the_sampler_draws_from_softmax_of_scores_over_temperature(
    tokenizer: Any, think_tags: Any
) -> None:
    ids = control_ids(None, think_tags, tokenizer)
    proc = ThinkingProcessor(None, ids, temperature=0.5, generator=torch.Generator().manual_seed(0))
    # p ∝ exp(logit / 0.5): logits (0, ln 2) give 1/5 and 4/5; -inf is never drawn.
    scores = torch.tensor([[0.0, float(torch.log(torch.tensor(2.0))), float("-inf")]]).repeat(
        4000, 1
    )
    picks = proc._sample(scores.clone())
    assert 2 not in picks.tolist()
    assert abs(picks.float().mean().item() - 0.8) < 0.03
    nucleus = ThinkingProcessor(None, ids, temperature=1.0, top_p=0.6)
    nucleus._start(torch.zeros(4000, 1, dtype=torch.long), scores)
    probs = torch.tensor([[0.5, 0.3, 0.2]]).log().repeat(4000, 1)
    assert set(nucleus._sample(probs).tolist()) == {0, 1}


def test_a_processor_serves_one_generate_call(
    scripted: Any, tokenizer: Any, think_tags: Any
) -> None:
    control = tr.ThinkingControl(max_thinking=4)
    model = scripted(cycle_table())
    _, proc, _ = run(model, tokenizer, think_tags, control)
    prompt = torch.tensor([enc(tokenizer, think_tags.prompt(tokenizer, "again"))])
    with pytest.raises(tr.ConfigError, match="new processor for each call"):
        model.generate(prompt, max_new_tokens=5, logits_processor=LogitsProcessorList([proc]))


def test_bad_settings_raise(tokenizer: Any, think_tags: Any) -> None:
    control = tr.ThinkingControl(waits=1)
    ids = control_ids(control, think_tags, tokenizer)
    with pytest.raises(tr.ConfigError) as err:
        ThinkingProcessor(control, ids, temperature=-1.0, top_p=0.0)
    assert len(err.value.problems) == 2
    with pytest.raises(tr.ConfigError, match="control_ids"):
        ThinkingProcessor(control, control_ids(None, think_tags, tokenizer))
    with pytest.raises(tr.ConfigError, match="never called"):
        ThinkingProcessor(control, ids).stats()
    with pytest.raises(tr.ConfigError, match="counts nothing"):
        ThinkingProcessor(None, ids).stats()
    bad = tr.students.ThinkFormat("bad", "<t>", "</t>")
    with pytest.raises(tr.ConfigError, match="special token"):
        control_ids(control, bad, tokenizer)
