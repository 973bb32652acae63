"""The reference test: every backend writes s1's token ids, control by control.

``s1_reference`` below is written from s1's own evaluation code (the lm-evaluation-harness fork's
``vllm_causallms.py::_model_generate`` at s1 @77272c6), not from tinyreason's: a plain loop over a
``transformers`` model, one prompt at a time, driving ``model.generate`` the way the fork drives
vLLM (generate, strip the stop, append the ignore string, regenerate; cut to the budget; append
the end the last round's finish calls for; answer). With ``remaining=True`` it follows the README's
``generate.py`` bookkeeping instead (each round gets the budget the earlier rounds left).

Each backend must return, greedy, exactly the reference's ids for the whole generation (thinking,
appended end, answer and the token that ended it). Differences are bugs.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import pytest
import torch

import tinyreason as tr
from tinyreason.scaling import OpenAIServerBackend, TransformersBackend
from tinyreason.scaling.continuation import Continuation
from tinyreason.testing import CompletionsServer

from .conftest import THINK_DIGITS, chain_table, cycle_table
from .test_continuation import ModelEngine


def enc(tokenizer: Any, text: str) -> list[int]:
    return tokenizer.encode(text, add_special_tokens=False)


def s1_reference(
    model: Any,
    tokenizer: Any,
    fmt: Any,
    questions: Sequence[str],
    *,
    max_gen_toks: int,
    max_tokens_thinking: int | str | None = None,
    thinking_n_ignore: int | None = None,
    thinking_n_ignore_str: str = "Wait",
    min_tokens_thinking: int | None = None,
    final_answer: str = "Final Answer:",
    remaining: bool = False,
) -> list[list[int]]:
    """s1's budget forcing for each question, greedy; returns the generated ids of each."""
    eot = tokenizer.convert_tokens_to_ids(fmt.eot(tokenizer))
    config_eos = model.generation_config.eos_token_id
    config_eos = [config_eos] if isinstance(config_eos, int) else list(config_eos or [])
    thinking_start, thinking_end = fmt.think_start, fmt.think_end
    # until_thinking = [think_end's first token] + the task's until (lm-eval adds the EOS text).
    until_thinking_tok = [enc(tokenizer, thinking_end)[:1], [eot]]
    start_tok = enc(tokenizer, thinking_start)
    end_tok = enc(tokenizer, thinking_end)
    end_max = thinking_end + "\n" + final_answer if final_answer else thinking_end
    end_max_tok = enc(tokenizer, end_max)
    newline_tok = enc(tokenizer, "\n")
    requests = [enc(tokenizer, fmt.chat_prompt(tokenizer, q)) for q in questions]
    if max_tokens_thinking == "auto":
        auto_end = enc(tokenizer, thinking_end + "\nFinal Answer:")
        limit = max_gen_toks - max(len(r) for r in requests) - len(start_tok) - len(auto_end) - 100
    elif max_tokens_thinking is None:
        limit = max_gen_toks
    else:
        limit = int(max_tokens_thinking)
    if thinking_n_ignore is not None:
        min_tokens = 1
    else:
        min_tokens = min_tokens_thinking or 0
    stop_ids = [t[0] for t in until_thinking_tok] + config_eos

    def generate(ids: list[int], max_tokens: int, min_new: int, stop: list[int]) -> tuple:
        with torch.no_grad():
            out = model.generate(
                input_ids=torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=max_tokens,
                min_new_tokens=min_new or None,
                eos_token_id=stop,
                pad_token_id=eot,
                do_sample=False,
            )
        new = out[0, len(ids) :].tolist()
        finish = "stop" if new and new[-1] in stop else "length"
        text = tokenizer.decode(new[:-1] if finish == "stop" else new, skip_special_tokens=True)
        return new, finish, text

    def strip(cont: list[int]) -> list[int]:
        for toks in until_thinking_tok:
            if cont[-len(toks) :] == toks:
                cont = cont[: -len(toks)]
        return cont

    results = []
    for request in requests:
        request = request + start_tok
        rounds = (thinking_n_ignore or 0) + 1
        thinking: list[int] = []
        text = ""
        left = limit
        for i in range(rounds):
            cont, finish, piece = generate(
                request + thinking, left if remaining else limit, min_tokens, stop_ids
            )
            text += piece
            left -= len(cont)
            if finish == "length" or i == rounds - 1 or (remaining and left <= 0):
                thinking += cont
                break
            thinking += strip(cont) + enc(tokenizer, thinking_n_ignore_str)
            text += thinking_n_ignore_str
        cut = strip(thinking[:limit])
        if finish == "length":
            end = end_max_tok if text.endswith("\n") else newline_tok + end_max_tok
        else:
            end = end_tok
        prefix = request + cut + end
        answer, _, _ = generate(prefix, max_gen_toks, 0, [eot, *config_eos])
        results.append(cut + end + answer)
    return results


def newline_table() -> dict[str, dict[str, float]]:
    """Thinks ``5 6 \\n`` forever, so a cut can fall just after or before a newline."""
    table = chain_table(5)
    for start in ("<think>", "think", "it"):
        table[start] = {"5": 30.0}
    table["5"] = {"6": 30.0}
    table["6"] = {"Ċ": 30.0}
    table["Ċ"] = {"5": 30.0}
    return table


TABLES = {
    "chain": lambda: chain_table(5),
    "qwen-end": lambda: chain_table(5, "<|im_start|>"),
    "eot": lambda: chain_table(5, "<|im_end|>"),
    "cycle": cycle_table,
    "newline": newline_table,
}

# (model, format, reference kwargs, max_gen_toks). Each becomes a ThinkingControl by `control()`.
GRID = [
    ("chain", "think-tags", {"max_tokens_thinking": "auto"}, 200),
    ("chain", "think-tags", {}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 3}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 5}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 6}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 8, "thinking_n_ignore": 1}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 20, "thinking_n_ignore": 1}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 20, "thinking_n_ignore": 2}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 10, "thinking_n_ignore": 2}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 50, "thinking_n_ignore": 4}, 80),
    ("chain", "think-tags", {"max_tokens_thinking": 60, "thinking_n_ignore": 6}, 120),
    ("chain", "think-tags", {"max_tokens_thinking": 4, "thinking_n_ignore": 1}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": "auto", "thinking_n_ignore": 2}, 200),
    ("chain", "think-tags", {"max_tokens_thinking": 20, "min_tokens_thinking": 8}, 60),
    ("chain", "think-tags", {"max_tokens_thinking": 20, "min_tokens_thinking": 3}, 60),
    (
        "chain",
        "think-tags",
        {"max_tokens_thinking": 20, "thinking_n_ignore": 2, "thinking_n_ignore_str": "Hmm"},
        60,
    ),
    ("chain", "think-tags", {"max_tokens_thinking": 3, "final_answer": ""}, 60),
    (
        "chain",
        "think-tags",
        {"max_tokens_thinking": 14, "thinking_n_ignore": 2, "remaining": True},
        60,
    ),
    (
        "chain",
        "think-tags",
        {"max_tokens_thinking": 9, "thinking_n_ignore": 3, "remaining": True},
        60,
    ),
    ("qwen-end", "qwen-s1", {"max_tokens_thinking": "auto"}, 200),
    ("qwen-end", "qwen-s1", {"max_tokens_thinking": 3}, 60),
    ("qwen-end", "qwen-s1", {"max_tokens_thinking": 8, "thinking_n_ignore": 1}, 60),
    ("qwen-end", "qwen-s1", {"max_tokens_thinking": 30, "thinking_n_ignore": 2}, 80),
    ("qwen-end", "qwen-s1", {"max_tokens_thinking": 20, "min_tokens_thinking": 7}, 60),
    (
        "qwen-end",
        "qwen-s1",
        {"max_tokens_thinking": 30, "thinking_n_ignore": 1, "thinking_n_ignore_str": "Hmm, wait"},
        80,
    ),
    (
        "qwen-end",
        "qwen-s1",
        {"max_tokens_thinking": 16, "thinking_n_ignore": 3, "remaining": True},
        60,
    ),
    ("eot", "think-tags", {"max_tokens_thinking": 20}, 60),
    ("eot", "think-tags", {"max_tokens_thinking": 20, "thinking_n_ignore": 1}, 60),
    ("cycle", "think-tags", {"max_tokens_thinking": 7}, 40),
    ("cycle", "qwen-s1", {"max_tokens_thinking": 7, "thinking_n_ignore": 3}, 40),
    ("cycle", "think-tags", {}, 20),
    ("newline", "think-tags", {"max_tokens_thinking": 3}, 40),
    ("newline", "think-tags", {"max_tokens_thinking": 4}, 40),
    ("newline", "qwen-s1", {"max_tokens_thinking": 6, "thinking_n_ignore": 1}, 40),
    ("tiny", "qwen-s1", {"max_tokens_thinking": 16}, 40),
    ("tiny", "think-tags", {"max_tokens_thinking": 16, "thinking_n_ignore": 2}, 40),
    ("tiny", "qwen-s1", {"max_tokens_thinking": "auto"}, 140),
]


def control(kwargs: dict[str, Any]) -> tr.ThinkingControl:
    """The tinyreason control that means the same as the reference's keyword arguments."""
    final = kwargs.get("final_answer", "Final Answer:")
    return tr.ThinkingControl(
        max_thinking=kwargs.get("max_tokens_thinking"),
        waits=kwargs.get("thinking_n_ignore") or 0,
        wait_text=kwargs.get("thinking_n_ignore_str", "Wait"),
        min_thinking=kwargs.get("min_tokens_thinking") or 0,
        round_budget="remaining" if kwargs.get("remaining") else "whole",
        final_answer_text=final or None,
    )


QUESTIONS = ["What is 6*7?", "q"]


def test_the_grid_has_at_least_thirty_controls() -> None:
    assert len(GRID) >= 30
    assert {fmt for _, fmt, _, _ in GRID} == {"think-tags", "qwen-s1"}  # one- and two-token ends
    waits = {kw.get("thinking_n_ignore", 0) for _, _, kw, _ in GRID}
    assert set(range(0, 7)) - waits <= {3, 5}  # waits 0-6
    assert any(kw.get("max_tokens_thinking") == "auto" for _, _, kw, _ in GRID)


def backend_ids(
    kind: str, model: Any, tokenizer: Any, fmt: str, kwargs: dict[str, Any], max_gen_toks: int
) -> list[list[int]]:
    """Generate the grid case with one backend; the generated ids of each question."""
    options = {"control": control(kwargs), "max_new_tokens": max_gen_toks}
    if kind == "transformers":
        backend = TransformersBackend(model, tokenizer=tokenizer, format=fmt, progress=False)
        got = backend.generate([backend.prompt(q) for q in QUESTIONS], **options)
    elif kind == "server-loop":  # the round driver over the loopback server's decoder, no HTTP
        fmt_obj = tr.chat_format(fmt)
        runner = Continuation(ModelEngine(model, tokenizer), tokenizer, fmt_obj)
        got = runner.generate([fmt_obj.prompt(tokenizer, q) for q in QUESTIONS], **options)
    else:  # "openai-server", over real HTTP
        with CompletionsServer(model, tokenizer) as server:
            backend = OpenAIServerBackend(
                server.base_url, "tiny", tokenizer, format=fmt, progress=False, max_retries=0
            )
            got = backend.generate([backend.prompt(q) for q in QUESTIONS], **options)
    return [list(g.token_ids or ()) for [g] in got]


# Over real HTTP a few cases suffice: the driver is the one above, the wire is what is new.
HTTP = [GRID[i] for i in (0, 7, 13, 17, 21, 26, 31, 34)]
CASES = [
    pytest.param(kind, *case, id=f"{kind}-{i}")
    for kind, grid in (("transformers", GRID), ("server-loop", GRID), ("openai-server", HTTP))
    for i, case in enumerate(grid)
]


@pytest.mark.parametrize(("kind", "script", "fmt", "kwargs", "max_gen_toks"), CASES)
def test_every_backend_writes_s1s_ids(
    scripted: Any,
    tiny_lm: Any,
    tokenizer: Any,
    kind: str,
    script: str,
    fmt: str,
    kwargs: dict[str, Any],
    max_gen_toks: int,
) -> None:
    model = tiny_lm if script == "tiny" else scripted(TABLES[script]())
    expected = s1_reference(
        model, tokenizer, tr.chat_format(fmt), QUESTIONS, max_gen_toks=max_gen_toks, **kwargs
    )
    assert backend_ids(kind, model, tokenizer, fmt, kwargs, max_gen_toks) == expected


@pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None or not torch.cuda.is_available(),
    reason="vLLM runs on a GPU machine with vllm installed",
)
def test_vllm_backend_writes_s1s_ids(tmp_path: Any, tokenizer: Any) -> None:  # pragma: no cover
    from transformers import AutoModelForCausalLM

    from tinyreason.scaling import VLLMBackend
    from tinyreason.testing import tiny_model

    folder = tiny_model(tmp_path / "tiny")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    backend = VLLMBackend(str(folder), format="qwen-s1", dtype="float32", enforce_eager=True)
    for script, fmt, kwargs, max_gen_toks in GRID:
        if script != "tiny" or fmt != "qwen-s1":
            continue
        expected = s1_reference(
            model, backend.tokenizer, backend.format, QUESTIONS, max_gen_toks=max_gen_toks, **kwargs
        )
        prompts = [backend.prompt(q) for q in QUESTIONS]
        got = backend.generate(prompts, control=control(kwargs), max_new_tokens=max_gen_toks)
        assert [list(g.token_ids or ()) for [g] in got] == expected


def test_the_fork_and_the_readme_differ_where_s1s_code_does(scripted: Any, tokenizer: Any) -> None:
    """Hand-checked: chain model (5 digits, then the end), budget 8, one wait.

    Fork: round 1 writes 5 digits and stops (stripped), "Wait" (2 tokens) is appended, round 2 may
    write 8 more: 5 digits and a stop. 5 + 2 + 5 = 12 thinking tokens are cut to 8, and the end is
    the natural one (round 2 stopped). README: round 2 gets 8 - 6 = 2 tokens and ends by length,
    so the end is forced, after a newline; the thinking (5 + 2 + 2) is cut to 8 as well.
    """
    model = scripted(chain_table(5))
    backend = TransformersBackend(model, tokenizer=tokenizer, format="think-tags", progress=False)
    prompt = [backend.prompt("q")]
    [[fork]] = backend.generate(
        prompt, control=tr.ThinkingControl(max_thinking=8, waits=1), max_new_tokens=30
    )
    [[readme]] = backend.generate(
        prompt,
        control=tr.ThinkingControl(max_thinking=8, waits=1, round_budget="remaining"),
        max_new_tokens=30,
    )
    digits = THINK_DIGITS
    assert fork.thinking_tokens == 8 and not fork.forced_end and fork.waits == 1
    assert fork.text.startswith(f"{digits}Wait{digits[0]}</think>")
    assert readme.thinking_tokens == 8 and readme.forced_end and readme.waits == 1
    assert readme.text.startswith(f"{digits}Wait{digits[0]}\n</think>\nFinal Answer:")


def test_wait_below_extends_until_the_minimum(scripted: Any, tokenizer: Any) -> None:
    """tinyreason's wait_below: stops below 12 thinking tokens are answered with "Wait"."""
    model = scripted(chain_table(5))
    backend = TransformersBackend(model, tokenizer=tokenizer, format="think-tags", progress=False)
    [[g]] = backend.generate(
        [backend.prompt("q")],
        control=tr.ThinkingControl(max_thinking=40, wait_below=12),
        max_new_tokens=60,
    )
    # 5 digits (stop below 12: wait), then 5 + 2 + 5 = 12 (stop at 12: let it end).
    assert g.text.startswith(f"{THINK_DIGITS}Wait{THINK_DIGITS}</think>")
    assert g.waits == 1 and g.thinking_tokens == 12 and not g.forced_end
