"""Records <-> ``datasets.Dataset`` in the s1K column schema (:mod:`tinyreason.data` loads files).

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

:mod:`tinyreason.data` is the public face: it re-exports every name here.
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
from .trace_columns import check_trace_source, row_trace

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "ANSWER_COLUMNS",
    "ID_COLUMNS",
    "PROBLEM_COLUMNS",
    "QUESTION_COLUMNS",
    "TRACE_COLUMNS",
    "as_problems",
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

    problems = _records(problems, Problem, "problems")
    _check_unique_ids(problems)
    rows = [_problem_row(p) for p in problems]
    if traces is not None:
        traces = _records(traces, Trace, "traces")
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


def _records(items: object, kind: type, name: str) -> list[Any]:
    """``items`` as a list of ``kind`` records, or a DataError saying what came instead."""
    if isinstance(items, kind):
        return [items]
    if items is None or isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Iterable):
        raise DataError(
            f"{name} must be a list of {kind.__name__} records, got {type(items).__name__}"
        )
    out = list(items)
    wrong = sorted({type(x).__name__ for x in out if not isinstance(x, kind)})
    if wrong:
        raise DataError(f"{name} must be {kind.__name__} records, got {', '.join(wrong)}")
    return out


def as_problems(source: Any) -> list[Problem]:
    """Accept a Dataset, a list of Problems or a list of row dicts; return Problems.

    Raises:
        DataError: the input is empty, of an unknown type, or ids repeat.
    """
    if isinstance(source, (Problem, Mapping)):
        source = [source]
    if isinstance(source, (str, Path)):
        raise DataError(
            "got a path or name; load it first: tr.load_problems(...) reads files and hub datasets."
        )
    if source is None or not isinstance(source, Iterable):
        raise DataError(
            f"expected Problems, a Dataset or row dicts, got {type(source).__name__}; "
            "tr.load_problems(...) reads files and hub datasets."
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
