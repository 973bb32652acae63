"""The built-in process reward models on tiny random models: which text, which logits, batching.

A random model scores nothing meaningfully, so these tests check the plumbing against the model
itself: the text each PRM writes (Qwen's and Math-Shepherd's model cards), that every score is the
probability read at the right token from the model's own logits, and that batching and padding
change nothing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForTokenClassification

import tinyreason as tr
from tinyreason.registry import build
from tinyreason.scaling.reward import QWEN_SYSTEM_PROMPT, MathShepherdPRM, QwenPRM
from tinyreason.testing.tiny import tied_config, tiny_tokenizer

SIZES = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=1,
    num_attention_heads=2,
    num_key_value_heads=1,
    max_position_embeddings=512,
)
STEPS = ["Let x = 6 * 7.", "Then x = 42.", "So the answer is 42."]


@pytest.fixture(scope="module")
def prm_tokenizer() -> Any:
    # " ки" is learnt as one token here; <extra_0> is an added special token, as in Qwen's.
    tokenizer = tiny_tokenizer(texts=["step one ки\nstep two ки\n"] * 4)
    tokenizer.add_tokens(["<extra_0>"], special_tokens=True)
    return tokenizer


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory: pytest.TempPathFactory, prm_tokenizer: Any) -> Path:
    """A random two-class token classifier saved with its tokenizer (Qwen's PRM's shape)."""
    folder = tmp_path_factory.mktemp("prm") / "qwen-prm"
    torch.manual_seed(0)
    model = Qwen2ForTokenClassification(
        tied_config(Qwen2Config, prm_tokenizer, num_labels=2, **SIZES)
    )
    model.save_pretrained(folder)
    prm_tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def qwen(qwen_folder: Path) -> QwenPRM:
    return QwenPRM(qwen_folder, batch_size=2, device="cpu")


@pytest.fixture(scope="module")
def shepherd(prm_tokenizer: Any) -> MathShepherdPRM:
    torch.manual_seed(1)
    model = Qwen2ForCausalLM(tied_config(Qwen2Config, prm_tokenizer, **SIZES))
    return MathShepherdPRM(model, tokenizer=prm_tokenizer, batch_size=2, device="cpu")


def logits_of(model: Any, tokenizer: Any, text: str) -> tuple[list[int], torch.Tensor]:
    ids = tokenizer(text)["input_ids"]
    with torch.no_grad():
        return ids, model(input_ids=torch.tensor([ids])).logits[0]


# -- Qwen2.5-Math-PRM ------------------------------------------------------------------------


def test_qwen_prm_writes_the_model_cards_conversation(qwen: QwenPRM) -> None:
    assert qwen.render("What is 6*7?", ["6*7 = 42", "So 42."]) == (
        f"<|im_start|>system\n{QWEN_SYSTEM_PROMPT}<|im_end|>\n"
        "<|im_start|>user\nWhat is 6*7?<|im_end|>\n"
        "<|im_start|>assistant\n6*7 = 42<extra_0>So 42.<extra_0><|im_end|>\n"
    )


def test_qwen_prm_reads_the_positive_class_at_each_separator(qwen: QwenPRM) -> None:
    ids, logits = logits_of(qwen.model, qwen.tokenizer, qwen.render("What is 6*7?", STEPS))
    positions = [i for i, t in enumerate(ids) if t == qwen.separator_id]
    expected = logits[positions].softmax(-1)[:, 1].tolist()
    got = qwen.score("What is 6*7?", STEPS)
    assert len(positions) == len(got) == 3
    assert got == pytest.approx(expected, abs=1e-6)
    # Not the negative class, nor the token before the separator.
    assert got != pytest.approx(logits[positions].softmax(-1)[:, 0].tolist(), abs=1e-6)
    before = [p - 1 for p in positions]
    assert got != pytest.approx(logits[before].softmax(-1)[:, 1].tolist(), abs=1e-6)


def test_a_step_holding_the_separator_text_does_not_shift_the_scores(qwen: QwenPRM) -> None:
    steps = ["x <extra_0> y", "z"]
    ids, logits = logits_of(qwen.model, qwen.tokenizer, qwen.render("q", steps))
    separators = [i for i, t in enumerate(ids) if t == qwen.separator_id]
    assert len(separators) == 3  # one inside the first step's own text
    ours = [separators[1], separators[2]]  # after each step
    assert qwen.score("q", steps) == pytest.approx(
        logits[ours].softmax(-1)[:, 1].tolist(), abs=1e-6
    )


def test_batches_score_as_single_texts_and_count_their_passes(qwen: QwenPRM) -> None:
    items = [("What is 6*7?", STEPS), ("q", ["a"]), ("Longer question here?", STEPS[:2])]
    items += [("q2", ["b", "c"]), ("q3", [""])]
    singles = [qwen.score(q, steps) for q, steps in items]
    before = qwen.usage.forward_passes, qwen.usage.sequences, qwen.usage.tokens
    batched = qwen.score_batch(items)
    for got, alone in zip(batched, singles, strict=True):
        assert got == pytest.approx(alone, abs=1e-5)  # right padding changes nothing
    tokens = sum(len(qwen.tokenizer(qwen.render(q, s))["input_ids"]) for q, s in items)
    after = qwen.usage.forward_passes, qwen.usage.sequences, qwen.usage.tokens
    assert (after[0] - before[0], after[1] - before[1], after[2] - before[2]) == (3, 5, tokens)
    assert qwen.score_batch([]) == []


def test_qwen_prm_settings_and_loading(
    qwen_folder: Path, prm_tokenizer: Any, tmp_path: Path
) -> None:
    with pytest.raises(tr.ConfigError, match="tokens in this tokenizer"):
        QwenPRM(qwen_folder, separator="step one")
    # Qwen's PRMs name their own class in auto_map: loading runs remote code only when allowed.
    remote = tmp_path / "remote"
    remote.mkdir()
    for f in qwen_folder.iterdir():
        (remote / f.name).write_bytes(f.read_bytes())
    config = json.loads((remote / "config.json").read_text())
    config["auto_map"] = {"AutoModel": "modeling_qwen2_rm.Qwen2ForProcessRewardModel"}
    (remote / "config.json").write_text(json.dumps(config))
    with pytest.raises(tr.ConfigError, match="trust_remote_code=True"):
        QwenPRM(remote)
    with pytest.raises(tr.DataError, match="cannot load the reward model"):
        QwenPRM(tmp_path / "missing")
    # A model whose logits are not two classes per token is refused when it scores.
    lm = QwenPRM(Qwen2ForCausalLM(tied_config(Qwen2Config, prm_tokenizer, **SIZES)), prm_tokenizer)
    with pytest.raises(tr.ConfigError, match="two-class token classifier"):
        lm.score("q", ["a"])
    with pytest.raises(tr.DataError, match=r"\(question, \[step, ...\]\)"):
        lm.score_batch([("q", "not a list")])  # type: ignore[list-item]


# -- Math-Shepherd ---------------------------------------------------------------------------


def test_math_shepherd_writes_the_model_cards_text(shepherd: MathShepherdPRM) -> None:
    assert shepherd.render("What is 6*7?", ["6*7 = 42", "So 42."]) == (
        "What is 6*7? 6*7 = 42 ки\nSo 42. ки"
    )


def test_math_shepherd_reads_plus_against_minus_at_each_tag(shepherd: MathShepherdPRM) -> None:
    tokenizer = shepherd.tokenizer
    text = shepherd.render("What is 6*7?", STEPS)
    ids, logits = logits_of(shepherd.model, tokenizer, text)
    tag = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(" ки"))
    assert len(tag) == 1  # the test tokenizer learnt " ки" as one token
    positions = [i for i, t in enumerate(ids) if t == tag[0]]
    plus, minus = tokenizer.convert_tokens_to_ids(["+", "-"])
    assert shepherd.label_token_ids == (plus, minus)
    pair = logits[positions][:, [plus, minus]]
    expected = [math.exp(a) / (math.exp(a) + math.exp(b)) for a, b in pair.tolist()]
    assert shepherd.score("What is 6*7?", STEPS) == pytest.approx(expected, abs=1e-6)
    assert shepherd.score_batch([("What is 6*7?", STEPS), ("q", ["a"])])[0] == pytest.approx(
        expected, abs=1e-5
    )


def test_math_shepherd_label_tokens_must_each_be_one_token(prm_tokenizer: Any) -> None:
    model = Qwen2ForCausalLM(tied_config(Qwen2Config, prm_tokenizer, **SIZES))
    with pytest.raises(tr.ConfigError, match="label_token_ids"):
        MathShepherdPRM(model, tokenizer=prm_tokenizer, good_token="good step")
    explicit = MathShepherdPRM(model, tokenizer=prm_tokenizer, label_token_ids=(5, 6))
    assert explicit.label_token_ids == (5, 6)


# -- the plugin kind -------------------------------------------------------------------------


def test_reward_models_are_a_registered_plugin_kind(qwen_folder: Path) -> None:
    assert {"qwen-prm", "math-shepherd"} <= set(tr.available("reward_model"))
    prm = build("reward_model", "qwen-prm", model=str(qwen_folder), batch_size=4)
    assert isinstance(prm, tr.interfaces.RewardModel) and isinstance(prm, QwenPRM)
    assert prm.describe()["reward_model"] == "qwen-prm"
    with pytest.raises(tr.ConfigError, match="did you mean 'batch_size'"):
        build("reward_model", "qwen-prm", model=str(qwen_folder), batchsize=4)
    with pytest.raises(tr.UnknownPluginError, match="register_reward_models"):
        build("reward_model", "no-such-prm")
