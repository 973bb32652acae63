r"""s1's conditional-control texts: the instructions a student is prompted and trained with.

s1 compared budget forcing with three ways of *asking* a student to think for a given length
(paper section 3, Table 3; the prompts are those of s1's evaluation code,
``lm_eval/tasks/*/utils.py`` at s1 @77272c6, which appends them to the question after a blank
line):

* **Token-conditional (TCC):** ``"Think for up to N tokens."``. A TCC student is trained on traces
  whose question carries the same instruction with ``N`` the trace's thinking length rounded up
  to a power of two (:func:`token_conditioned`).
* **Step-conditional (SCC):** ``"Think for up to N steps."``. The thinking is cut into steps on
  blank lines (s1's steps are about 100 tokens), and each step opens with a ``"K steps left"``
  line counting down from ``N`` (:func:`step_conditioned`, :func:`mark_steps`): a student that
  writes ``"0 steps left"`` has used its steps up, which is where s1's SCC + budget forcing ends
  the thinking (``until_thinking=<|im_start|>0``).
* **Class-conditional (CCC):** s1's ``"short"`` and ``"long"`` prompts (:data:`CLASS_PROMPTS`);
  no training transform (s1 prompted s1-32B itself).

Everything here is a pure function of text, or of a traces ``datasets.Dataset`` in the s1K
columns, so the trainer (which renders training text) and the scalers (which render prompts) use
the very same strings.

Example:
    >>> with_token_budget("What is 6*7?", 512)
    'What is 6*7?\n\nThink for up to 512 tokens.'
    >>> print(mark_steps(["a-5:0-5=5", "b+4:5+4=9"], budget=4))
    4 steps left
    a-5:0-5=5
    <BLANKLINE>
    3 steps left
    b+4:5+4=9
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError, DataError

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "CLASS_PROMPTS",
    "CONDITIONINGS",
    "STEPS_INSTRUCTION",
    "STEP_MARKER",
    "STEP_SEPARATOR",
    "TOKENS_INSTRUCTION",
    "conditioned",
    "count_steps",
    "cut_steps",
    "mark_steps",
    "power_of_two_at_least",
    "split_steps",
    "step_conditioned",
    "token_conditioned",
    "with_step_budget",
    "with_thinking_class",
    "with_token_budget",
]

#: What s1's TCC appends to a question (``{n}``: the token budget).
TOKENS_INSTRUCTION = "\n\nThink for up to {n} tokens."
#: What s1's SCC appends to a question (``{n}``: the step budget).
STEPS_INSTRUCTION = "\n\nThink for up to {n} steps."
#: s1's CCC prompts, appended to the question (``PROMPTSHORT`` / ``PROMPTLONG`` in its code).
CLASS_PROMPTS: dict[str, str] = {
    "short": (
        "\n\nAnswer after a short amount of thinking. Do not spend excessive time "
        "double-checking your work."
    ),
    "long": (
        "\n\nAnswer after a long amount of thinking. If you feel like you are finished early, "
        "spend the extra time trying to double-check your work until you are absolutely sure "
        "that you have the correct answer."
    ),
}
#: Where one step ends and the next begins: a blank line (s1 splits on ``"\n\n"``).
STEP_SEPARATOR = "\n\n"
#: The line that opens each step of SCC training text (``{k}``: steps left, this one included).
STEP_MARKER = "{k} steps left\n"
#: The training transforms :func:`conditioned` applies, by name.
CONDITIONINGS = ("tokens", "steps")

#: A tokenizer (anything with ``encode``), or a function from a text to its token count.
TokenCounter = Any


def power_of_two_at_least(n: int) -> int:
    """The smallest power of two that is >= ``n`` (1 for 0 and 1): s1's TCC budget buckets.

    Example:
        >>> [power_of_two_at_least(n) for n in (0, 1, 2, 3, 100, 128, 129)]
        [1, 1, 2, 4, 128, 128, 256]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"a length must be a whole number >= 0, got {n!r}")
    return 1 if n <= 1 else 1 << (n - 1).bit_length()


def _budget(n: object, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the {what} budget must be a whole number >= 1, got {n!r}")
    return n


def with_token_budget(question: str, n: int, instruction: str = TOKENS_INSTRUCTION) -> str:
    """The question with s1's TCC instruction: ``"...\\n\\nThink for up to N tokens."``.

    Example:
        >>> with_token_budget("1+1?", 8)
        '1+1?\\n\\nThink for up to 8 tokens.'
    """
    return question + instruction.format(n=_budget(n, "token"))


def with_step_budget(question: str, n: int, instruction: str = STEPS_INSTRUCTION) -> str:
    """The question with s1's SCC instruction: ``"...\\n\\nThink for up to N steps."``.

    Example:
        >>> with_step_budget("1+1?", 4)
        '1+1?\\n\\nThink for up to 4 steps.'
    """
    return question + instruction.format(n=_budget(n, "step"))


def with_thinking_class(question: str, thinking: Literal["short", "long"]) -> str:
    """The question with s1's CCC prompt for ``"short"`` or ``"long"`` thinking.

    Raises:
        ConfigError: any other class.

    Example:
        >>> with_thinking_class("1+1?", "short")
        '1+1?\\n\\nAnswer after a short amount of thinking. Do not spend excessive time \
double-checking your work.'
    """
    if thinking not in CLASS_PROMPTS:
        raise ConfigError(
            f"the thinking class must be one of {', '.join(map(repr, CLASS_PROMPTS))} (s1's "
            f"class-conditional prompts), got {thinking!r}"
        )
    return question + CLASS_PROMPTS[thinking]


def split_steps(thinking: str, separator: str = STEP_SEPARATOR) -> list[str]:
    """The thinking's steps: its blank-line-separated parts, stripped, empty ones dropped.

    Example:
        >>> split_steps("First.\\n\\nSecond.\\n\\n\\n  \\n\\nThird.")
        ['First.', 'Second.', 'Third.']
    """
    _check_separator(separator)
    return [part.strip() for part in thinking.split(separator) if part.strip()]


def count_steps(thinking: str, separator: str = STEP_SEPARATOR) -> int:
    """How many steps the thinking holds (what an SCC scaler counts against its budget).

    Example:
        >>> count_steps("4 steps left\\nx\\n\\n3 steps left\\ny"), count_steps("")
        (2, 0)
    """
    return len(split_steps(thinking, separator))


def cut_steps(thinking: str, n: int, separator: str = STEP_SEPARATOR) -> tuple[str, bool]:
    """The thinking up to the end of its ``n``-th step, and whether anything was cut.

    The text is kept as written (nothing stripped inside), so a model continued from the cut
    reads exactly what it wrote; what the cut drops starts with the separator before step
    ``n + 1``.

    Example:
        >>> cut_steps("a\\n\\nb\\n\\nc", 2)
        ('a\\n\\nb', True)
        >>> cut_steps("a\\n\\nb", 2)
        ('a\\n\\nb', False)
    """
    _check_separator(separator)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"the step budget must be a whole number >= 0, got {n!r}")
    parts = thinking.split(separator)
    seen = 0
    for i, part in enumerate(parts):
        if part.strip():
            seen += 1
            if seen == n:
                kept = separator.join(parts[: i + 1])
                return kept, any(p.strip() for p in parts[i + 1 :])
    if n == 0:
        return "", bool(thinking.strip())
    return thinking, False


def mark_steps(
    steps: Sequence[str],
    budget: int | None = None,
    *,
    marker: str = STEP_MARKER,
    separator: str = STEP_SEPARATOR,
) -> str:
    """SCC training thinking: each step opened by a ``"K steps left"`` line, K counting down.

    The first step says ``budget`` steps are left (this one included), the next one less, and so
    on; ``budget`` None uses the number of steps (the last step then says ``1 steps left``, with
    s1's plural).

    Raises:
        ConfigError: fewer budget steps than steps.

    Example:
        >>> mark_steps(["x", "y"])
        '2 steps left\\nx\\n\\n1 steps left\\ny'
    """
    _check_separator(separator)
    total = len(steps) if budget is None else _budget(budget, "step")
    if total < len(steps):
        raise ConfigError(
            f"a budget of {total} steps cannot mark {len(steps)} steps; give a budget >= the "
            "number of steps."
        )
    return separator.join(marker.format(k=total - i) + step for i, step in enumerate(steps))


def _check_separator(separator: object) -> None:
    if not isinstance(separator, str) or not separator:
        raise ConfigError(f"the step separator must be a non-empty string, got {separator!r}")


def _token_counts(tokenizer: TokenCounter, texts: Sequence[str]) -> list[int]:
    """Each text's tokens: through ``tokenizer.encode`` (no special tokens), or a counter."""
    if isinstance(tokenizer, str):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    encode = getattr(tokenizer, "encode", None)
    if callable(encode):
        return [len(encode(text, add_special_tokens=False)) for text in texts]
    if callable(tokenizer):
        return [int(tokenizer(text)) for text in texts]
    raise ConfigError(
        "tokenizer must be the student's tokenizer (an object with encode(), or its name or "
        f"folder) or a function from a text to its token count, got {type(tokenizer).__name__}"
    )


def _trace_columns(dataset: Dataset) -> Dataset:
    """``dataset`` with its trace in s1K's columns, or a DataError saying what is missing."""
    from ..trace_columns import with_traces

    dataset = with_traces(dataset)
    missing = [c for c in ("question", "thinking_trajectories") if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"the Dataset lacks {missing}; conditioning needs traces in the s1K columns "
            "(question, thinking_trajectories, attempt): distil with a teacher first."
        )
    return dataset


def _replaced(dataset: Dataset, columns: dict[str, list[Any]]) -> Dataset:
    """``dataset`` with ``columns`` replaced, keeping their types (strings, lists of strings)."""
    from datasets import Sequence as Listed
    from datasets import Value

    features = {"question": Value("string"), "thinking_trajectories": Listed(Value("string"))}
    dataset = dataset.remove_columns([c for c in columns if c in dataset.column_names])
    for name, values in columns.items():
        dataset = dataset.add_column(name, values, feature=features[name])
    return dataset


def token_conditioned(
    dataset: Dataset, tokenizer: TokenCounter, *, instruction: str = TOKENS_INSTRUCTION
) -> Dataset:
    """Traces for a TCC student: each question asks for the trace's length, rounded up.

    ``N`` is the thinking's token count in the student's tokenizer (the stripped thinking, as the
    student format trains on it), rounded up to a power of two (s1's buckets); the question gets
    ``"\\n\\nThink for up to N tokens."``. The thinking and every other column are unchanged.

    Args:
        dataset: Traces in the s1K columns (or s1K-1.1's, read as every stage reads them).
        tokenizer: The student's tokenizer, its name or folder, or a function text -> tokens.
        instruction: The instruction's template (``{n}``: the budget).

    Raises:
        DataError: the Dataset holds no traces.
        ConfigError: ``tokenizer`` is none of the above.

    Example:
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"question": ["1+1?"], "thinking_trajectories": [["one two "
        ...                         "three"]], "attempt": ["2"]})
        >>> token_conditioned(ds, lambda text: len(text.split()))[0]["question"]
        '1+1?\\n\\nThink for up to 4 tokens.'
    """
    from ..trace_columns import thinking_text

    dataset = _trace_columns(dataset)
    thinking = [thinking_text(t).strip() for t in dataset["thinking_trajectories"]]
    counts = _token_counts(tokenizer, thinking)
    questions = [
        with_token_budget(q, power_of_two_at_least(c), instruction)
        for q, c in zip(dataset["question"], counts, strict=True)
    ]
    return _replaced(dataset, {"question": questions})


def step_conditioned(
    dataset: Dataset,
    *,
    separator: str = STEP_SEPARATOR,
    marker: str = STEP_MARKER,
    round_up: bool = True,
    instruction: str = STEPS_INSTRUCTION,
) -> Dataset:
    """Traces for an SCC student: step budgets in the questions, ``K steps left`` in the thinking.

    Each trace's thinking is cut into steps on ``separator`` (:func:`split_steps`); its budget
    ``N`` is the number of steps, rounded up to a power of two with ``round_up`` (as TCC's; s1
    evaluated SCC at 16 to 256 steps). The question gets ``"\\n\\nThink for up to N steps."`` and
    the thinking becomes :func:`mark_steps`' text, counting down from ``N``.

    Args:
        dataset: Traces in the s1K columns (or s1K-1.1's).
        separator: What ends a step (s1: a blank line). The demo's traces write one step per
            line: use ``"\\n"`` for them.
        marker: The line that opens a step (``{k}``: steps left).
        round_up: Round the budget up to a power of two (False: exactly the steps written).
        instruction: The instruction's template (``{n}``: the budget).

    Raises:
        DataError: the Dataset holds no traces.

    Example:
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"question": ["1+1?"], "attempt": ["2"],
        ...                         "thinking_trajectories": [["a\\n\\nb\\n\\nc"]]})
        >>> row = step_conditioned(ds)[0]
        >>> row["question"]
        '1+1?\\n\\nThink for up to 4 steps.'
        >>> row["thinking_trajectories"]
        ['4 steps left\\na\\n\\n3 steps left\\nb\\n\\n2 steps left\\nc']
    """
    from ..trace_columns import thinking_text

    dataset = _trace_columns(dataset)
    questions, thinkings = [], []
    for question, cell in zip(dataset["question"], dataset["thinking_trajectories"], strict=True):
        steps = split_steps(thinking_text(cell), separator)
        budget = max(1, power_of_two_at_least(len(steps)) if round_up else len(steps))
        questions.append(with_step_budget(question, budget, instruction))
        thinkings.append([mark_steps(steps, budget, marker=marker, separator=separator)])
    return _replaced(dataset, {"question": questions, "thinking_trajectories": thinkings})


def conditioned(
    dataset: Dataset,
    kind: Literal["tokens", "steps"],
    *,
    tokenizer: TokenCounter = None,
    separator: str = STEP_SEPARATOR,
) -> Dataset:
    """The training transform a trainer applies on request: ``"tokens"`` (TCC) or ``"steps"``.

    Raises:
        ConfigError: an unknown kind, or ``"tokens"`` without a tokenizer.

    Example:
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"question": ["q"], "thinking_trajectories": [["a b"]],
        ...                         "attempt": ["2"]})
        >>> conditioned(ds, "tokens", tokenizer=lambda t: len(t.split()))[0]["question"]
        'q\\n\\nThink for up to 2 tokens.'
    """
    if kind == "tokens":
        if tokenizer is None:
            raise ConfigError(
                "token conditioning counts each trace's tokens: pass tokenizer= (the student's)."
            )
        return token_conditioned(dataset, tokenizer)
    if kind == "steps":
        return step_conditioned(dataset, separator=separator)
    raise ConfigError(
        f"conditioning must be one of {', '.join(map(repr, CONDITIONINGS))} (s1's token- and "
        f"step-conditional control), got {kind!r}"
    )
