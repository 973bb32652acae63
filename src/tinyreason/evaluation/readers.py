r"""Read benchmark files and turn their rows into :class:`~tinyreason.Problem`\ s.

The half of the benchmarks that knows nothing about any one benchmark: :func:`read_rows` reads a
local JSON / JSONL / Parquet / CSV file (or several), the helpers below find a row's question,
answer, solution and id whatever a copy calls its columns and check the result, and
:class:`LocalBenchmark` makes a benchmark of any such file. The built-in benchmarks
(:mod:`tinyreason.evaluation.benchmarks`, which also exports ``LocalBenchmark`` and ``read_rows``)
are built on them (:func:`read_rows` has an example).
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..answers import ANSWER_KINDS, extract_answer, split_answer_kind
from ..data import ANSWER_COLUMNS, ID_COLUMNS, QUESTION_COLUMNS
from ..errors import ConfigError, DataError
from ..records import Problem

__all__ = [
    "ANSWER_COLUMNS",
    "DOMAIN_COLUMNS",
    "ID_COLUMNS",
    "QUESTION_COLUMNS",
    "SOLUTION_COLUMNS",
    "LocalBenchmark",
    "PathLike",
    "Paths",
    "read_rows",
]

PathLike = str | os.PathLike[str]
#: One file or several (read in order, as one table).
Paths = PathLike | Sequence[PathLike]

# Column names sources use for the same thing; the first one a row has wins.
SOLUTION_COLUMNS = ("solution", "Solution", "Explanation")
DOMAIN_COLUMNS = ("subject", "type", "High-level domain", "domain")

_READERS = (".json", ".jsonl", ".parquet", ".csv")

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
            raise DataError(
                f"{path}, line {number}: not valid JSON ({exc.msg}, column {exc.colno}); fix or "
                "remove that line."
            ) from None
    return rows


def _read_one(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataError(
            f"no such file: {path}; check the path (relative paths start at {Path.cwd()})."
        )
    if path.is_dir():
        raise DataError(
            f"{path} is a folder; pass the benchmark's file inside it (JSON, JSONL, ...)."
        )
    suffix = path.suffix.lower()
    if suffix not in _READERS:
        raise DataError(
            f"cannot tell how to read {path}: use a {', '.join(_READERS)} file (by its suffix)."
        )
    try:
        rows = _rows_of(path, suffix)
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded); save it as UTF-8, "
            "or check that it is the file you meant."
        ) from None
    except PermissionError:
        raise DataError(
            f"{path} cannot be read (permission denied); fix its permissions."
        ) from None
    except OSError as exc:
        raise DataError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    bad = [i for i, row in enumerate(rows) if not isinstance(row, Mapping)]
    if bad:
        raise DataError(f"{path}: rows {bad[:5]} are not objects; each row must be a JSON object.")
    return [dict(row) for row in rows]


def _rows_of(path: Path, suffix: str) -> list[Any]:
    if suffix == ".parquet":
        import pyarrow.parquet as pq  # datasets depends on pyarrow, so it is always there

        try:
            rows: list[Any] = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several kinds for a damaged file
            raise DataError(f"could not read {path} as Parquet ({exc}).") from None
        return rows
    if suffix == ".csv":
        # utf-8-sig: spreadsheets (and GPQA's own CSV) start with a byte-order mark.
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            try:
                return list(reader)
            except csv.Error as exc:
                raise DataError(f"{path}, line {reader.line_num}: not valid CSV ({exc}).") from None
    return _json_rows(path, path.read_text(encoding="utf-8"))


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
    r"""The reference answer: the answer cell, else what the solution boxes (or states).

    A reference is read with tinyreason's rules for the kind's base (``"s1-integer"`` reads as
    ``"integer"``): s1's extraction is for model outputs, and s1 itself reads references from the
    answer column.
    """
    kind = split_answer_kind(kind)[1]
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
    r"""True when a solution has a closed ``\boxed{}`` or an answer line.

    extract_answer's last resort, the last number in the text, is fine for a model's output but no
    reference: a worked solution's last number is often an intermediate step.
    """
    from ..answers.extract import _last_answer_line, last_boxed

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
    template: str | None = None,
) -> Problem:
    """One row as a Problem; with ``template``, the question is ``template`` applied to the cell.

    The template gets the cell as the source has it (``str()``, not stripped), as s1's
    ``doc_to_text`` does; without one the question is the stripped cell.
    """
    q_col, question = _first(row, [question_column] if question_column else QUESTION_COLUMNS)
    if question is None:
        wanted = question_column or " / ".join(QUESTION_COLUMNS)
        raise DataError(
            f"row {index} of {name!r} ({source}) has no question (looked in {wanted}; the row has "
            f"{sorted(row)}); name the column with question_column=..."
        )
    if template is not None:
        question = template.format(question=str(row[q_col]))
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


def repeated_ids(problems: Sequence[Problem]) -> list[str]:
    """The ids more than one problem has, sorted.

    Example:
        >>> repeated_ids([Problem("b", "?"), Problem("a", "?"), Problem("b", "?")])
        ['b']
    """
    counts = Counter(p.id for p in problems)
    return sorted(i for i, n in counts.items() if n > 1)


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
    repeated = repeated_ids(problems)
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


def _max_new_tokens_problems(value: Any) -> list[str]:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        return [
            f"max_new_tokens must be a whole number >= 1 or None (the scaler sizes it), got "
            f"{value!r}; s1 used 32768"
        ]
    return []


# -- any local file -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LocalBenchmark:
    r"""A benchmark from a local JSON / JSONL / Parquet / CSV file (or several).

    Columns are found as for the built-ins (``question`` / ``problem`` / ``Question``, ``answer`` /
    ``Answer``, ``solution``, ``id`` / ``idx`` / ``unique_id``) unless named. Without an answer
    column, the answer is the solution's last ``\boxed{}``. The question is the (stripped) cell.

    Args:
        name: The benchmark's name (in reports and ids: ``"<name>-<id>"``).
        path: The file, or a list of files read in order.
        answer_kind: How answers are extracted: ``"math"``, ``"integer"``, ``"multiple_choice"``
            or ``"auto"`` (tinyreason's rules), or ``"s1-math"``, ``"s1-integer"``,
            ``"s1-multiple_choice"`` (s1's rule).
        question_column: The question's column, when not found automatically.
        answer_column: The reference answer's column, likewise.
        id_column: The id's column (default: ``id``-like columns, else the row number).
        solution_column: The worked solution's column (default: ``solution``).
        limit: Keep the first ``limit`` problems.
        max_new_tokens: Tokens a generation may take; None (the default) lets the scaler size it
            from its thinking budget, since nothing is known about the file's problems.

    Raises:
        ConfigError: a bad name, answer kind, path, limit or max_new_tokens.

    Example:
        >>> bench = LocalBenchmark("olympiad", "olympiad.csv", answer_column="final")
        >>> bench.name, bench.answer_kind, bench.max_new_tokens
        ('olympiad', 'math', None)
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
    max_new_tokens: int | None = None

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
        problems += _max_new_tokens_problems(self.max_new_tokens)
        if problems:
            raise ConfigError(problems)

    @property
    def source(self) -> str:
        """The file(s) read."""
        return ", ".join(str(p) for p in _paths(self.path))

    def describe(self) -> dict[str, Any]:
        """Name, answer kind, source, limit and the evaluation settings, for a report's manifest.

        Example:
            >>> LocalBenchmark("mine", "mine.jsonl").describe()["prompt_template"]
            '{question}'
        """
        return {
            "name": self.name,
            "answer_kind": self.answer_kind,
            "source": self.source,
            "limit": self.limit,
            "prompt": "plain",
            "prompt_template": "{question}",
            "extraction": split_answer_kind(self.answer_kind)[0],
            "max_new_tokens": self.max_new_tokens,
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
