"""Tiny, locally built models: a Qwen2-shaped causal LM with random weights and a fresh tokenizer.

No hub access is needed: the tokenizer is trained on the spot, and the folder reloads offline with
``AutoModelForCausalLM`` / ``AutoTokenizer``. Use it in tests of your plugins, and to try the
library's plumbing on a laptop.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer
    from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerFast

__all__ = [
    "CHAT_TEMPLATE",
    "QWEN_PRETOKENIZE_REGEX",
    "SPECIAL_TOKENS",
    "scripted_model",
    "tiny_model",
    "tiny_tokenizer",
]

#: ChatML (Qwen's turn markup) with TRL's ``{% generation %}`` markers around the assistant's
#: text, so ``assistant_only_loss`` works. The assistant content is rendered verbatim: student
#: formats put their think/answer delimiters inside it.
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{%- generation %}{{- message.content + '<|im_end|>' }}"
    "{%- endgeneration %}{{- '\\n' }}"
    "{%- else %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

#: Qwen2's pre-tokeniser pattern. ``AutoTokenizer`` re-imposes it (and NFC) on any ``qwen2``
#: tokenizer at load time, so training with anything else would tokenise differently after reload.
QWEN_PRETOKENIZE_REGEX = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>")

_CORPUS = (
    "What is 6 times 7? Let me think step by step. 6 * 7 = 42. "
    "Wait, check: 7 + 7 + 7 + 7 + 7 + 7 = 42.",
    "Final Answer: \\boxed{42}. Answer: 12. The answer is \\frac{1}{2} = 0.5.",
    "Solve for x: 2x + 3 = 11, so 2x = 8 and x = 4. Hmm, alternatively subtract 3 first.",
    "think answer user assistant system You are a helpful assistant.",
    "Find the number of positive integers n such that n^2 < 100. Wait, n = 1, 2, ..., 9.",
    "(A) (B) (C) (D) The probability is 3/4. Therefore the total is 204 minutes.",
)


def tiny_tokenizer(texts: Iterable[str] = (), vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer in Qwen2's style, trained on ``texts`` plus a small corpus.

    It is a ``PreTrainedTokenizerFast`` with ChatML special tokens, ``<think>``/``</think>``, EOS
    ``<|im_end|>``, pad ``<|endoftext|>`` and :data:`CHAT_TEMPLATE`.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN_PRETOKENIZE_REGEX), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    tok.train_from_iterator([*_CORPUS, *texts], trainer)
    return chatml_tokenizer(tok)


def chatml_tokenizer(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """``tok`` as a ``PreTrainedTokenizerFast`` that speaks ChatML with think tags.

    Its vocabulary must hold :data:`SPECIAL_TOKENS`: they become the special tokens (EOS
    ``<|im_end|>``, pad ``<|endoftext|>``), and the chat template is :data:`CHAT_TEMPLATE`.

    Example:
        >>> from tokenizers import Tokenizer, models
        >>> vocab = {token: i for i, token in enumerate(SPECIAL_TOKENS)}
        >>> hf = chatml_tokenizer(Tokenizer(models.WordLevel(vocab, unk_token="<|endoftext|>")))
        >>> hf.eos_token, hf.pad_token, hf.convert_tokens_to_ids("</think>")
        ('<|im_end|>', '<|endoftext|>', 4)
    """
    from transformers import PreTrainedTokenizerFast

    hf = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>", "<think>", "</think>"],
    )
    hf.chat_template = CHAT_TEMPLATE
    return hf


def tiny_model(
    path: str | Path | None = None,
    *,
    texts: Iterable[str] = (),
    vocab_size: int = 512,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    seed: int = 0,
) -> Path:
    """Build and save a tiny Qwen2 causal LM with random weights and a locally trained tokenizer.

    Args:
        path: Folder to write; a new temporary folder when None.
        texts: Extra text to train the tokenizer on (your task's vocabulary).
        vocab_size: BPE vocabulary size (special tokens included).
        hidden_size: Model width (about 95k parameters at the defaults).
        num_layers: Decoder layers.
        num_heads: Attention heads (key/value heads are half of them).
        seed: Seed for the random weights.

    Returns:
        The folder, loadable offline with ``AutoModelForCausalLM.from_pretrained`` and
        ``AutoTokenizer.from_pretrained``; its chat template works with every built-in student
        format.

    Example:
        >>> from tinyreason.testing import tiny_model
        >>> folder = tiny_model()  # doctest: +SKIP
        >>> AutoModelForCausalLM.from_pretrained(folder)  # doctest: +SKIP
    """
    from transformers import Qwen2Config, Qwen2ForCausalLM

    folder = Path(path) if path is not None else Path(tempfile.mkdtemp(prefix="tinyreason-tiny-"))
    tokenizer = tiny_tokenizer(texts, vocab_size=vocab_size)
    config = tied_config(
        Qwen2Config,
        tokenizer,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=max(1, num_heads // 2),
        max_position_embeddings=4096,
    )
    return save_random_model(folder, tokenizer, Qwen2ForCausalLM, config, seed)


def tied_config(
    config_class: Callable[..., PretrainedConfig], tokenizer: PreTrainedTokenizerFast, **sizes: int
) -> PretrainedConfig:
    """A model config over ``tokenizer``'s vocabulary: tied embeddings, its EOS and pad, no BOS.

    Args:
        config_class: The architecture's config class (``Qwen2Config``, ``Qwen3Config``...).
        tokenizer: The tokenizer the model will read and write.
        **sizes: The architecture's sizes (``hidden_size``, ``num_hidden_layers``...).

    Example:
        >>> from transformers import Qwen2Config
        >>> config = tied_config(Qwen2Config, tiny_tokenizer(), hidden_size=32)
        >>> config.tie_word_embeddings, config.bos_token_id, config.hidden_size
        (True, None, 32)
    """
    return config_class(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **sizes,
    )


def save_random_model(
    folder: Path,
    tokenizer: PreTrainedTokenizerFast,
    model_class: type[PreTrainedModel],
    config: PretrainedConfig,
    seed: int,
) -> Path:
    """Build ``model_class(config)`` with seeded random weights and save it with its tokenizer.

    The generation config ends and pads with the tokenizer's tokens, so ``generate`` stops where
    the chat template ends a turn.

    Example:
        >>> save_random_model(folder, tok, Qwen2ForCausalLM, config, seed=0)  # doctest: +SKIP
        PosixPath('.../tiny')
    """
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    model = model_class(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def scripted_model(
    tokenizer: PreTrainedTokenizerFast,
    table: dict[str, dict[str, float]],
    *,
    head_dim: int | None = None,
    floor: float = 0.0,
) -> PreTrainedModel:
    """A one-layer Qwen2 whose next-token logits after token ``a`` are ``table[a]``.

    A real ``Qwen2ForCausalLM`` (real ``generate``, real KV cache) whose attention and MLP are
    zeroed, whose embedding is the identity, and whose head reads the table: so greedy decoding
    follows the table exactly, for tests and benchmarks that need known token counts.

    Args:
        tokenizer: The tokenizer whose tokens the table names (``"5"``, ``"</think>"``...).
        table: Token -> {next token: logit}.
        head_dim: Attention head size (vLLM wants e.g. 128); None: the smallest model.
        floor: The logit of every target a row does not list (0.0: they tie at 0; -30.0:
            they are never written).

    Example:
        >>> tok = tiny_tokenizer(["1 2"])
        >>> model = scripted_model(tok, {"1": {"2": 5.0}})
        >>> model.config.num_hidden_layers
        1
    """
    import math

    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    vocab = len(tokenizer)
    multiple = head_dim or 8
    hidden = math.ceil(vocab / multiple) * multiple
    heads = hidden // head_dim if head_dim else 2
    config = Qwen2Config(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=multiple,
        num_hidden_layers=1,
        num_attention_heads=heads,
        num_key_value_heads=heads if head_dim else 1,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen2ForCausalLM(config).eval()
    ids = tokenizer.convert_tokens_to_ids
    head = torch.zeros(vocab, hidden)
    head[:, :vocab] = floor  # every token's row starts at the floor
    for source, targets in table.items():
        if ids(source) is None or any(ids(t) is None for t in targets):
            raise ValueError(f"the tokenizer has no token for {source!r} or one of {list(targets)}")
        for target, logit in targets.items():
            head[ids(target), ids(source)] = logit
    with torch.no_grad():
        for param in model.model.layers.parameters():
            param.zero_()
        model.model.embed_tokens.weight.copy_(torch.eye(vocab, hidden))
        # RMSNorm maps a one-hot row to sqrt(hidden) * one-hot; this weight undoes the scale.
        model.model.norm.weight.fill_(1 / math.sqrt(hidden))
        model.lm_head.weight.copy_(head)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model
