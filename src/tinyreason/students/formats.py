"""Student formats: where thinking starts and ends in a student's chat turn.

A format renders a question into the model's chat template (the prompt) and a (thinking, answer)
pair into the assistant text the student is trained on. The trainer and every scaler use the same
format object, so the delimiters the student learns are exactly the ones budget forcing watches.

Built-in formats:

* ``qwen-s1``: s1's ``<|im_start|>think\\n{thinking}\\n<|im_start|>answer\\n{answer}``, with
  ``"Answer: "`` put before an answer that does not already contain ``Answer:`` (s1's
  ``data/tokenization.py``). The delimiters are plain text after Qwen's ``<|im_start|>`` special
  token, not new tokens; the end delimiter is two tokens.
* ``think-tags``: DeepSeek-R1 / Qwen3's ``<think>\\n{thinking}\\n</think>\\n\\n{answer}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = [
    "DEFAULT_BACKEND_FORMAT",
    "FormatTokens",
    "ThinkFormat",
    "qwen_s1",
    "saved_format",
    "think_tags",
]


@dataclass(frozen=True)
class FormatTokens:
    """A format's delimiters as token ids in one tokenizer (what generation code watches).

    Attributes:
        think_start: Ids of the start-of-thinking delimiter.
        think_end: Ids of the end-of-thinking delimiter (its first id is the one that "tries to
            end" thinking).
        end_of_turn: Ids that end the assistant's turn (the EOS the model emits).
    """

    think_start: tuple[int, ...]
    think_end: tuple[int, ...]
    end_of_turn: tuple[int, ...]


@dataclass(frozen=True)
class ThinkFormat:
    """A chat format with think and answer delimiters.

    Args:
        name: The format's registered name.
        think_start: Text that opens the thinking (the prompt ends with it).
        think_end: Text that closes the thinking; budget forcing forces or suppresses it.
        answer_separator: Text between ``think_end`` and the answer.
        end_of_turn: Text that ends the assistant turn; None uses the tokenizer's EOS token.
        system_prompt: A system message to add to every prompt, if any (None lets the chat
            template add its own default, as Qwen's does).
        answer_prefix: Put before a trained answer that does not already contain it (stripped):
            s1 trains on ``"Answer: " + attempt`` unless the attempt holds ``Answer:``.

    Example:
        >>> fmt = ThinkFormat("think-tags", "<think>", "</think>", answer_separator="\\n\\n")
        >>> fmt.assistant_text("6*7=42", "42")
        '<think>\\n6*7=42\\n</think>\\n\\n42'
        >>> fmt.parse("\\n6*7=42\\n</think>\\n\\n42<|im_end|>", end_of_turn="<|im_end|>")
        ('6*7=42', '42')
    """

    name: str
    think_start: str
    think_end: str
    answer_separator: str = "\n"
    end_of_turn: str | None = None
    system_prompt: str | None = None
    answer_prefix: str | None = None

    def __post_init__(self) -> None:
        problems = [
            f"ThinkFormat.{field} must be a non-empty string, got {getattr(self, field)!r}"
            for field in ("name", "think_start", "think_end")
            if not isinstance(getattr(self, field), str) or not getattr(self, field)
        ]
        if self.think_start == self.think_end and not problems:
            problems.append(f"think_start and think_end must differ, both are {self.think_start!r}")
        if problems:
            raise ConfigError(problems)

    # -- rendering ---------------------------------------------------------------------------

    def messages(self, question: str) -> list[dict[str, str]]:
        """The chat messages for a question (system prompt first, when set)."""
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return [*messages, {"role": "user", "content": question}]

    def chat_prompt(self, tokenizer: Any, question: str) -> str:
        """The chat template's prompt, up to and including the assistant header."""
        if not getattr(tokenizer, "chat_template", None):
            from ..errors import DataError

            raise DataError(
                f"the tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template. "
                "Use an instruct/chat model, or set tokenizer.chat_template (see "
                "tinyreason.testing.chat_template for one that works with every format)."
            )
        prompt: str = tokenizer.apply_chat_template(
            self.messages(question), tokenize=False, add_generation_prompt=True
        )
        return prompt

    def prompt(self, tokenizer: Any, question: str) -> str:
        """The generation prompt: the chat prompt plus ``think_start``; thinking follows."""
        return self.chat_prompt(tokenizer, question) + self.think_start

    def assistant_text(self, thinking: str, answer: str) -> str:
        """The assistant's turn without the end-of-turn token (s1's rule for the answer prefix)."""
        prefix = self.answer_prefix
        if prefix and prefix.strip() not in answer:
            answer = prefix + answer
        return (
            f"{self.think_start}\n{thinking.strip()}\n{self.think_end}"
            f"{self.answer_separator}{answer.strip()}"
        )

    def eot(self, tokenizer: Any) -> str:
        """The end-of-turn text for a tokenizer."""
        eot = self.end_of_turn or getattr(tokenizer, "eos_token", None)
        if not eot:
            raise ConfigError(
                f"format {self.name!r}: the tokenizer has no eos_token; set "
                "ThinkFormat(end_of_turn=...) to the text that ends an assistant turn."
            )
        return eot

    def completion(self, thinking: str, answer: str, tokenizer: Any) -> str:
        """What the student is trained to write: thinking, answer and the end of turn.

        It is the text the chat template renders after the assistant header, as s1 builds its
        training text with ``apply_chat_template`` (Qwen's ends the turn with ``<|im_end|>\\n``).
        A template that rewrites the assistant's content (R1's drops the thinking) is not used:
        then the turn is the content and the end-of-turn token.
        """
        content = self.assistant_text(thinking, answer)
        if getattr(tokenizer, "chat_template", None):
            prompt = self.chat_prompt(tokenizer, "?")
            full = tokenizer.apply_chat_template(
                [*self.messages("?"), {"role": "assistant", "content": content}], tokenize=False
            )
            if isinstance(full, str) and full.startswith(prompt + content):
                turn = full[len(prompt) :]
                if turn[len(content) :].startswith(self.eot(tokenizer)):
                    return turn
        return content + self.eot(tokenizer)

    def training_example(
        self, tokenizer: Any, question: str, thinking: str, answer: str
    ) -> dict[str, str]:
        """A TRL prompt/completion pair: loss falls on the completion only."""
        return {
            "prompt": self.chat_prompt(tokenizer, question),
            "completion": self.completion(thinking, answer, tokenizer),
        }

    def forced_end(self, final_answer_text: str | None = None) -> str:
        """Text appended when the thinking budget runs out.

        s1 appends ``<|im_start|>answer\\nFinal Answer:`` (the delimiter, a newline, the lead-in,
        whatever the format's separator), after a newline unless the thinking ends with one.
        """
        return f"{self.think_end}\n{final_answer_text}" if final_answer_text else self.think_end

    def natural_end(self) -> str:
        """Text appended when the model ends thinking itself: the delimiter alone, as in s1.

        The model writes the separator itself.
        """
        return self.think_end

    # -- parsing -----------------------------------------------------------------------------

    def parse(self, text: str, end_of_turn: str | None = None) -> tuple[str, str]:
        """Split generated text (after the prompt) into (thinking, answer).

        Text without the end delimiter is all thinking (the model never finished thinking).
        """
        eot = end_of_turn or self.end_of_turn
        if text.startswith(self.think_start):
            text = text[len(self.think_start) :]
        thinking, found, answer = text.partition(self.think_end)
        if eot and eot in answer:
            answer = answer[: answer.index(eot)]
        if eot and not found and eot in thinking:
            thinking = thinking[: thinking.index(eot)]
        return thinking.strip(), answer.strip() if found else ""

    # -- tokens ------------------------------------------------------------------------------

    def tokens(self, tokenizer: Any) -> FormatTokens:
        """The delimiters as token ids; checks that the tokenizer can represent them.

        Raises:
            ConfigError: a delimiter's first token is not a single special/added token (the model
                could then end thinking by accident mid-word, and budget forcing could not tell),
                or the tokenizer has no end-of-turn token.
        """
        special = set(getattr(tokenizer, "all_special_tokens", ())) | set(
            getattr(tokenizer, "get_added_vocab", dict)()
        )
        problems = []
        ids: dict[str, tuple[int, ...]] = {}
        for field, text in (("think_start", self.think_start), ("think_end", self.think_end)):
            ids[field] = tuple(tokenizer.encode(text, add_special_tokens=False))
            first = tokenizer.convert_ids_to_tokens(ids[field][0]) if ids[field] else None
            if first not in special:
                problems.append(
                    f"format {self.name!r}: {field} {text!r} does not start with a special token "
                    f"of this tokenizer (it becomes "
                    f"{tokenizer.convert_ids_to_tokens(list(ids[field]))}). Add it with "
                    "tokenizer.add_special_tokens({'additional_special_tokens': [...]}) and "
                    "resize the model's embeddings, or pick a format whose delimiters the model "
                    f"knows (available: qwen-s1 for Qwen2.5, think-tags for Qwen3/R1)."
                )
        eot_ids = tuple(tokenizer.encode(self.eot(tokenizer), add_special_tokens=False))
        if len(eot_ids) != 1:
            problems.append(
                f"format {self.name!r}: end of turn {self.eot(tokenizer)!r} must be one token, "
                f"it is {len(eot_ids)}"
            )
        if problems:
            raise ConfigError(problems)
        return FormatTokens(ids["think_start"], ids["think_end"], eot_ids)


def qwen_s1(
    system_prompt: str | None = None, end_of_turn: str | None = "<|im_end|>"
) -> ThinkFormat:
    """s1's format: ``<|im_start|>think`` ... ``<|im_start|>answer`` (Qwen2.5 chat template).

    Example:
        >>> qwen_s1().assistant_text("2+2=4", "4")
        '<|im_start|>think\\n2+2=4\\n<|im_start|>answer\\nAnswer: 4'
    """
    return ThinkFormat(
        name="qwen-s1",
        think_start="<|im_start|>think",
        think_end="<|im_start|>answer",
        answer_separator="\n",
        end_of_turn=end_of_turn,
        system_prompt=system_prompt,
        answer_prefix="Answer: ",
    )


def think_tags(
    system_prompt: str | None = None,
    end_of_turn: str | None = None,
    answer_separator: str = "\n\n",
) -> ThinkFormat:
    """DeepSeek-R1 / Qwen3's format: ``<think>`` ... ``</think>``.

    Example:
        >>> think_tags().assistant_text("2+2=4", "4")
        '<think>\\n2+2=4\\n</think>\\n\\n4'
    """
    return ThinkFormat(
        name="think-tags",
        think_start="<think>",
        think_end="</think>",
        answer_separator=answer_separator,
        end_of_turn=end_of_turn,
        system_prompt=system_prompt,
    )


#: The format a backend uses when it is given none and the model folder does not name one.
DEFAULT_BACKEND_FORMAT = "think-tags"


def saved_format(model: object) -> ThinkFormat | None:
    """The format a tinyreason-trained model folder was trained with (its ``tinyreason.json``).

    Args:
        model: A model folder (anything else, a hub name or a loaded model, gives None).

    Returns:
        The :class:`ThinkFormat` recorded by the trainer, or None when there is no record.

    Example:
        >>> saved_format("Qwen/Qwen2.5-0.5B-Instruct") is None
        True
    """
    import json
    from pathlib import Path

    if not isinstance(model, (str, Path)):
        return None
    manifest = Path(model) / "tinyreason.json"
    if not manifest.is_file():
        return None
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))["format"]
        if "plugin" in recorded:
            return _plugin_format(recorded)
        return ThinkFormat(**recorded)
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        from ..errors import ArtifactError

        raise ArtifactError(
            manifest,
            f"the student's record is damaged ({type(exc).__name__}: {exc})",
            "train it again, or pass format= to load the model with a format of your choice",
        ) from None


def _plugin_format(recorded: Mapping[str, Any]) -> ThinkFormat:
    """A plugin's recorded format: rebuilt by name when registered, else its delimiters."""
    from ..errors import TinyReasonError
    from ..registry import build
    from .protocol import as_think_format

    try:
        return as_think_format(build("student", recorded["name"]))
    except TinyReasonError:  # not registered (any more): the recorded delimiters still serve
        fields = {k: recorded[k] for k in ("name", "think_start", "think_end") if k in recorded}
        return ThinkFormat(**fields)
