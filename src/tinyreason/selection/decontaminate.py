"""Decontamination: drop training questions that share a word 8-gram with an evaluation question.

s1's rule (``data/decontaminate_util.py``): lower-case the text, normalise whitespace, split into
words; a training question sharing any word 8-gram with any evaluation question is dropped. s1
checked against AIME (``AI-MO/aimo-validation-aime``), GPQA Diamond, MATH500 and LiveCodeBench;
give the benchmarks *you* will evaluate on.

The evaluation 8-grams go into one hash index (8-gram -> benchmark and question); each training
question is then one pass over its own 8-grams, the membership tests running in C (``isdisjoint``
over a generator of tuples), so 59K training questions against 1,000 benchmark questions take
about a second. Questions shorter than eight words have no 8-gram and can never match; by default
a training question that equals an evaluation question after normalisation is dropped too
(``exact=True``), which catches those.

Each dropped row's reason names the benchmark (``contaminated:aime24``); its detail quotes the
shared 8-gram and the benchmark question's position.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ..interfaces import Benchmark
from ..records import Problem
from ._columns import column_list
from .base import Composable, Selection, require_columns, selection_from_decisions

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset

__all__ = ["ContaminationIndex", "DecontaminateSelector", "load_benchmark_questions", "normalize"]

_FILE_SUFFIXES = (".json", ".jsonl", ".parquet", ".csv")


def normalize(text: str) -> str:
    """s1's normalisation: lower case, runs of whitespace to one space, stripped.

    Example:
        >>> normalize("  Find   ALL\\n integers ")
        'find all integers'
    """
    return " ".join(str(text).lower().split())


def _grams(words: Sequence[str], n: int) -> Iterator[tuple[str, ...]]:
    return zip(*(words[i:] for i in range(n)), strict=False)


def _looks_like_file(spec: str) -> bool:
    return spec.lower().endswith(_FILE_SUFFIXES) or os.path.sep in spec or os.path.exists(spec)


def _file_questions(path: str | os.PathLike[str]) -> list[str]:
    # The one row reader (tinyreason.data): the same files and question columns as everywhere.
    from ..data import load_problems

    questions = [str(q) for q in load_problems(os.fspath(path))["question"]]
    return questions


def _benchmark_questions(benchmark: Any) -> list[str]:
    return [p.question for p in benchmark.problems()]


def load_benchmark_questions(benchmarks: Any) -> dict[str, list[str]]:
    """Evaluation questions by benchmark name, from any of the accepted forms.

    Args:
        benchmarks: One of, or a list of: a registered benchmark name (``"aime24"``, loaded with
            ``tr.benchmark``), a Benchmark object (``tr.benchmark("math500", path=...)``), a
            local JSON / JSONL / Parquet / CSV file (named after its stem), or a
            ``{name: questions | benchmark | file}`` mapping.

    Raises:
        ConfigError: a form that is none of these.
        DataError: a file without a question column, or a benchmark that cannot load.

    Example:
        >>> load_benchmark_questions({"mine": ["What is 6 * 7?"]})
        {'mine': ['What is 6 * 7?']}
    """
    from ..registry import build

    found: dict[str, list[str]] = {}

    def add(name: str, questions: Iterable[Any]) -> None:
        texts = [q.question if isinstance(q, Problem) else str(q) for q in questions]
        found.setdefault(name, []).extend(texts)

    def one(spec: Any, name: str | None = None) -> None:
        if isinstance(spec, (str, os.PathLike)):
            text = os.fspath(spec)
            if isinstance(spec, os.PathLike) or _looks_like_file(text):
                add(name or Path(text).stem, _file_questions(text))
            else:
                add(name or text, _benchmark_questions(build("benchmark", text)))
        elif isinstance(spec, Benchmark):
            add(name or str(getattr(spec, "name", type(spec).__name__)), _benchmark_questions(spec))
        elif isinstance(spec, Sequence) and name is not None:
            add(name, spec)
        else:
            raise ConfigError(
                f"a benchmark is a name ('aime24'), a Benchmark object, a file, or {{name: "
                f"[questions]}}; got {type(spec).__name__}"
            )

    items: Any = benchmarks
    if isinstance(items, Mapping):
        for name, spec in items.items():
            one(spec, str(name))
    elif isinstance(items, (str, os.PathLike, Benchmark)):
        one(items)
    elif isinstance(items, Sequence):
        for spec in items:
            if isinstance(spec, Mapping):
                for name, sub in spec.items():
                    one(sub, str(name))
            else:
                one(spec)
    else:
        raise ConfigError(
            f"benchmarks must be a name, a Benchmark, a file, a list of them or {{name: "
            f"[questions]}}, got {type(items).__name__}"
        )
    return found


@dataclass
class ContaminationIndex:
    """The word n-grams of evaluation questions, for fast contamination checks.

    Args:
        questions: Evaluation questions by benchmark name.
        n: Words per n-gram (s1: 8).
        exact: Also match training questions equal to an evaluation question (normalised).

    Example:
        >>> index = ContaminationIndex({"aime24": ["Find the number of ordered pairs of "
        ...                                        "positive integers such that x + y = 10."]})
        >>> index.match("Let us find the number of ordered pairs of positive integers with x<y.")
        ('aime24', "8-gram 'find the number of ordered pairs of positive' (aime24 #0)")
        >>> index.match("Something else entirely.") is None
        True
    """

    questions: Mapping[str, Sequence[str]]
    n: int = 8
    exact: bool = True

    def __post_init__(self) -> None:
        self._grams: dict[tuple[str, ...], tuple[str, int]] = {}
        self._exact: dict[str, tuple[str, int]] = {}
        for name, texts in self.questions.items():
            for j, text in enumerate(texts):
                words = normalize(text).split()
                for gram in _grams(words, self.n):
                    self._grams.setdefault(gram, (name, j))
                if self.exact and words:
                    self._exact.setdefault(" ".join(words), (name, j))

    def __len__(self) -> int:
        return len(self._grams)

    def match(self, text: str) -> tuple[str, str] | None:
        """``(benchmark, detail)`` of the first match of ``text``, or None when it is clean."""
        words = str(text).lower().split()
        if self.exact and words:
            hit = self._exact.get(" ".join(words))
            if hit is not None:
                return hit[0], f"same question as {hit[0]} #{hit[1]}"
        if len(words) < self.n or self._grams.keys().isdisjoint(_grams(words, self.n)):
            return None  # the common case, decided in C
        for gram in _grams(words, self.n):
            found = self._grams.get(gram)
            if found is not None:
                return found[0], f"{self.n}-gram {' '.join(gram)!r} ({found[0]} #{found[1]})"
        return None  # pragma: no cover - isdisjoint said there is one

    def match_many(self, texts: Sequence[str]) -> list[tuple[str, str] | None]:
        """:meth:`match` for many texts at once, vectorised.

        Every text and benchmark question is lower-cased and split into words by Arrow kernels,
        the words get random 64-bit values, and each n-gram a hash combining its words' values;
        a text whose n-gram hashes (or whole-text hash) meet a benchmark's is a candidate, and
        only candidates are checked with :meth:`match` itself, so the result is exactly
        :meth:`match`'s.
        """
        import numpy as np

        if not texts:
            return []
        benchmark = [t for group in self.questions.values() for t in group]
        b = len(benchmark)
        ids, lengths = _word_ids([*benchmark, *texts])
        table = np.random.default_rng(8).integers(
            1, 2**63, size=int(ids.max(initial=0)) + 1, dtype=np.uint64
        )
        values = table[ids]  # a random 64-bit value per word (the same word, the same value)
        hashes, owner = _gram_hashes(values, lengths, self.n)
        in_benchmark = owner < b
        hit = _member(hashes[~in_benchmark], hashes[in_benchmark])
        candidate = np.zeros(len(texts), dtype=bool)
        candidate[owner[~in_benchmark][hit] - b] = True
        if self.exact:
            whole = _text_hashes(values, lengths)
            candidate |= _member(whole[b:], whole[:b]) & (lengths[b:] > 0)
        out: list[tuple[str, str] | None] = [None] * len(texts)
        for i in np.flatnonzero(candidate).tolist():
            out[i] = self.match(texts[i])  # exact: drops hash collisions
        return out


def _member(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``np.isin`` by binary search in the (small) sorted reference: no sort of ``values``."""
    import numpy as np

    keys = np.unique(reference)
    if not len(keys):
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(keys, values), len(keys) - 1)
    return keys[at] == values  # type: ignore[no-any-return]


def _word_ids(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every text's words (lower-cased, whitespace-split) as ids, concatenated; and word counts."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = pa.array([t or "" for t in texts], pa.large_string())
    words = pc.utf8_split_whitespace(pc.utf8_trim_whitespace(pc.utf8_lower(array)))
    flat = pc.list_flatten(words)
    owner = pc.list_parent_indices(words).to_numpy()
    nonempty = pc.not_equal(flat, "").to_numpy(zero_copy_only=False)  # "" -> [""] in Arrow
    encoded = pc.dictionary_encode(flat.filter(pa.array(nonempty)))
    ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    lengths = np.bincount(owner[nonempty], minlength=len(texts)).astype(np.int64)
    return ids, lengths


def _gram_hashes(values: np.ndarray, lengths: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The 64-bit hash of every word n-gram that lies inside one text, and its text's index."""
    import numpy as np

    total = len(values)
    mixers = np.random.default_rng(9).integers(1, 2**63, size=n, dtype=np.uint64) | np.uint64(1)
    hashes = np.zeros(max(total - n + 1, 0), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            hashes += values[j : j + len(hashes)] * mixers[j]
    owner = np.repeat(np.arange(len(lengths)), lengths)
    position = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    valid = (position <= np.repeat(lengths, lengths) - n)[: len(hashes)]
    return hashes[valid], owner[: len(hashes)][valid]


def _text_hashes(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each whole text's word sequence (0 for an empty text)."""
    import numpy as np

    starts = np.cumsum(lengths) - lengths
    position = np.arange(len(values)) - np.repeat(starts, lengths)
    weights = np.random.default_rng(10).integers(
        1, 2**63, size=int(lengths.max(initial=0)) + 1, dtype=np.uint64
    )
    out = np.zeros(len(lengths), dtype=np.uint64)
    nonempty = np.flatnonzero(lengths > 0)
    if len(nonempty):
        with np.errstate(over="ignore"):
            terms = values * (weights[position] | np.uint64(1))
            out[nonempty] = np.add.reduceat(terms, starts[nonempty])
            out[nonempty] += lengths[nonempty].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    return out


@dataclass(frozen=True)
class DecontaminateSelector(Composable):
    """Drop training questions sharing a word 8-gram with a benchmark you will evaluate on.

    Args:
        benchmarks: What you evaluate on: benchmark names (``"aime24"``, ``"math500"``: loaded
            with ``tr.benchmark``, which needs the hub or a ``path=``), Benchmark objects, local
            files, or ``{name: [questions]}``; one or a list.
        n: Words per n-gram (s1: 8).
        exact: Also drop questions equal to an evaluation question after normalisation (catches
            those shorter than ``n`` words, which s1's rule misses).
        column: The column holding the training questions.

    Example:
        >>> import tinyreason as tr
        >>> from datasets import Dataset
        >>> train = Dataset.from_dict({"id": ["a", "b"], "question": [
        ...     "Find the number of ordered pairs of positive integers (m, n) with m + n = 12.",
        ...     "What is the capital of France?"]})
        >>> bench = {"aime24": ["Find the number of ordered pairs of positive integers (a, b)."]}
        >>> sel = tr.select(train, tr.selector("decontaminate", benchmarks=bench))
        >>> list(sel.kept["id"]), list(sel.dropped["reason"])
        (['b'], ['contaminated:aime24'])
    """

    benchmarks: Any = ()
    n: int = 8
    exact: bool = True
    column: str = "question"
    name: str = "decontaminate"

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            problems.append(f"decontaminate n must be a whole number >= 1, got {self.n!r}")
        if self.benchmarks is None or (
            isinstance(self.benchmarks, (Sequence, Mapping))
            and not isinstance(self.benchmarks, str)
            and len(self.benchmarks) == 0
        ):
            problems.append(
                "decontaminate needs benchmarks=[...]: the benchmarks you will evaluate on "
                "(names such as 'aime24', Benchmark objects, files, or {name: [questions]})."
            )
        if problems:
            raise ConfigError(problems)

    def index(self) -> ContaminationIndex:
        """The n-gram index of the benchmarks' questions (loads them)."""
        questions = load_benchmark_questions(self.benchmarks)
        if not any(questions.values()):
            raise DataError("the benchmarks to decontaminate against have no questions.")
        return ContaminationIndex(questions, self.n, self.exact)

    def select(self, dataset: Dataset) -> Selection:
        """Drop every row whose question matches a benchmark question."""
        require_columns(
            dataset, self.name, [self.column], "set column= to the column of training questions."
        )
        index = self.index()
        hits = index.match_many([t or "" for t in column_list(dataset, self.column)])
        decisions = [None if hit is None else f"contaminated:{hit[0]}" for hit in hits]
        details = ["" if hit is None else hit[1] for hit in hits]
        info = {
            "n": self.n,
            "exact": self.exact,
            "benchmarks": {name: len(qs) for name, qs in index.questions.items()},
        }
        return selection_from_decisions(dataset, self.name, decisions, details=details, info=info)
