r"""Benchmarks: AIME 2024 / 2025, MATH500, GPQA-Diamond, AMC 2023, Minerva Math, any local file.

Each built-in is a frozen dataclass registered under its name, so ``tr.benchmark("aime24")`` builds
it and ``tr.evaluate(model, "aime24")`` runs it. Every one has a ``name``, an ``answer_kind`` (how
answers are extracted and graded), a ``max_new_tokens`` (the generation budget s1 used) and
``problems()``, which returns :class:`~tinyreason.Problem`\ s with ids (``"<name>-<source id or
row>"``) and reference answers. Options:

* ``path=``: a local JSON / JSONL / Parquet / CSV file, or a list of them, read instead of the hub
  (offline use). Columns are found by name whatever the source calls them: the question in
  ``question`` / ``problem`` / ``Question``, the answer in ``answer`` / ``Answer``; with no answer
  column, the answer is extracted from the ``solution``'s ``\boxed{}`` (Minerva's files).
* ``limit=``: keep the first ``limit`` problems.
* ``revision=``: the hub revision (a commit, tag or branch); defaults pin a commit where one is
  known (see below), else the dataset's main branch.
* ``prompt=``: the prompt template by name (``"s1"``; GPQA also ``"s1k"``), see below.
* ``extraction=``: ``"s1"`` (s1's own answer extraction) or ``"tinyreason"`` (ours); it sets
  ``answer_kind``: ``"s1-integer"`` / ``"integer"`` for AIME, ``"s1-math"`` / ``"math"`` for
  MATH500 / AMC / Minerva, ``"s1-multiple_choice"`` / ``"multiple_choice"`` for GPQA.
* ``max_new_tokens=``: tokens a generation may take (None: the scaler sizes it from its budget).

**s1's evaluation settings are the defaults** for the four benchmarks s1 reports (its
lm-evaluation-harness fork, simplescaling/s1 @77272c6, ``eval/lm-evaluation-harness/lm_eval/
tasks``): the prompt is s1's ``doc_to_text`` (the question alone for AIME and MATH500; for GPQA
``"{question}\n\nA) ...\nB) ...\nC) ...\nD) ..."``), rendered by the student's chat template; the
answer is read by s1's rule (``extraction="s1"``, :mod:`tinyreason.answers.s1`); and a
generation may take 32,768 new tokens (``max_gen_toks=32768`` in s1's ``eval/commands.sh``),
greedy with no stop strings (the scaler's defaults). AMC23 and Minerva Math, which s1 does not
report, keep tinyreason's extraction and take the same 32,768-token budget.

=================  ==========================  =====  =====  ============  ================
name               hub dataset (config)        split  rows   extraction    default revision
=================  ==========================  =====  =====  ============  ================
``aime24``         HuggingFaceH4/aime_2024     train  30     s1            main
``aime25``         MathArena/aime_2025         train  30     s1            main
``math500``        HuggingFaceH4/MATH-500      test   500    s1            ``ff5b202``
``gpqa-diamond``   Idavidrein/gpqa             train  198    s1            ``633f5ee``
                   (gpqa_diamond; gated)
``amc23``          math-ai/amc23               test   40     tinyreason    main
``minerva-math``   math-ai/minervamath         test   272    tinyreason    main
=================  ==========================  =====  =====  ============  ================

These are the copies open reasoning evaluations most often load. s1 itself reads AIME24 from
``simplescaling/aime24_nofigures`` (the same 30 problems, with Asymptote figure code kept only where
a problem needs it), AIME25 from ``TIGER-Lab/AIME25`` and MATH500 from the test split of
``simplescaling/openaimath``; pass such a copy with ``path=``, or use :class:`LocalBenchmark`. Only
MATH500 and GPQA pin a commit: the others default to the main branch, so pass ``revision=`` to pin
what you ran (the report's manifest records the source either way). GPQA is gated: accept its
terms on the hub and log in (``huggingface-cli login``) once. With ``HF_HUB_OFFLINE=1`` and nothing
cached, loading fails at once with a :class:`~tinyreason.errors.DataError` that says to pass
``path=`` or go online.

GPQA rows hold a question, the correct answer and three incorrect ones. The four options
``[incorrect 1, incorrect 2, incorrect 3, correct]`` are shuffled with one ``random.Random(seed)``
(seed 42, as s1's ``data/fix_gpqa.py``; s1's evaluation shuffles unseeded) drawn in row order, and
the answer is the correct option's letter. ``prompt="s1"`` (the default) renders s1's evaluation
prompt from the cells as they are; ``prompt="s1k"`` renders the template of s1K's training rows
(``"{question}\nAnswer Choices:\n(A) ...\n(B) ..."``, cells stripped), the default before. A file
whose rows already have a ``question`` and a letter ``answer`` is read as it is.

:class:`LocalBenchmark` turns any local file into a benchmark, naming its columns when they are not
found automatically.

Registering your own benchmark: any object with ``name`` and ``problems()`` fits (an
``answer_kind`` attribute sets ``tr.evaluate``'s default extraction, a ``max_new_tokens`` attribute
its generation budget). Register its factory in a plugin's ``register_benchmarks`` hook::

    import tinyreason as tr
    from tinyreason.evaluation.benchmarks import LocalBenchmark

    @tr.hookimpl
    def register_benchmarks(register):
        register("my-olympiad", lambda limit=None: LocalBenchmark(
            "my-olympiad", "data/olympiad.jsonl", answer_kind="math", limit=limit))

Ship it as a package with a ``tinyreason`` entry point (docs/plugins.md), or, in a notebook, call
``tr.register_plugin(obj)`` with an object that has that hook as a method. Then
``tr.evaluate(model, "my-olympiad")`` works like the built-ins.

Example:
    >>> import tinyreason as tr
    >>> bench = tr.benchmark("aime24", path="aime24.jsonl", limit=5)
    >>> bench.name, bench.answer_kind, bench.prompt_template, bench.max_new_tokens
    ('aime24', 's1-integer', '{question}', 32768)
    >>> tr.benchmark("aime24", extraction="tinyreason").answer_kind
    'integer'
    >>> len(bench.problems())  # doctest: +SKIP
    5
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..answers import EXTRACTIONS, answer_kind_for, extract_answer
from ..errors import ConfigError, DataError
from ..records import Problem
from .readers import (  # noqa: F401 - ANSWER_COLUMNS, ID_COLUMNS, PathLike: importable from here
    ANSWER_COLUMNS,
    DOMAIN_COLUMNS,
    ID_COLUMNS,
    QUESTION_COLUMNS,
    SOLUTION_COLUMNS,
    LocalBenchmark,
    PathLike,
    Paths,
    _check,
    _check_limit,
    _first,
    _math_problem,
    _max_new_tokens_problems,
    _paths,
    _problem_id,
    _text,
    read_rows,
)

__all__ = [
    "AIME24",
    "AIME25",
    "AMC23",
    "MATH500",
    "S1K_GPQA_PROMPT",
    "S1_GPQA_PROMPT",
    "S1_MATH_PROMPT",
    "S1_MAX_NEW_TOKENS",
    "GPQADiamond",
    "HubSource",
    "LocalBenchmark",
    "MinervaMath",
    "read_rows",
]

#: s1's prompt for AIME24 / AIME25 / MATH500 (``QUERY_TEMPLATE = '{Question}'``): the question.
S1_MATH_PROMPT = "{question}"
#: s1's GPQA prompt (``gpqa/openai/utils.py``'s ``QUERY_TEMPLATE``), options after shuffling.
S1_GPQA_PROMPT = "{question}\n\nA) {choice1}\nB) {choice2}\nC) {choice3}\nD) {choice4}"
#: The GPQA template of s1K's training rows (``data/fix_gpqa.py``); ``prompt="s1k"``.
S1K_GPQA_PROMPT = (
    "{question}\nAnswer Choices:\n(A) {choice1}\n(B) {choice2}\n(C) {choice3}\n(D) {choice4}"
)
#: New tokens per generation in s1's evaluation (``max_gen_toks=32768``, ``eval/commands.sh``).
S1_MAX_NEW_TOKENS = 32768

_GPQA_COLUMNS = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")


@dataclass(frozen=True)
class HubSource:
    """Where a benchmark lives on the Hugging Face hub.

    Example:
        >>> MATH500.hub.dataset, MATH500.hub.split
        ('HuggingFaceH4/MATH-500', 'test')
    """

    dataset: str
    config: str | None = None
    split: str = "train"
    gated: bool = False


# -- the built-in benchmarks --------------------------------------------------------------------


@dataclass(frozen=True)
class _HubBenchmark:
    """What every built-in shares: read ``path`` or the hub, then normalise the rows."""

    path: Paths | None = None
    limit: int | None = None
    revision: str | None = None
    prompt: str = "s1"
    extraction: str = "s1"
    max_new_tokens: int | None = S1_MAX_NEW_TOKENS
    name: str = field(default="", init=False)
    hub: ClassVar[HubSource]
    #: The answers' kind before the extraction rule is applied ("integer", "math"...).
    base_kind: ClassVar[str] = "math"
    #: The prompt templates by name; ``prompt`` picks one.
    prompts: ClassVar[Mapping[str, str]] = {"s1": S1_MATH_PROMPT}

    def __post_init__(self) -> None:
        problems = _check_limit(self.limit)
        if self.path is not None:
            try:
                _paths(self.path)
            except ConfigError as err:
                problems.extend(err.problems)
        if self.revision is not None and (not isinstance(self.revision, str) or not self.revision):
            problems.append(f"revision must be a commit, tag or branch name, got {self.revision!r}")
        if self.prompt not in self.prompts:
            problems.append(
                f"prompt must be one of {', '.join(map(repr, self.prompts))} for {self.name!r}, "
                f"got {self.prompt!r}"
            )
        if self.extraction not in EXTRACTIONS:
            problems.append(
                f"extraction must be one of {', '.join(map(repr, EXTRACTIONS))} ('s1': s1's "
                f"answer extraction), got {self.extraction!r}"
            )
        problems += _max_new_tokens_problems(self.max_new_tokens)
        if problems:
            raise ConfigError(problems)

    @property
    def answer_kind(self) -> str:
        """How answers are extracted and graded: ``base_kind`` under the ``extraction`` rule."""
        return answer_kind_for(self.base_kind, self.extraction)

    @property
    def prompt_template(self) -> str:
        """The template the question is rendered with (``{question}``, ``{choice1}``...)."""
        return self.prompts[self.prompt]

    @property
    def source(self) -> str:
        """Where the rows come from: the file(s), or ``hub:<dataset>[/<config>]@<revision>``."""
        if self.path is not None:
            return ", ".join(str(p) for p in _paths(self.path))
        config = f"/{self.hub.config}" if self.hub.config else ""
        return f"hub:{self.hub.dataset}{config}@{self.revision or 'main'} ({self.hub.split})"

    def describe(self) -> dict[str, Any]:
        """Name, answer kind, source, limit and the evaluation settings, for a report's manifest.

        Example:
            >>> d = AIME24(path="aime24.jsonl").describe()
            >>> d["prompt"], d["prompt_template"], d["extraction"], d["max_new_tokens"]
            ('s1', '{question}', 's1', 32768)
        """
        return {
            "name": self.name,
            "answer_kind": self.answer_kind,
            "source": self.source,
            "limit": self.limit,
            "prompt": self.prompt,
            "prompt_template": self.prompt_template,
            "extraction": self.extraction,
            "max_new_tokens": self.max_new_tokens,
        }

    def rows(self) -> list[dict[str, Any]]:
        """The raw rows, from ``path`` or the hub (first ``limit`` only)."""
        rows = read_rows(self.path) if self.path is not None else self._hub_rows()
        return rows[: self.limit] if self.limit is not None else rows

    def _hub_rows(self) -> list[dict[str, Any]]:
        try:
            from datasets import load_dataset

            dataset = load_dataset(
                self.hub.dataset, self.hub.config, split=self.hub.split, revision=self.revision
            )
        except Exception as exc:  # offline, gated, renamed: all mean "use a local file"
            detail = f"{type(exc).__name__}: {exc}"
            gated = (
                " It is gated: accept its terms on huggingface.co, then `huggingface-cli login`."
                if self.hub.gated
                else ""
            )
            raise DataError(
                f"could not load the {self.name!r} benchmark from the Hugging Face hub "
                f"({self.source}): {detail[:300]}.{gated} Pass a local copy instead, "
                f"tr.benchmark({self.name!r}, path='{self.name}.jsonl') (JSON, JSONL, Parquet "
                "or CSV), or go online (unset HF_HUB_OFFLINE)."
            ) from exc
        return [dict(row) for row in dataset]

    def problems(self) -> list[Problem]:
        """The problems, each with an id, the rendered question and a reference answer.

        Raises:
            DataError: the data cannot be loaded, is empty, or a problem has no answer.
        """
        rows = self.rows()
        problems = [self._problem(i, row) for i, row in enumerate(rows)]
        return _check(self.name, problems, self.source)

    def _problem(self, index: int, row: Mapping[str, Any]) -> Problem:
        return _math_problem(
            self.name,
            self.base_kind,
            index,
            row,
            source=self.source,
            template=self.prompt_template,
        )


@dataclass(frozen=True)
class AIME24(_HubBenchmark):
    """AIME 2024: 30 problems (I and II), each answer a whole number 0-999.

    Example:
        >>> AIME24(path="aime24.jsonl", limit=10).answer_kind
        's1-integer'
        >>> problems = AIME24().problems()  # doctest: +SKIP
    """

    name: str = field(default="aime24", init=False)
    hub: ClassVar[HubSource] = HubSource("HuggingFaceH4/aime_2024", split="train")
    base_kind: ClassVar[str] = "integer"


@dataclass(frozen=True)
class AIME25(_HubBenchmark):
    """AIME 2025: 30 problems (I and II), each answer a whole number 0-999.

    Example:
        >>> AIME25(path="aime25.json").name
        'aime25'
        >>> problems = AIME25().problems()  # doctest: +SKIP
    """

    name: str = field(default="aime25", init=False)
    hub: ClassVar[HubSource] = HubSource("MathArena/aime_2025", split="train")
    base_kind: ClassVar[str] = "integer"


@dataclass(frozen=True)
class MATH500(_HubBenchmark):
    """MATH500: the 500 MATH test problems of "Let's Verify Step by Step" (PRM800K's split).

    Example:
        >>> MATH500().revision
        'ff5b20257d8185524591543f8ff5993951537bb8'
        >>> problems = MATH500(limit=50).problems()  # doctest: +SKIP
    """

    revision: str | None = "ff5b20257d8185524591543f8ff5993951537bb8"
    name: str = field(default="math500", init=False)
    hub: ClassVar[HubSource] = HubSource("HuggingFaceH4/MATH-500", split="test")


@dataclass(frozen=True)
class AMC23(_HubBenchmark):
    """AMC 2023: 40 problems (AMC 12A and 12B), answers as numbers (not in s1: ours extract).

    Example:
        >>> AMC23(path="amc23.jsonl").answer_kind
        'math'
        >>> problems = AMC23().problems()  # doctest: +SKIP
    """

    extraction: str = "tinyreason"
    name: str = field(default="amc23", init=False)
    hub: ClassVar[HubSource] = HubSource("math-ai/amc23", split="test")


@dataclass(frozen=True)
class MinervaMath(_HubBenchmark):
    r"""Minerva Math (OCWCourses): 272 undergraduate science problems; answers from ``\boxed{}``.

    Not in s1, so tinyreason's extraction is the default.

    Example:
        >>> MinervaMath(path="minerva_math.jsonl").name
        'minerva-math'
        >>> problems = MinervaMath().problems()  # doctest: +SKIP
    """

    extraction: str = "tinyreason"
    name: str = field(default="minerva-math", init=False)
    hub: ClassVar[HubSource] = HubSource("math-ai/minervamath", split="test")


@dataclass(frozen=True)
class GPQADiamond(_HubBenchmark):
    """GPQA-Diamond: 198 graduate-level science questions, four options shuffled with ``seed``.

    Args:
        path: Local file(s) with GPQA's columns (``Question``, ``Correct Answer``, ``Incorrect
            Answer 1``-``3``), or rows already holding a ``question`` with options and a letter
            ``answer`` (read as they are: ``prompt`` does not apply to them).
        limit: Keep the first ``limit`` questions (their options shuffle as in the full set).
        revision: The hub revision of ``Idavidrein/gpqa``.
        prompt: ``"s1"``: s1's evaluation prompt, :data:`S1_GPQA_PROMPT`, from the cells as they
            are; ``"s1k"``: s1K's training rows' template, :data:`S1K_GPQA_PROMPT`, cells stripped
            (the default before).
        extraction: ``"s1"`` (a letter A-D by s1's rule, else unparsed) or ``"tinyreason"``.
        max_new_tokens: Tokens a generation may take (s1: 32,768).
        seed: Seed of the option shuffle (s1's ``fix_gpqa.py`` uses 42).

    Example:
        >>> bench = GPQADiamond(path="gpqa_diamond.csv", seed=42)
        >>> bench.answer_kind, GPQADiamond(prompt="s1k", extraction="tinyreason").answer_kind
        ('s1-multiple_choice', 'multiple_choice')
        >>> bench.problems()[0].question  # doctest: +SKIP
        'Which particle carries the electromagnetic force?\\n\\nA) gluon\\nB) W boson\\n...'
    """

    revision: str | None = "633f5ee89ab8ad4522a9f850766b73f62147ffdd"
    seed: int = 42
    name: str = field(default="gpqa-diamond", init=False)
    hub: ClassVar[HubSource] = HubSource(
        "Idavidrein/gpqa", config="gpqa_diamond", split="train", gated=True
    )
    base_kind: ClassVar[str] = "multiple_choice"
    prompts: ClassVar[Mapping[str, str]] = {"s1": S1_GPQA_PROMPT, "s1k": S1K_GPQA_PROMPT}

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be a whole number, got {self.seed!r}")

    def describe(self) -> dict[str, Any]:
        """As every built-in's, with the option shuffle's ``seed``."""
        return {**super().describe(), "seed": self.seed}

    def problems(self) -> list[Problem]:
        """The questions with their four options shuffled, each answer the right option's letter.

        Raises:
            DataError: the data cannot be loaded, is empty, or a row lacks GPQA's columns.
        """
        # One RNG drawn in row order, as s1 does: row i's order never depends on `limit`.
        rng = random.Random(self.seed)
        problems = [self._choice_problem(i, row, rng) for i, row in enumerate(self.rows())]
        return _check(self.name, problems, self.source)

    def _prebuilt(self, index: int, row: Mapping[str, Any]) -> Problem:
        """A row that already holds a question with options and a letter answer."""
        problem = _math_problem(self.name, self.base_kind, index, row, source=self.source)
        letter = extract_answer(problem.answer or "", kind="multiple_choice")
        if letter is None:
            raise DataError(
                f"row {index} of {self.name!r} has neither GPQA's columns "
                f"({', '.join(_GPQA_COLUMNS)}) nor a letter answer A-D (got {problem.answer!r})."
            )
        return Problem(
            problem.id,
            problem.question,
            answer=letter,
            solution=problem.solution,
            domain=problem.domain,
            source=problem.source,
            metadata=problem.metadata,
        )

    def _choice_problem(self, index: int, row: Mapping[str, Any], rng: random.Random) -> Problem:
        options = [_text(row.get(column)) for column in _GPQA_COLUMNS]
        if all(option is None for option in options):  # already a question with options
            return self._prebuilt(index, row)
        missing = [c for c, option in zip(_GPQA_COLUMNS, options, strict=True) if option is None]
        q_col, question = _first(row, QUESTION_COLUMNS)
        if missing or question is None:
            raise DataError(
                f"row {index} of {self.name!r} lacks {missing or ['Question']}; GPQA rows need "
                f"Question and {', '.join(_GPQA_COLUMNS)}."
            )
        if self.prompt == "s1":  # s1's process_docs and doc_to_text use the cells as they are
            question = str(row[q_col])  # type: ignore[index]
            options = [str(row[column]) for column in _GPQA_COLUMNS]
        correct, *incorrect = options
        choices: list[str] = [*incorrect, correct]  # type: ignore[list-item]
        rng.shuffle(choices)  # s1's order before shuffling: the three wrong ones, then the right
        letter = "ABCD"[choices.index(correct)]  # type: ignore[arg-type]
        _, domain = _first(row, DOMAIN_COLUMNS)
        _, solution = _first(row, SOLUTION_COLUMNS)
        rendered = self.prompt_template.format(
            question=question, **{f"choice{i}": choice for i, choice in enumerate(choices, 1)}
        )
        return Problem(
            id=_problem_id(self.name, row, index, None),
            question=rendered,
            answer=letter,
            solution=solution,
            domain=domain,
            source=self.source,
            metadata={
                "subdomain": _text(row.get("Subdomain")),
                "correct_answer": _text(correct),
                "seed": self.seed,
            },
        )
