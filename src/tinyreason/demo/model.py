"""The demo's student before training: a small Qwen3-shaped model with a task tokenizer.

The tokenizer is a word-level one over the arithmetic task's symbols (one token per
operation+operand, ``+5``), which measurably helps such a small model learn to fetch each step's
operation (``reference/toy-scaling.md``). The model type is Qwen3 on purpose: ``AutoTokenizer``
loads a Qwen3 folder's ``tokenizer.json`` as saved, whereas for Qwen2 it re-imposes Qwen's BPE
pre-tokeniser and would tokenise differently after reload.
"""

from __future__ import annotations

import string
from pathlib import Path
from typing import TYPE_CHECKING

from ..testing.tiny import SPECIAL_TOKENS, chatml_tokenizer, save_random_model, tied_config
from .task import TOKEN_PATTERN

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

__all__ = ["build_student"]


def build_tokenizer() -> PreTrainedTokenizerFast:
    """A word-level tokenizer for the arithmetic task that round-trips text exactly."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    words = ["user", "assistant", "system"] + [f"{op}{d}" for op in "+-*" for d in range(10)]
    chars = [c for c in string.printable if c not in "\x0b\x0c\r"]
    vocab = {token: i for i, token in enumerate([*SPECIAL_TOKENS, *words, *chars])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return chatml_tokenizer(tok)


def build_student(
    path: str | Path,
    *,
    hidden_size: int = 128,
    num_layers: int = 3,
    num_heads: int = 4,
    seed: int = 0,
) -> Path:
    """Write a randomly initialised student (about 0.8M parameters) and its tokenizer to ``path``.

    Args:
        path: Folder to write.
        hidden_size: Model width.
        num_layers: Decoder layers (3 learned the task reliably in the study; 2 memorised).
        num_heads: Attention heads (and key/value heads).
        seed: Seed of the initial weights.

    Returns:
        The folder, loadable with ``AutoModelForCausalLM`` and ``AutoTokenizer`` offline.
    """
    from transformers import Qwen3Config, Qwen3ForCausalLM

    tokenizer = build_tokenizer()
    config = tied_config(
        Qwen3Config,
        tokenizer,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_size // num_heads,
        max_position_embeddings=512,
    )
    return save_random_model(Path(path), tokenizer, Qwen3ForCausalLM, config, seed)
