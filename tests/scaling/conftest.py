"""Fixtures for the scaling tests: the tiny random model, and scripted models built from it.

A random tiny model almost never ends its thinking by itself, so "tries to end" behaviour is tested
with a *scripted* model: a real ``Qwen2ForCausalLM`` (real generate, real KV cache) whose weights
make it a bigram table. The embeddings are one-hot, every decoder layer is zeroed (the residual
stream stays the embedding) and the final norm and untied LM head turn the current token into the
logits written in the table, so the next token depends only on the last one.

The scripts use digits for thinking and answers: Qwen's pre-tokeniser splits every digit off on
its own, so a digit string re-tokenises to exactly one token per digit and tests can count tokens
from text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2ForCausalLM

import tinyreason as tr
from tinyreason.testing import tiny_model
from tinyreason.testing.tiny import scripted_model

Table = Mapping[str, Mapping[str, float]]


@pytest.fixture(scope="package", autouse=True)
def _one_thread() -> Iterator[None]:
    """Run these tiny models on one thread.

    They gain nothing from two, and on a busy 2-core machine OpenMP threads waiting for each other
    at every op can make a 10 ms test take seconds.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("scaling") / "tiny")


@pytest.fixture(scope="session")
def tokenizer(tiny_path: Path) -> Any:
    return AutoTokenizer.from_pretrained(tiny_path)


@pytest.fixture(scope="session")
def tiny_lm(tiny_path: Path) -> Any:
    return AutoModelForCausalLM.from_pretrained(tiny_path).eval()


def scripted_lm(tokenizer: Any, table: Table, *, head_dim: int | None = None) -> Qwen2ForCausalLM:
    """A Qwen2 model whose next-token logits after token ``a`` are ``table[a]`` (0 elsewhere).

    Keys and targets are token strings (``"5"``, ``"</think>"``, ``"Ċ"`` for a newline).
    ``head_dim`` sizes the attention heads (vLLM wants e.g. 128); None: the smallest model.
    """
    return scripted_model(tokenizer, table, head_dim=head_dim)


THINK_DIGITS = "56789"


def chain_table(
    k: int = 5,
    end: str = "</think>",
    *,
    answer: Mapping[str, Mapping[str, float]] | None = None,
) -> dict[str, dict[str, float]]:
    """Think ``k`` digits (5, 6, 7...), then pick ``end``; after the delimiter answer ``42``.

    The prompt's last token (``<think>`` or qwen-s1's ``think``) and the wait text's last token
    (``it`` of ``Wa``+``it``) start the chain again; the answer starts after the separator's
    newline or the lead-in's colon.
    """
    assert 1 <= k <= len(THINK_DIGITS)
    table: dict[str, dict[str, float]] = {}
    for start in ("<think>", "think", "it"):
        table[start] = {THINK_DIGITS[0]: 30.0}
    for i in range(k - 1):
        table[THINK_DIGITS[i]] = {THINK_DIGITS[i + 1]: 30.0}
    table[THINK_DIGITS[k - 1]] = {end: 30.0}
    # After a natural end (s1 appends the delimiter alone) the model writes the newline itself.
    table["</think>"] = {"Ċ": 30.0}
    table["answer"] = {"Ċ": 30.0}
    table["Ċ"] = {"4": 30.0}
    table[":"] = {"4": 30.0}
    table.update(answer or {"4": {"2": 30.0}, "2": {"<|im_end|>": 30.0}})
    return table


def random_table(end_logit: float = 20.0, eot_logit: float = 19.0) -> dict[str, dict[str, float]]:
    """A stochastic script: each thinking digit goes on, or tries to end, at random."""
    table: dict[str, dict[str, float]] = {}
    for start in ("<think>", "think", "it"):
        table[start] = {THINK_DIGITS[0]: 30.0}
    for i, digit in enumerate(THINK_DIGITS):
        table[digit] = {
            THINK_DIGITS[(i + 1) % len(THINK_DIGITS)]: 20.0,
            "</think>": end_logit,
            "<|im_end|>": eot_logit,
        }
    table["</think>"] = {"Ċ": 30.0}
    table["Ċ"] = {"4": 30.0}
    table[":"] = {"4": 30.0}
    table["4"] = {"2": 20.0, "<|im_end|>": 20.0}
    table["2"] = {"4": 20.0, "<|im_end|>": 20.0}
    return table


@pytest.fixture
def scripted(tokenizer: Any) -> Callable[[Table], Qwen2ForCausalLM]:
    """Build a scripted model from a table (see :func:`chain_table`)."""
    return lambda table: scripted_lm(tokenizer, table)


@pytest.fixture
def think_tags() -> Any:
    return tr.chat_format("think-tags")


@pytest.fixture
def qwen_s1() -> Any:
    return tr.chat_format("qwen-s1")


def cycle_table() -> dict[str, dict[str, float]]:
    """A script that thinks forever (digits 5-9 in a cycle) and answers ``42`` when let."""
    table = chain_table(5)
    table[THINK_DIGITS[-1]] = {THINK_DIGITS[0]: 30.0}
    return table
