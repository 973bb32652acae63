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

from ..testing.tiny import CHAT_TEMPLATE, save_random_model
from .task import TOKEN_PATTERN

__all__ = ["build_student"]

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]


def build_tokenizer():
    """A word-level tokenizer for the arithmetic task that round-trips text exactly."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["user", "assistant", "system"] + [f"{op}{d}" for op in "+-*" for d in range(10)]
    chars = [c for c in string.printable if c not in "\x0b\x0c\r"]
    vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS + words + chars)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(TOKEN_PATTERN), behavior="isolated")
    tok.decoder = decoders.Fuse()
    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"],
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


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

    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer()
    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 4,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        head_dim=hidden_size // num_heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return save_random_model(folder, tokenizer, Qwen3ForCausalLM, config, seed)
