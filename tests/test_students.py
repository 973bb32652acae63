"""Student formats: rendering with a real (tiny, locally trained) tokenizer, tokens, parsing."""

from __future__ import annotations

from typing import Any

import pytest

import tinyreason as tr

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

QUESTION = "What is 6 * 7?"


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    return tr.testing.tiny_tokenizer()


def s1_training_text(tokenizer: Any, question: str, trajectory: list[str], attempt: str) -> str:
    """s1's rule (data/tokenization.py), restated: "Answer: " unless the attempt holds "Answer:",
    the trajectories joined by newlines and stripped, the answer stripped, the whole conversation
    rendered by the chat template."""
    answer = attempt if "Answer:" in attempt else "Answer: " + attempt
    content = (
        "<|im_start|>think\n"
        + "\n".join(trajectory).strip()
        + "\n<|im_start|>answer\n"
        + answer.strip()
    )
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": question}, {"role": "assistant", "content": content}],
        tokenize=False,
    )


def test_qwen_s1_renders_s1s_format(tokenizer: Any) -> None:
    fmt = tr.chat_format("qwen-s1")
    assert isinstance(fmt, tr.StudentFormat)
    prompt = fmt.prompt(tokenizer, QUESTION)
    assert prompt == (
        "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think"
    )
    # s1 trains on "Answer: " + the attempt, and on the template's whole turn ("<|im_end|>\n").
    assert fmt.completion("6 * 7 = 42", "42", tokenizer) == (
        "<|im_start|>think\n6 * 7 = 42\n<|im_start|>answer\nAnswer: 42<|im_end|>\n"
    )
    example = fmt.training_example(tokenizer, QUESTION, " 6 * 7 = 42 \n", "\n42")
    # The prompt stops before the thinking: the loss falls on thinking + answer only.
    assert example["prompt"] + example["completion"] == (
        prompt + "\n6 * 7 = 42\n<|im_start|>answer\nAnswer: \n42<|im_end|>\n"
    )
    # s1's ends: at the budget the delimiter, a newline and the lead-in; a natural end, the
    # delimiter alone (the backend puts the newline before the budget end when it is needed).
    assert fmt.forced_end("Final Answer:") == "<|im_start|>answer\nFinal Answer:"
    assert fmt.natural_end() == "<|im_start|>answer"


@pytest.mark.parametrize(
    ("trajectory", "attempt"),
    [
        (["Let me compute 6 * 7.\nIt is 42.\n"], "The product is $\\boxed{42}$."),  # no Answer:
        (["6 * 7 = 42"], "Answer: 42"),  # holds Answer: already
        (["6 * 7 = 42"], "So the final Answer: 42, done.  "),  # Answer: inside, spaces after
        (["  Step 1.", "Step 2.  "], "  42"),  # several trajectories, padding
    ],
)
def test_qwen_s1_training_text_is_s1s_string(
    tokenizer: Any, trajectory: list[str], attempt: str
) -> None:
    fmt = tr.chat_format("qwen-s1")
    example = fmt.training_example(tokenizer, QUESTION, "\n".join(trajectory), attempt)
    assert example["prompt"] + example["completion"] == s1_training_text(
        tokenizer, QUESTION, trajectory, attempt
    )


def test_qwen_s1_training_text_literal(tokenizer: Any) -> None:
    fmt = tr.chat_format("qwen-s1")
    with_prefix = fmt.training_example(tokenizer, "Q?", "T", "42")
    without = fmt.training_example(tokenizer, "Q?", "T", "Answer: 42")
    head = "<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\nT\n"
    assert with_prefix["prompt"] + with_prefix["completion"] == (
        head + "<|im_start|>answer\nAnswer: 42<|im_end|>\n"
    )
    assert without["prompt"] + without["completion"] == (
        head + "<|im_start|>answer\nAnswer: 42<|im_end|>\n"
    )


def test_think_tags_renders_r1s_format(tokenizer: Any) -> None:
    fmt = tr.chat_format("think-tags")
    prompt = fmt.prompt(tokenizer, QUESTION)
    assert prompt.endswith("<|im_start|>assistant\n<think>")
    example = fmt.training_example(tokenizer, QUESTION, "6 * 7 = 42", "42")
    # No answer prefix; the turn is what the chat template writes after the header.
    assert example["completion"] == "<think>\n6 * 7 = 42\n</think>\n\n42<|im_end|>\n"
    assert example["prompt"] + "<think>" == prompt


def test_a_template_that_rewrites_the_turn_is_not_used(tokenizer: Any) -> None:
    """R1-style templates drop the thinking from assistant turns: then the turn is built here."""
    import copy

    dropping = copy.copy(tokenizer)
    dropping.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m.role }}\n"
        "{% if m.role == 'assistant' %}{{ m.content.split('</think>')[-1] }}"
        "{% else %}{{ m.content }}{% endif %}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    example = tr.chat_format("think-tags").training_example(dropping, QUESTION, "6 * 7 = 42", "42")
    assert example["completion"] == "<think>\n6 * 7 = 42\n</think>\n\n42<|im_end|>"


def test_system_prompt_option(tokenizer: Any) -> None:
    fmt = tr.chat_format("qwen-s1", system_prompt="You are Qwen.")
    assert fmt.prompt(tokenizer, QUESTION).startswith(
        "<|im_start|>system\nYou are Qwen.<|im_end|>\n"
    )


def test_tokens_qwen_s1_end_delimiter_is_multi_token(tokenizer: Any) -> None:
    tokens = tr.chat_format("qwen-s1").tokens(tokenizer)
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    assert tokens.think_start[0] == im_start
    assert tokens.think_end[0] == im_start  # the id that "tries to end" thinking
    assert len(tokens.think_end) > 1
    assert tokenizer.decode(list(tokens.think_end)) == "<|im_start|>answer"
    assert tokens.end_of_turn == (tokenizer.convert_tokens_to_ids("<|im_end|>"),)


def test_tokens_think_tags_are_single_special_tokens(tokenizer: Any) -> None:
    tokens = tr.chat_format("think-tags").tokens(tokenizer)
    assert tokens.think_start == (tokenizer.convert_tokens_to_ids("<think>"),)
    assert tokens.think_end == (tokenizer.convert_tokens_to_ids("</think>"),)
    assert tokens.end_of_turn == (tokenizer.eos_token_id,)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("\n6*7=42\n</think>\n\n42<|im_end|>", ("6*7=42", "42")),
        ("<think>\n6*7=42\n</think>\n\n42", ("6*7=42", "42")),  # with its think_start too
        ("6*7 is... let me see", ("6*7 is... let me see", "")),  # never ended: all thinking
        ("6*7 is... let me see<|im_end|>", ("6*7 is... let me see", "")),
        ("6*7=42\n</think>", ("6*7=42", "")),  # empty answer
        ("6*7=42\n</think>\n\n<|im_end|>", ("6*7=42", "")),
        ("", ("", "")),
        ("a</think>b</think>c", ("a", "b</think>c")),  # only the first end delimiter splits
    ],
)
def test_parse_think_tags(text: str, expected: tuple[str, str]) -> None:
    assert tr.chat_format("think-tags").parse(text, end_of_turn="<|im_end|>") == expected


def test_parse_qwen_s1_uses_its_end_of_turn() -> None:
    fmt = tr.chat_format("qwen-s1")
    text = "\n2+2=4\n<|im_start|>answer\nAnswer: 4<|im_end|>\n<|im_start|>user"
    assert fmt.parse(text) == ("2+2=4", "Answer: 4")
    assert fmt.parse("2+2 is four, wait") == ("2+2 is four, wait", "")


def test_tokenizer_without_chat_template_is_a_data_error() -> None:
    bare = tr.testing.tiny_tokenizer()
    bare.chat_template = None
    with pytest.raises(tr.DataError, match=r"has no chat template"):
        tr.chat_format("qwen-s1").prompt(bare, QUESTION)
    with pytest.raises(tr.DataError, match=r"has no chat template"):
        tr.chat_format("think-tags").training_example(bare, QUESTION, "t", "a")


def test_delimiter_that_is_not_a_special_token_is_a_config_error(tokenizer: Any) -> None:
    fmt = tr.students.ThinkFormat("plain", "BEGIN THINKING", "END THINKING")
    with pytest.raises(tr.ConfigError, match=r"does not start with a special token") as info:
        fmt.tokens(tokenizer)
    assert len(info.value.problems) == 2  # both delimiters are reported at once
    assert "think_start 'BEGIN THINKING'" in str(info.value)
    assert "think_end 'END THINKING'" in str(info.value)


def test_multi_token_end_of_turn_is_a_config_error(tokenizer: Any) -> None:
    fmt = tr.students.ThinkFormat("odd", "<think>", "</think>", end_of_turn="THE END")
    with pytest.raises(tr.ConfigError, match=r"must be one token"):
        fmt.tokens(tokenizer)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "<t>", "</t>"), "name must be a non-empty string"),
        (("x", "", "</t>"), "think_start must be a non-empty string"),
        (("x", "<t>", "<t>"), "must differ"),
    ],
)
def test_think_format_validation(args: tuple[str, str, str], message: str) -> None:
    with pytest.raises(tr.ConfigError, match=message):
        tr.students.ThinkFormat(*args)


def test_student_options_are_checked() -> None:
    with pytest.raises(tr.ConfigError, match=r"no option 'system'.*did you mean 'system_prompt'"):
        tr.chat_format("qwen-s1", system="hi")


def test_a_protocol_format_without_its_plugin_says_how_to_build_one() -> None:
    from tinyreason.students.protocol import ProtocolFormat, as_think_format

    bare = ProtocolFormat("tags", "<think>", "</think>")
    assert bare.natural_end() == "</think>"  # derived from the delimiters alone
    with pytest.raises(tr.ConfigError, match=r"wraps no plugin format.*as_think_format"):
        bare.prompt(None, "What is 2 + 2?")
    with pytest.raises(tr.ConfigError, match="is not a student format"):
        as_think_format(object())
