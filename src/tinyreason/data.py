"""Records <-> ``datasets.Dataset`` in the s1K column schema, and loading problems from anywhere.

A traces Dataset has s1K's columns, so s1K / s1K-1.1 load and train unchanged:

==========================  ==================================================================
``question``                the problem text
``solution``                a worked reference solution (may be empty)
``cot_type``                coarse domain (math, science, crossword...) = :attr:`Problem.domain`
``source_type``             where it came from = :attr:`Problem.source`
``metadata``                a Python-literal string of a dict (as s1K stores it)
``cot``                     always null (kept for s1K compatibility)
``thinking_trajectories``   a list with the reasoning text (s1K joins several with newlines)
``attempt``                 the teacher's visible answer
==========================  ==================================================================

plus ours: ``id``, ``answer`` (short reference answer) and, for traces, ``teacher``,
``teacher_model``, ``thinking_kind``, ``finish_reason``, ``usage`` (input/output/thinking tokens),
``cost_usd``, ``error``, ``trace_source`` (s1K-1.1's ``"deepseek"`` or ``"gemini"``, picked by
``trace_source=``: :mod:`tinyreason.trace_columns`). Columns a stage adds pass through untouched.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import DataError
from .records import Problem, Trace, Usage
from .trace_columns import (
    S1K_1_1_COLUMNS,
    S1K_COLUMNS,
    TRACE_SOURCES,
    carries_traces,
    check_trace_source,
    row_trace,
    with_traces,
)

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "ANSWER_COLUMNS",
    "ID_COLUMNS",
    "PROBLEM_COLUMNS",
    "QUESTION_COLUMNS",
    "S1K_1_1_COLUMNS",
    "S1K_COLUMNS",
    "TRACE_COLUMNS",
    "TRACE_SOURCES",
    "as_problems",
    "load_problems",
    "problems_from_dataset",
    "to_dataset",
    "traces_from_dataset",
]

PROBLEM_COLUMNS = ("id", "question", "answer", "solution", "cot_type", "source_type", "metadata")
TRACE_COLUMNS = (
    "teacher",
    "teacher_model",
    "thinking_kind",
    "finish_reason",
    "usage",
    "cost_usd",
    "error",
    "trace_source",
)

# Column names other datasets use for the same things (first match wins).
# The column names datasets and benchmark files use for the same things, first match wins: the one
# table every reader uses (tr.load_problems, traces, the benchmark readers, decontamination).
QUESTION_COLUMNS = ("question", "problem", "Question", "Problem", "prompt", "input", "query")
ANSWER_COLUMNS = ("answer", "Answer", "final_answer", "expected_answer", "gold", "target")
ID_COLUMNS = ("id", "ID", "problem_id", "unique_id", "problem_idx", "idx", "uid", "Record ID")
_QUESTION_ALIASES, _ANSWER_ALIASES, _ID_ALIASES = QUESTION_COLUMNS, ANSWER_COLUMNS, ID_COLUMNS


# -- metadata ----------------------------------------------------------------------------------


def _parse_metadata(value: Any) -> dict[str, Any]:
    """s1K stores metadata as ``str(dict)``; JSON strings and real dicts work too."""
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str):
        for parse in (json.loads, ast.literal_eval):
            try:
                parsed = parse(value)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(parsed, dict):
                return parsed
        return {"_raw": value}  # not a dict: kept verbatim and written back unchanged
    raise DataError(f"metadata must be a dict or a string, got {type(value).__name__}")


def _format_metadata(metadata: Mapping[str, Any]) -> str:
    if set(metadata) == {"_raw"}:
        return str(metadata["_raw"])
    return repr(dict(metadata)) if metadata else ""


# -- records -> Dataset ------------------------------------------------------------------------


def _problem_row(p: Problem) -> dict[str, Any]:
    return {
        "id": p.id,
        "question": p.question,
        "answer": p.answer,
        "solution": p.solution or "",
        "cot_type": p.domain or "",
        "source_type": p.source or "",
        "metadata": _format_metadata(p.metadata),
        "cot": None,
    }


def _trace_row(t: Trace) -> dict[str, Any]:
    return {
        "thinking_trajectories": [t.thinking],
        "attempt": t.answer_text,
        "teacher": t.teacher,
        "teacher_model": t.model,
        "thinking_kind": t.thinking_kind,
        "finish_reason": t.finish_reason,
        "usage": {
            "input_tokens": t.usage.input_tokens,
            "output_tokens": t.usage.output_tokens,
            "thinking_tokens": t.usage.thinking_tokens,
        },
        "cost_usd": t.cost_usd,
        "error": t.error,
        "trace_source": t.trace_source,
    }


def _features(with_traces: bool) -> Any:
    from datasets import Features, Sequence, Value

    columns = {
        "id": Value("string"),
        "question": Value("string"),
        "answer": Value("string"),
        "solution": Value("string"),
        "cot_type": Value("string"),
        "source_type": Value("string"),
        "metadata": Value("string"),
        "cot": Value("null"),
    }
    if with_traces:
        columns |= {
            "thinking_trajectories": Sequence(Value("string")),
            "attempt": Value("string"),
            "teacher": Value("string"),
            "teacher_model": Value("string"),
            "thinking_kind": Value("string"),
            "finish_reason": Value("string"),
            "usage": {
                "input_tokens": Value("int64"),
                "output_tokens": Value("int64"),
                "thinking_tokens": Value("int64"),
            },
            "cost_usd": Value("float64"),
            "error": Value("string"),
            "trace_source": Value("string"),
        }
    return Features(columns)


def to_dataset(problems: Sequence[Problem], traces: Sequence[Trace] | None = None) -> Dataset:
    """Records to a Dataset in the s1K schema plus ours.

    Args:
        problems: The problems (one row each, in order).
        traces: One trace per problem, matched by ``problem_id``; omit for a problems-only Dataset.

    Raises:
        DataError: a trace has no problem, a problem has no trace, or ids repeat.

    Example:
        >>> ds = to_dataset([Problem("p1", "1+1?", answer="2")])
        >>> ds[0]["question"], ds[0]["answer"]
        ('1+1?', '2')
    """
    from datasets import Dataset

    problems = list(problems)
    _check_unique_ids(problems)
    rows = [_problem_row(p) for p in problems]
    if traces is not None:
        by_id = {}
        for t in traces:
            if t.problem_id in by_id:
                raise DataError(f"two traces for problem {t.problem_id!r}; keep one per problem.")
            by_id[t.problem_id] = t
        missing = [p.id for p in problems if p.id not in by_id]
        extra = sorted(set(by_id) - {p.id for p in problems})
        if missing or extra:
            raise DataError(
                f"traces and problems do not match: {len(missing)} problem(s) without a trace "
                f"(e.g. {missing[:3]}), {len(extra)} trace(s) without a problem (e.g. {extra[:3]})."
            )
        rows = [row | _trace_row(by_id[row["id"]]) for row in rows]
    return Dataset.from_list(rows, features=_features(traces is not None))


# -- Dataset -> records ------------------------------------------------------------------------


def _stable_id(question: str) -> str:
    return "q" + hashlib.sha1(question.encode("utf-8")).hexdigest()[:12]


def _text(value: Any) -> str | None:
    """A cell as optional text: numbers (AMC's float answers) become strings, empty becomes None."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, tuple)):  # some sets store answers as a one-element list
        value = value[0] if len(value) == 1 else ", ".join(map(str, value))
    text = str(value)
    return text if text.strip() else None


def _pick(
    columns: Iterable[str], explicit: str | None, aliases: Sequence[str], what: str
) -> str | None:
    columns = list(columns)
    if explicit is not None:
        if explicit not in columns:
            raise DataError(f"no {what} column {explicit!r}; the columns are {columns}")
        return explicit
    return next((a for a in aliases if a in columns), None)


def problems_from_dataset(
    dataset: Dataset | Iterable[Mapping[str, Any]],
    *,
    question_column: str | None = None,
    answer_column: str | None = None,
    id_column: str | None = None,
) -> list[Problem]:
    """Read problems from a Dataset (or any iterable of row dicts).

    Column names are found automatically (``question``/``problem``/``prompt``,
    ``answer``/``final_answer``, ``id``/``idx``/``unique_id``) unless given. Rows without an id get
    a stable one derived from the question text.

    Raises:
        DataError: no question column, or a row's question is empty.

    Example:
        >>> problems_from_dataset([{"problem": "1+1?", "answer": 2}])[0].answer
        '2'
    """
    rows = list(dataset)
    columns = list(getattr(dataset, "column_names", None) or (rows[0].keys() if rows else []))
    q_col = _pick(columns, question_column, _QUESTION_ALIASES, "question")
    if q_col is None and rows:
        raise DataError(
            f"no question column among {columns}; name it with question_column=... "
            f"(looked for {', '.join(_QUESTION_ALIASES)})."
        )
    a_col = _pick(columns, answer_column, _ANSWER_ALIASES, "answer")
    id_col = _pick(columns, id_column, _ID_ALIASES, "id")
    problems, seen = [], {}
    for i, row in enumerate(rows):
        question = row.get(q_col)
        if not isinstance(question, str) or not question.strip():
            raise DataError(f"row {i} has no question text in column {q_col!r}: {question!r}")
        pid = _text(row.get(id_col)) if id_col else None
        pid = pid or _stable_id(question)
        base = pid
        while pid in seen:  # repeated question or id: keep rows distinct, deterministically
            seen[base] += 1  # (a loop: "a-2" may already be taken by an explicit id)
            pid = f"{base}-{seen[base]}"
        seen.setdefault(pid, 1)
        problems.append(
            Problem(
                id=pid,
                question=question,
                answer=_text(row.get(a_col)) if a_col else None,
                solution=_text(row.get("solution")),
                domain=_text(row.get("cot_type")) or _text(row.get("domain")),
                source=_text(row.get("source_type")) or _text(row.get("source")),
                metadata=_parse_metadata(row.get("metadata")),
            )
        )
    return problems


def traces_from_dataset(
    dataset: Dataset | Iterable[Mapping[str, Any]], *, trace_source: str | None = None
) -> list[Trace]:
    """Read traces from a traces Dataset (ours, s1K, s1K_tokenized or s1K-1.1).

    Rows without our teacher columns (s1K) get ``teacher="imported"``, ``thinking_kind="unknown"``;
    s1K-1.1 rows ``teacher="imported"``, ``thinking_kind="raw"`` and the model of the trace read
    (``"deepseek-r1"`` or ``"gemini-2.0-flash-thinking-exp"``). ``Trace.trace_source`` says which.

    Args:
        dataset: A Dataset or an iterable of row dicts.
        trace_source: For s1K-1.1 rows, ``"deepseek"`` or ``"gemini"``; None (default) keeps a
            trace already picked, else reads DeepSeek's.

    Raises:
        ConfigError: ``trace_source`` is not one of the valid choices.
        DataError: the rows hold no trace, or not the one ``trace_source`` names.

    Example:
        >>> row = {"question": "1+1?", "deepseek_thinking_trajectory": "1+1=2",
        ...        "deepseek_attempt": "2", "gemini_thinking_trajectory": "?",
        ...        "gemini_attempt": "2"}
        >>> t = traces_from_dataset([row])[0]
        >>> t.thinking, t.model, t.trace_source
        ('1+1=2', 'deepseek-r1', 'deepseek')
    """
    check_trace_source(trace_source)
    rows = list(dataset)
    problems = problems_from_dataset(rows)
    traces = []
    for i, (row, problem) in enumerate(zip(rows, problems, strict=True)):
        try:
            found = row_trace(row, trace_source)
        except DataError as err:
            raise DataError(f"row {i}: {err}") from None
        usage = row.get("usage") or {}
        traces.append(
            Trace(
                problem_id=problem.id,
                teacher=found.teacher,
                model=found.model,
                thinking=found.thinking,
                answer_text=found.answer,
                thinking_kind=found.thinking_kind,  # type: ignore[arg-type]
                finish_reason=row.get("finish_reason") or "stop",
                usage=Usage(**{k: int(v or 0) for k, v in usage.items()}),
                cost_usd=row.get("cost_usd"),
                error=row.get("error"),
                trace_source=found.trace_source,
            )
        )
    return traces


def _check_unique_ids(problems: Sequence[Problem]) -> None:
    seen: set[str] = set()
    dupes = [p.id for p in problems if p.id in seen or seen.add(p.id)]  # type: ignore[func-returns-value]
    if dupes:
        raise DataError(f"problem ids must be unique; repeated: {sorted(set(dupes))[:5]}")


def as_problems(source: Any) -> list[Problem]:
    """Accept a Dataset, a list of Problems or a list of row dicts; return Problems.

    Raises:
        DataError: the input is empty, of an unknown type, or ids repeat.
    """
    if isinstance(source, Problem):
        source = [source]
    if isinstance(source, (str, Path)):
        raise DataError(
            "got a path or name; load it first: tr.load_problems(...) reads files and hub datasets."
        )
    items = list(source)
    if not items:
        raise DataError("no problems given (the list or Dataset is empty).")
    if all(isinstance(p, Problem) for p in items):
        problems = items
    elif all(isinstance(p, Mapping) for p in items):
        problems = problems_from_dataset(items)
    else:
        kinds = sorted({type(p).__name__ for p in items})
        raise DataError(f"expected Problems, a Dataset or row dicts, got {', '.join(kinds)}")
    _check_unique_ids(problems)
    return problems


# -- loading -----------------------------------------------------------------------------------

_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}


def load_problems(
    source: Any,
    split: str | None = None,
    *,
    question_column: str | None = None,
    answer_column: str | None = None,
    id_column: str | None = None,
    limit: int | None = None,
    trace_source: str | None = None,
    **load_kwargs: Any,
) -> Dataset:
    """Load problems into a Dataset with our columns (``id``, ``question``, ``answer``...).

    Args:
        source: A ``datasets.Dataset``, a list of Problems or dicts, a local JSON / JSONL / Parquet
            / CSV file (or a list of them), or a hub dataset name such as ``"simplescaling/s1K"``
            (needs the network; set ``HF_HUB_OFFLINE=1`` to fail fast offline).
        split: The split of a hub dataset or ``DatasetDict`` (default ``"train"``).
        question_column: The question's column, when it is not found automatically.
        answer_column: The short answer's column, likewise.
        id_column: The id's column, likewise.
        limit: Keep only the first ``limit`` rows.
        trace_source: Which of an s1K-1.1 row's traces to train on: ``"deepseek"`` (DeepSeek-R1's,
            what s1.1 used) or ``"gemini"``; None (default) keeps a trace already picked, else
            DeepSeek's. Other Datasets hold one trace a row: leave it unset.
        **load_kwargs: Passed to ``datasets.load_dataset`` (``revision=``, ``name=``...).

    Every original column is kept, so traces (s1K, s1K_tokenized, ours) load ready for selection
    and training; s1K-1.1 rows also get the picked trace in s1K's columns and ``trace_source``.

    Raises:
        ConfigError: ``trace_source`` is not ``"deepseek"``, ``"gemini"`` or None.
        DataError: the file is missing, of an unknown kind, empty, or has no question column; or
            ``trace_source`` names a trace the Dataset does not hold.

    Example:
        >>> ds = load_problems([{"problem": "1+1?", "answer": 2}])
        >>> ds.column_names[:3], ds[0]["answer"]
        (['id', 'question', 'answer'], '2')
        >>> row = {"question": "1+1?", "deepseek_thinking_trajectory": "1+1=2",
        ...        "deepseek_attempt": "2", "gemini_thinking_trajectory": "1 and 1",
        ...        "gemini_attempt": "2"}
        >>> load_problems([row], trace_source="gemini")[0]["thinking_trajectories"]
        ['1 and 1']
    """
    from datasets import Dataset, DatasetDict

    check_trace_source(trace_source)  # before any download
    dataset = _load_any(source, split, load_kwargs)
    if isinstance(dataset, DatasetDict):
        split = split or "train"
        if split not in dataset:
            raise DataError(f"no split {split!r}; the splits are {list(dataset)}")
        dataset = dataset[split]
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if len(dataset) == 0:
        raise DataError(f"{source!r} holds no rows.")
    problems = problems_from_dataset(
        dataset, question_column=question_column, answer_column=answer_column, id_column=id_column
    )
    ours = Dataset.from_list([_problem_row(p) for p in problems], features=_features(False))
    # Keep every other column (trace columns, scores...) as it was.
    for name in dataset.column_names:
        if name not in ours.column_names:
            ours = ours.add_column(name, dataset[name], feature=dataset.features[name])
    return with_traces(ours, trace_source)


def _load_any(source: Any, split: str | None, load_kwargs: dict[str, Any]) -> Any:
    from datasets import Dataset, DatasetDict, load_dataset

    if isinstance(source, (Dataset, DatasetDict)):
        return source
    if isinstance(source, (list, tuple)) and not (source and isinstance(source[0], (str, Path))):
        if source and isinstance(source[0], Mapping) and carries_traces(source[0]):
            return Dataset.from_list([dict(r) for r in source])  # trace rows: every key kept
        problems = as_problems(source)  # an empty list fails here, saying so
        return Dataset.from_list([_problem_row(p) for p in problems], features=_features(False))
    sources = source if isinstance(source, (list, tuple)) else [source]
    paths = [Path(s) for s in sources if isinstance(s, (str, Path))]
    if len(paths) == len(sources) and all(p.suffix in _FILE_BUILDERS or p.exists() for p in paths):
        for p in paths:
            if not p.exists():
                raise DataError(f"no such file: {p}")
        kinds = {_FILE_BUILDERS.get(p.suffix) for p in paths}
        if None in kinds or len(kinds) != 1:
            raise DataError(
                f"cannot tell how to read {[str(p) for p in paths]}: use .json, .jsonl, "
                ".parquet or .csv files, all of one kind."
            )
        try:
            return load_dataset(kinds.pop(), data_files=[str(p) for p in paths], split="train")
        except Exception as exc:  # an empty or malformed file (an empty one raises StopIteration)
            raise DataError(
                f"could not read {[str(p) for p in paths]} ({type(exc).__name__}: {exc}); "
                "is the file empty or malformed?"
            ) from exc
    if isinstance(source, str):
        try:
            return load_dataset(source, split=split or "train", **load_kwargs)
        except Exception as exc:  # offline, a typo, a gated dataset: say so plainly
            raise DataError(
                f"could not load {source!r} from the Hugging Face hub ({type(exc).__name__}: "
                f"{exc}). Check the name and your connection, or pass a local file."
            ) from exc
    raise DataError(f"cannot load problems from {type(source).__name__}: {source!r}")
