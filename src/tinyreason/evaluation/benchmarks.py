r"""Benchmarks: AIME 2024 / 2025, MATH500, GPQA-Diamond, AMC 2023, Minerva Math, any local file.

Each built-in is a frozen dataclass registered under its name, so ``tr.benchmark("aime24")`` builds
it and ``tr.evaluate(model, "aime24")`` runs it. Every one has a ``name``, an ``answer_kind`` (how
answers are extracted and graded: ``"integer"`` for AIME, ``"math"`` for MATH500 / AMC / Minerva,
``"multiple_choice"`` for GPQA) and ``problems()``, which returns :class:`~tinyreason.Problem`\ s
with ids (``"<name>-<source id or row>"``) and reference answers. Options:

* ``path=``: a local JSON / JSONL / Parquet / CSV file, or a list of them, read instead of the hub
  (offline use). Columns are found by name whatever the source calls them: the question in
  ``question`` / ``problem`` / ``Question``, the answer in ``answer`` / ``Answer``; with no answer
  column, the answer is extracted from the ``solution``'s ``\boxed{}`` (Minerva's files).
* ``limit=``: keep the first ``limit`` problems.
* ``revision=``: the hub revision (a commit, tag or branch); defaults pin a commit where one is
  known (see below), else the dataset's main branch.

Without ``path`` the data comes from the Hugging Face hub, through ``datasets`` (cached after the
first download):

=================  ==========================  =============  =====  ============================
name               hub dataset (config)        split          rows   default revision
=================  ==========================  =============  =====  ============================
``aime24``         HuggingFaceH4/aime_2024     train          30     main
``aime25``         MathArena/aime_2025         train          30     main
``math500``        HuggingFaceH4/MATH-500      test           500    ``ff5b202`` (Nov 2024)
``gpqa-diamond``   Idavidrein/gpqa             train          198    ``633f5ee``
                   (gpqa_diamond; gated)
``amc23``          math-ai/amc23               test           40     main
``minerva-math``   math-ai/minervamath         test           272    main
=================  ==========================  =============  =====  ============================

These are the copies open reasoning evaluations most often load. s1 itself reads AIME24 from
``simplescaling/aime24_nofigures`` (the same 30 problems, with Asymptote figure code kept only where
a problem needs it) and MATH500 from the test split of ``simplescaling/openaimath``; pass such a
copy with ``path=``, or use :class:`LocalBenchmark`. Only MATH500 and GPQA pin a commit: the
others default to the main branch, so pass ``revision=`` to pin what you ran (the report's manifest
records the source either way). GPQA is gated: accept its terms on the hub and log in
(``huggingface-cli login``) once. With ``HF_HUB_OFFLINE=1`` and nothing cached, loading fails at
once with a :class:`~tinyreason.errors.DataError` that says to pass ``path=`` or go online.

GPQA rows hold a question, the correct answer and three incorrect ones. As in s1's
``data/fix_gpqa.py``, the four options are shuffled with one ``random.Random(seed)`` (seed 42)
drawn in row order, and the question reads ``"{Question}\nAnswer Choices:\n(A) ...\n(B) ...\n(C)
...\n(D) ..."``; the answer is the correct option's letter. A file whose rows already have a
``question`` and a letter ``answer`` is read as it is.

:class:`LocalBenchmark` turns any local file into a benchmark, naming its columns when they are not
found automatically.

Registering your own benchmark: any object with ``name`` and ``problems()`` fits (an
``answer_kind`` attribute sets ``tr.evaluate``'s default extraction). Register its factory in a
plugin's ``register_benchmarks`` hook::

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
    >>> bench.name, bench.answer_kind
    ('aime24', 'integer')
    >>> len(bench.problems())  # doctest: +SKIP
    5
"""

from __future__ import annotations

import csv
import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError, DataError
from ..records import Problem
from .answers import ANSWER_KINDS, extract_answer

__all__ = [
    "AIME24",
    "AIME25",
    "AMC23",
    "MATH500",
    "GPQADiamond",
    "HubSource",
    "LocalBenchmark",
    "MinervaMath",
    "read_rows",
]

PathLike = str | os.PathLike[str]
#: One file or several (read in order, as one table).
Paths = PathLike | Sequence[PathLike]

# Column names sources use for the same thing; the first one a row has wins.
QUESTION_COLUMNS = ("question", "problem", "Question", "Problem", "prompt")
ANSWER_COLUMNS = ("answer", "Answer", "final_answer", "expected_answer", "gold")
SOLUTION_COLUMNS = ("solution", "Solution", "Explanation")
ID_COLUMNS = ("id", "ID", "unique_id", "problem_idx", "idx", "Record ID", "problem_id")
DOMAIN_COLUMNS = ("subject", "type", "High-level domain", "domain")

_READERS = (".json", ".jsonl", ".parquet", ".csv")
_GPQA_TEMPLATE = "{question}\nAnswer Choices:\n(A) {0}\n(B) {1}\n(C) {2}\n(D) {3}"
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


# -- reading files ------------------------------------------------------------------------------


def _paths(path: Paths) -> list[Path]:
    items = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not items or not all(isinstance(p, (str, os.PathLike)) for p in items):
        raise ConfigError(
            f"path must be a file path or a non-empty list of them, got {path!r}; e.g. "
            "path='aime24.jsonl'."
        )
    return [Path(p) for p in items]


def _json_rows(path: Path, text: str) -> list[Any]:
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # maybe JSON lines in a .json file: read below
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            # {"data": [...]}: the one list of rows inside an object; else the object is one row.
            lists = [
                v
                for v in data.values()
                if isinstance(v, list) and v and all(isinstance(r, Mapping) for r in v)
            ]
            if not lists:
                return [data]
            if len(lists) == 1:
                return lists[0]
            raise DataError(
                f"{path} holds several lists of rows in one JSON object; write one list of "
                "objects (or JSON lines) per file."
            )
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {number}: not valid JSON ({exc.msg}).") from exc
    return rows


def _read_one(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise DataError(
            f"cannot tell how to read {path}: use a {', '.join(_READERS)} file (by its suffix)."
        )
    if suffix == ".parquet":
        import pyarrow.parquet as pq  # datasets depends on pyarrow, so it is always there

        try:
            rows: list[Any] = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several kinds for a damaged file
            raise DataError(f"could not read {path} as Parquet ({exc}).") from exc
    elif suffix == ".csv":
        # utf-8-sig: spreadsheets (and GPQA's own CSV) start with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    else:
        rows = _json_rows(path, path.read_text(encoding="utf-8"))
    bad = [i for i, row in enumerate(rows) if not isinstance(row, Mapping)]
    if bad:
        raise DataError(f"{path}: rows {bad[:5]} are not objects; each row must be a JSON object.")
    return [dict(row) for row in rows]


def read_rows(path: Paths) -> list[dict[str, Any]]:
    """Read the rows of a local JSON / JSONL / Parquet / CSV file, or of several in order.

    Plain Python values, no ``datasets`` cache: a JSON file may hold a list of objects, an object
    with one list of them, a single object, or JSON lines; CSV cells are strings.

    Raises:
        DataError: a file is missing, of an unknown kind, or malformed.

    Example:
        >>> import json, tempfile, pathlib
        >>> file = pathlib.Path(tempfile.mkdtemp()) / "tiny.jsonl"
        >>> _ = file.write_text(json.dumps({"problem": "1+1?", "answer": 2}))
        >>> read_rows(file)
        [{'problem': '1+1?', 'answer': 2}]
    """
    return [row for p in _paths(path) for row in _read_one(p)]


# -- rows to problems ---------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    """A cell as text: AMC's float answers (27.0) become "27"; blanks become None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, tuple)):  # some sets store the answer as a one-item list
        value = value[0] if len(value) == 1 else ", ".join(map(str, value))
    text = str(value).strip()
    return text or None


def _first(row: Mapping[str, Any], columns: Sequence[str]) -> tuple[str | None, str | None]:
    """The first of ``columns`` that ``row`` has a non-blank value in: (column, text)."""
    for column in columns:
        text = _text(row.get(column))
        if text is not None:
            return column, text
    return None, None


def _reference(answer: str | None, solution: str | None, kind: str) -> str | None:
    r"""The reference answer: the answer cell, else what the solution boxes (or states)."""
    if answer is None and solution is not None and _states_answer(solution):
        answer = extract_answer(solution, kind=kind)
    if answer is not None and kind == "integer":
        # AIME answers are written "025" in some copies; graders see 25 either way, but votes and
        # rows read better with one spelling.
        digits = answer.lstrip("+")
        if digits.isdigit():
            answer = str(int(digits))
    return answer


def _states_answer(solution: str) -> bool:
    r"""True when a solution has a closed ``oxed{}`` or an answer line.

    extract_answer's last resort, the last number in the text, is fine for a model's output but no
    reference: a worked solution's last number is often an intermediate step.
    """
    from .answers import _last_answer_line, last_boxed

    return last_boxed(solution) is not None or _last_answer_line(solution) is not None


def _metadata(row: Mapping[str, Any], used: set[str | None]) -> dict[str, Any]:
    """The columns not already in a Problem field, JSON-friendly."""
    return {
        key: value
        for key, value in row.items()
        if key not in used and isinstance(value, (str, int, float, bool, type(None), list, dict))
    }


def _problem_id(name: str, row: Mapping[str, Any], index: int, id_column: str | None) -> str:
    if id_column is not None:
        raw = _text(row.get(id_column))
        if raw is None:
            raise DataError(f"row {index} of {name!r} has no id in column {id_column!r}.")
    else:
        _, raw = _first(row, ID_COLUMNS)
    return f"{name}-{raw if raw is not None else index}"


def _math_problem(
    name: str,
    kind: str,
    index: int,
    row: Mapping[str, Any],
    *,
    source: str,
    question_column: str | None = None,
    answer_column: str | None = None,
    id_column: str | None = None,
    solution_column: str | None = None,
) -> Problem:
    q_col, question = _first(row, [question_column] if question_column else QUESTION_COLUMNS)
    if question is None:
        wanted = question_column or " / ".join(QUESTION_COLUMNS)
        raise DataError(
            f"row {index} of {name!r} has no question (looked in {wanted}; the row has "
            f"{sorted(row)}); name the column with question_column=..."
        )
    a_col, answer = _first(row, [answer_column] if answer_column else ANSWER_COLUMNS)
    s_col, solution = _first(row, [solution_column] if solution_column else SOLUTION_COLUMNS)
    i_col = id_column if id_column else next((c for c in ID_COLUMNS if c in row), None)
    d_col, domain = _first(row, DOMAIN_COLUMNS)
    return Problem(
        id=_problem_id(name, row, index, id_column),
        question=question,
        answer=_reference(answer, solution, kind),
        solution=solution,
        domain=domain,
        source=source,
        metadata=_metadata(row, {q_col, a_col, s_col, i_col, d_col, *QUESTION_COLUMNS}),
    )


def _check(name: str, problems: list[Problem], where: str) -> list[Problem]:
    """Refuse an empty benchmark, problems without answers, or repeated ids, saying how to fix."""
    if not problems:
        raise DataError(f"the benchmark {name!r} has no problems: {where} holds no rows.")
    unanswered = [p.id for p in problems if p.answer is None]
    if unanswered:
        raise DataError(
            f"{len(unanswered)} problem(s) of {name!r} have no reference answer (e.g. "
            f"{unanswered[:3]}): no answer column and no \\boxed{{}} answer in a solution. Name "
            "the column with answer_column=... (LocalBenchmark) or fix the file."
        )
    seen: set[str] = set()
    repeated = sorted({p.id for p in problems if p.id in seen or seen.add(p.id)})  # type: ignore[func-returns-value]
    if repeated:
        raise DataError(
            f"problem ids repeat in {name!r}: {repeated[:5]}; give each row a unique id (or "
            "drop the id column so row numbers are used)."
        )
    return problems


def _check_limit(limit: Any) -> list[str]:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        return [f"limit must be a whole number >= 1 or None, got {limit!r}"]
    return []


# -- the built-in benchmarks --------------------------------------------------------------------


@dataclass(frozen=True)
class _HubBenchmark:
    """What every built-in shares: read ``path`` or the hub, then normalise the rows."""

    path: Paths | None = None
    limit: int | None = None
    revision: str | None = None
    name: str = field(default="", init=False)
    answer_kind: str = field(default="math", init=False)
    hub: ClassVar[HubSource]

    def __post_init__(self) -> None:
        problems = _check_limit(self.limit)
        if self.path is not None:
            try:
                _paths(self.path)
            except ConfigError as err:
                problems.extend(err.problems)
        if self.revision is not None and (not isinstance(self.revision, str) or not self.revision):
            problems.append(f"revision must be a commit, tag or branch name, got {self.revision!r}")
        if problems:
            raise ConfigError(problems)

    @property
    def source(self) -> str:
        """Where the rows come from: the file(s), or ``hub:<dataset>[/<config>]@<revision>``."""
        if self.path is not None:
            return ", ".join(str(p) for p in _paths(self.path))
        config = f"/{self.hub.config}" if self.hub.config else ""
        return f"hub:{self.hub.dataset}{config}@{self.revision or 'main'} ({self.hub.split})"

    def describe(self) -> dict[str, Any]:
        """Name, answer kind, source and limit, for a report's manifest."""
        return {
            "name": self.name,
            "answer_kind": self.answer_kind,
            "source": self.source,
            "limit": self.limit,
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
        """The problems, each with an id and a reference answer.

        Raises:
            DataError: the data cannot be loaded, is empty, or a problem has no answer.
        """
        rows = self.rows()
        problems = [self._problem(i, row) for i, row in enumerate(rows)]
        return _check(self.name, problems, self.source)

    def _problem(self, index: int, row: Mapping[str, Any]) -> Problem:
        return _math_problem(self.name, self.answer_kind, index, row, source=self.source)


@dataclass(frozen=True)
class AIME24(_HubBenchmark):
    """AIME 2024: 30 problems (I and II), each answer a whole number 0-999.

    Example:
        >>> AIME24(path="aime24.jsonl", limit=10).answer_kind
        'integer'
        >>> problems = AIME24().problems()  # doctest: +SKIP
    """

    name: str = field(default="aime24", init=False)
    answer_kind: str = field(default="integer", init=False)
    hub: ClassVar[HubSource] = HubSource("HuggingFaceH4/aime_2024", split="train")


@dataclass(frozen=True)
class AIME25(_HubBenchmark):
    """AIME 2025: 30 problems (I and II), each answer a whole number 0-999.

    Example:
        >>> AIME25(path="aime25.jsonl").name
        'aime25'
        >>> problems = AIME25().problems()  # doctest: +SKIP
    """

    name: str = field(default="aime25", init=False)
    answer_kind: str = field(default="integer", init=False)
    hub: ClassVar[HubSource] = HubSource("MathArena/aime_2025", split="train")


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
    answer_kind: str = field(default="math", init=False)
    hub: ClassVar[HubSource] = HubSource("HuggingFaceH4/MATH-500", split="test")


@dataclass(frozen=True)
class AMC23(_HubBenchmark):
    """AMC 2023: 40 problems (AMC 12A and 12B), answers as numbers.

    Example:
        >>> AMC23(path="amc23.jsonl").answer_kind
        'math'
        >>> problems = AMC23().problems()  # doctest: +SKIP
    """

    name: str = field(default="amc23", init=False)
    answer_kind: str = field(default="math", init=False)
    hub: ClassVar[HubSource] = HubSource("math-ai/amc23", split="test")


@dataclass(frozen=True)
class MinervaMath(_HubBenchmark):
    r"""Minerva Math (OCWCourses): 272 undergraduate science problems; answers from ``\boxed{}``.

    Example:
        >>> MinervaMath(path="minerva_math.jsonl").name
        'minerva-math'
        >>> problems = MinervaMath().problems()  # doctest: +SKIP
    """

    name: str = field(default="minerva-math", init=False)
    answer_kind: str = field(default="math", init=False)
    hub: ClassVar[HubSource] = HubSource("math-ai/minervamath", split="test")


@dataclass(frozen=True)
class GPQADiamond(_HubBenchmark):
    """GPQA-Diamond: 198 graduate-level science questions, four options shuffled with ``seed``.

    Args:
        path: Local file(s) with GPQA's columns (``Question``, ``Correct Answer``, ``Incorrect
            Answer 1``-``3``), or rows already holding a ``question`` with options and a letter
            ``answer``.
        limit: Keep the first ``limit`` questions (their options shuffle as in the full set).
        revision: The hub revision of ``Idavidrein/gpqa``.
        seed: Seed of the option shuffle (s1's ``fix_gpqa.py`` uses 42).

    Example:
        >>> bench = GPQADiamond(path="gpqa_diamond.csv", seed=42)
        >>> bench.answer_kind
        'multiple_choice'
        >>> bench.problems()[0].answer  # doctest: +SKIP
        'C'
    """

    revision: str | None = "633f5ee89ab8ad4522a9f850766b73f62147ffdd"
    seed: int = 42
    name: str = field(default="gpqa-diamond", init=False)
    answer_kind: str = field(default="multiple_choice", init=False)
    hub: ClassVar[HubSource] = HubSource(
        "Idavidrein/gpqa", config="gpqa_diamond", split="train", gated=True
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed must be a whole number, got {self.seed!r}")

    def problems(self) -> list[Problem]:
        """The questions with their four options shuffled, each answer the right option's letter.

        Raises:
            DataError: the data cannot be loaded, is empty, or a row lacks GPQA's columns.
        """
        # One RNG drawn in row order, as s1 does: row i's order never depends on `limit`.
        rng = random.Random(self.seed)
        problems = [self._choice_problem(i, row, rng) for i, row in enumerate(self.rows())]
        return _check(self.name, problems, self.source)

    def _choice_problem(self, index: int, row: Mapping[str, Any], rng: random.Random) -> Problem:
        options = [_text(row.get(column)) for column in _GPQA_COLUMNS]
        if all(option is None for option in options):  # already a question with options
            problem = _math_problem(self.name, self.answer_kind, index, row, source=self.source)
            letter = extract_answer(problem.answer or "", kind="multiple_choice")
            if letter is None:
                raise DataError(
                    f"row {index} of {self.name!r} has neither GPQA's columns "
                    f"({', '.join(_GPQA_COLUMNS)}) nor a letter answer A-D (got "
                    f"{problem.answer!r})."
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
        missing = [c for c, option in zip(_GPQA_COLUMNS, options, strict=True) if option is None]
        _, question = _first(row, QUESTION_COLUMNS)
        if missing or question is None:
            raise DataError(
                f"row {index} of {self.name!r} lacks {missing or ['Question']}; GPQA rows need "
                f"Question and {', '.join(_GPQA_COLUMNS)}."
            )
        correct, *incorrect = options
        choices: list[str] = [*incorrect, correct]  # type: ignore[list-item]
        rng.shuffle(choices)  # s1's order before shuffling: the three wrong ones, then the right
        letter = "ABCD"[choices.index(correct)]  # type: ignore[arg-type]
        _, domain = _first(row, DOMAIN_COLUMNS)
        _, solution = _first(row, SOLUTION_COLUMNS)
        return Problem(
            id=_problem_id(self.name, row, index, None),
            question=_GPQA_TEMPLATE.format(*choices, question=question),
            answer=letter,
            solution=solution,
            domain=domain,
            source=self.source,
            metadata={
                "subdomain": _text(row.get("Subdomain")),
                "correct_answer": correct,
                "seed": self.seed,
            },
        )


# -- any local file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalBenchmark:
    r"""A benchmark from a local JSON / JSONL / Parquet / CSV file (or several).

    Columns are found as for the built-ins (``question`` / ``problem`` / ``Question``, ``answer`` /
    ``Answer``, ``solution``, ``id`` / ``idx`` / ``unique_id``) unless named. Without an answer
    column, the answer is the solution's last ``\boxed{}``.

    Args:
        name: The benchmark's name (in reports and ids: ``"<name>-<id>"``).
        path: The file, or a list of files read in order.
        answer_kind: How answers are extracted: ``"math"``, ``"integer"``, ``"multiple_choice"``
            or ``"auto"``.
        question_column: The question's column, when not found automatically.
        answer_column: The reference answer's column, likewise.
        id_column: The id's column (default: ``id``-like columns, else the row number).
        solution_column: The worked solution's column (default: ``solution``).
        limit: Keep the first ``limit`` problems.

    Raises:
        ConfigError: a bad name, answer kind, path or limit.

    Example:
        >>> bench = LocalBenchmark("olympiad", "olympiad.csv", answer_column="final")
        >>> bench.name, bench.answer_kind
        ('olympiad', 'math')
        >>> report = tr.evaluate(student, bench, budgets=[512, 1024])  # doctest: +SKIP
    """

    name: str
    path: Paths
    answer_kind: str = "math"
    question_column: str | None = None
    answer_column: str | None = None
    id_column: str | None = None
    solution_column: str | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        problems = _check_limit(self.limit)
        if not isinstance(self.name, str) or not self.name.strip():
            problems.append(f"name must be a non-empty string, got {self.name!r}")
        if self.answer_kind not in ANSWER_KINDS:
            problems.append(
                f"answer_kind must be one of {', '.join(ANSWER_KINDS)}; got {self.answer_kind!r}"
            )
        try:
            _paths(self.path)
        except ConfigError as err:
            problems.extend(err.problems)
        for option in ("question_column", "answer_column", "id_column", "solution_column"):
            value = getattr(self, option)
            if value is not None and (not isinstance(value, str) or not value):
                problems.append(f"{option} must be a column name or None, got {value!r}")
        if problems:
            raise ConfigError(problems)

    @property
    def source(self) -> str:
        """The file(s) read."""
        return ", ".join(str(p) for p in _paths(self.path))

    def describe(self) -> dict[str, Any]:
        """Name, answer kind, source and limit, for a report's manifest."""
        return {
            "name": self.name,
            "answer_kind": self.answer_kind,
            "source": self.source,
            "limit": self.limit,
        }

    def problems(self) -> list[Problem]:
        """The file's problems, each with an id and a reference answer.

        Raises:
            DataError: a file is missing or malformed, a named column is absent, the file is
                empty, or a problem has no answer.
        """
        rows = read_rows(self.path)
        rows = rows[: self.limit] if self.limit is not None else rows
        named = {
            "question_column": self.question_column,
            "answer_column": self.answer_column,
            "id_column": self.id_column,
            "solution_column": self.solution_column,
        }
        columns = sorted({key for row in rows for key in row})
        absent = [f"{k}={v!r}" for k, v in named.items() if v is not None and v not in columns]
        if rows and absent:
            raise DataError(
                f"{self.source} has no column {', '.join(absent)}; its columns: {columns}"
            )
        problems = [
            _math_problem(self.name, self.answer_kind, i, row, source=self.source, **named)
            for i, row in enumerate(rows)
        ]
        return _check(self.name, problems, self.source)
