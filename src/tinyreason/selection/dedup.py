"""Deduplication: exact (s1's), and near duplicates by MinHash or by embedding similarity.

The first occurrence of a question is kept and every later copy is dropped, its detail naming the
kept row's id.

* ``exact`` (s1: the question string): optionally after s1's normalisation (lower case, single
  spaces).
* ``minhash``: word 5-gram shingles, 128 hash permutations, locality-sensitive hashing into bands;
  candidate pairs whose estimated Jaccard similarity reaches ``threshold`` (default 0.8) are
  duplicates. Vectorised with numpy: 59K questions take a few seconds.
* ``embedding``: cosine similarity of sentence embeddings reaching ``threshold`` (default 0.95),
  computed in blocks. Exact, but quadratic in the rows: minutes at 59K on a laptop CPU.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ._columns import column_list
from .base import Composable, Selection, require_columns, selection_from_decisions

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset

__all__ = ["METHODS", "DedupSelector", "minhash_signatures", "near_duplicates"]

METHODS = ("exact", "minhash", "embedding")
_DEFAULT_THRESHOLD = {"minhash": 0.8, "embedding": 0.95}
_MASK64 = (1 << 64) - 1
#: Rows of one LSH bucket compared pairwise at most (a bucket of many identical short texts
#: would otherwise cost its size squared); later members are compared with these only.
_MAX_BUCKET = 256


def minhash_signatures(
    texts: Sequence[str], *, num_perm: int = 128, shingle: int = 5, seed: int = 0
) -> np.ndarray:
    """MinHash signatures of word-shingle sets, shape ``(len(texts), num_perm)``, uint32.

    Words are lower-cased and whitespace-split; each is hashed once (blake2b, so signatures are
    the same in every process), shingles of ``shingle`` consecutive words combine their words'
    hashes, and each permutation is a multiply-add hash of the shingles' 64-bit values (its high
    32 bits). A text shorter than ``shingle`` words is one shingle.

    Example:
        >>> sig = minhash_signatures(["a b c d e f g", "a b c d e f h", "x y z"], num_perm=64)
        >>> sig.shape, float((sig[0] == sig[1]).mean()) > 0.3, float((sig[0] == sig[2]).mean())
        ((3, 64), True, 0.0)
    """
    import numpy as np

    vocabulary: dict[str, int] = {}
    docs = [
        [vocabulary.setdefault(w, len(vocabulary)) for w in str(t).lower().split()] for t in texts
    ]
    word_hash = np.array(
        [
            int.from_bytes(
                hashlib.blake2b(w.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                "little",
            )
            for w in vocabulary
        ],
        dtype=np.uint64,
    )
    rng = np.random.default_rng(seed)
    mixers = rng.integers(1, 2**63, size=shingle, dtype=np.uint64) | np.uint64(1)
    lengths = np.array([len(d) for d in docs], dtype=np.int64)
    flat = np.fromiter((w for d in docs for w in d), dtype=np.int64, count=int(lengths.sum()))
    hashes = word_hash[flat] if len(flat) else np.zeros(0, dtype=np.uint64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(docs) else np.zeros(0, np.int64)

    # One 64-bit value per shingle (uint64 arithmetic wraps, which is what we want).
    total = len(hashes)
    values = np.zeros(total, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(shingle):
            values[: total - j] += hashes[j:] * mixers[j]
    position = np.arange(total) - np.repeat(starts, lengths)
    valid = position <= np.repeat(lengths, lengths) - shingle
    owner = np.repeat(np.arange(len(docs)), lengths)
    shingle_values = values[valid]
    shingle_owner = owner[valid]
    short = np.flatnonzero((lengths < shingle) & (lengths > 0))
    if len(short):  # texts shorter than a shingle: one shingle of all their words
        extra = np.zeros(len(short), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(shingle):
                has = lengths[short] > j
                extra[has] += hashes[starts[short[has]] + j] * mixers[j]
        shingle_values = np.concatenate([shingle_values, extra])
        shingle_owner = np.concatenate([shingle_owner, short])
    order = np.argsort(shingle_owner, kind="stable")
    shingle_values, shingle_owner = shingle_values[order], shingle_owner[order]
    counts = np.bincount(shingle_owner, minlength=len(docs))
    bounds = np.concatenate([[0], np.cumsum(counts)[:-1]])
    signatures = np.full((len(docs), num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    present = counts > 0
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    if len(shingle_values):
        with np.errstate(over="ignore"):
            for k in range(num_perm):
                permuted = ((shingle_values * a[k] + b[k]) >> np.uint64(32)).astype(np.uint32)
                signatures[present, k] = np.minimum.reduceat(permuted, bounds[present])
    return signatures


def _bands(num_perm: int, threshold: float) -> tuple[int, int]:
    """Bands x rows whose LSH threshold ``(1/b)**(1/r)`` is the highest at or below ``threshold``.

    Candidates are then checked exactly, so erring low costs checks, not recall.
    """
    best = (num_perm, 1)
    best_t = -1.0
    for rows in range(1, num_perm + 1):
        bands = num_perm // rows
        t = (1 / bands) ** (1 / rows)
        if best_t < t <= threshold:
            best, best_t = (bands, rows), t
    return best


def _candidate_pairs(signatures: np.ndarray, threshold: float) -> dict[int, list[int]]:
    """Per row, earlier rows sharing an LSH band with it."""
    import numpy as np

    num_perm = signatures.shape[1]
    bands, rows = _bands(num_perm, threshold)
    partners: dict[int, set[int]] = defaultdict(set)
    mixer = np.arange(1, rows + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    for band in range(bands):
        block = signatures[:, band * rows : (band + 1) * rows].astype(np.uint64)
        with np.errstate(over="ignore"):
            keys = (block * mixer).sum(axis=1) if rows > 1 else block[:, 0]
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        cuts = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
        for group in np.split(order, cuts):
            if len(group) < 2:
                continue
            group = np.sort(group)
            head = group[:_MAX_BUCKET]
            for pos, i in enumerate(group[1:].tolist(), start=1):
                partners[i].update(head[: min(pos, _MAX_BUCKET)].tolist())
    return {i: sorted(js) for i, js in partners.items()}


def near_duplicates(
    signatures: np.ndarray, threshold: float = 0.8
) -> list[tuple[int, int, float] | None]:
    """Per row, ``(row, kept row it duplicates, estimated Jaccard)`` or None (keep-first).

    Example:
        >>> sig = minhash_signatures(["one two three four five six", "one two three four five six",
        ...                           "seven eight nine ten eleven"])
        >>> [d if d is None else d[1] for d in near_duplicates(sig)]
        [None, 0, None]
    """
    import numpy as np

    candidates = _candidate_pairs(signatures, threshold)
    result: list[tuple[int, int, float] | None] = [None] * len(signatures)
    kept = np.ones(len(signatures), dtype=bool)
    for i in sorted(candidates):
        js = [j for j in candidates[i] if kept[j]]
        if not js:
            continue
        similarity = (signatures[js] == signatures[i]).mean(axis=1)
        best = int(np.argmax(similarity))
        if similarity[best] >= threshold:
            result[i] = (i, js[best], float(similarity[best]))
            kept[i] = False
    return result


def _embedding_duplicates(
    vectors: np.ndarray, threshold: float, block: int = 2048
) -> list[tuple[int, int, float] | None]:
    import numpy as np

    n = len(vectors)
    partners: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for start in range(0, n, block):
        stop = min(n, start + block)
        sims = vectors[start:stop] @ vectors[:stop].T
        rows, cols = np.nonzero(sims >= threshold)
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            i = start + r
            if c < i:
                partners[i].append((c, float(sims[r, c])))
    result: list[tuple[int, int, float] | None] = [None] * n
    kept = np.ones(n, dtype=bool)
    for i in sorted(partners):
        live = [(j, s) for j, s in partners[i] if kept[j]]
        if live:
            j, s = max(live, key=lambda x: x[1])
            result[i] = (i, j, s)
            kept[i] = False
    return result


@dataclass(frozen=True)
class DedupSelector(Composable):
    """Drop repeated questions, keeping the first occurrence.

    Args:
        method: ``"exact"`` (s1), ``"minhash"`` or ``"embedding"``.
        column: The column compared.
        normalize: ``exact`` only: compare after s1's normalisation (lower case, single spaces).
        threshold: Near-duplicate threshold: estimated Jaccard of word shingles (minhash, default
            0.8) or cosine similarity (embedding, default 0.95).
        num_perm: MinHash permutations.
        shingle: Words per MinHash shingle.
        seed: Seed of the MinHash permutations.
        embeddings: ``embedding`` only: a column of vectors or an array (None: embed ``column``).
        model: ``embedding`` only: the sentence-transformers model.
        cache: ``embedding`` only: the embedding cache (True, a folder, or False).
        progress: ``embedding`` only: show a progress bar while embedding.

    Example:
        >>> import tinyreason as tr
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"id": ["a", "b", "c"], "question": ["1+1?", "2+2?", "1+1?"]})
        >>> sel = tr.select(ds, tr.selector("dedup"))
        >>> list(sel.kept["id"]), list(sel.dropped["detail"])
        (['a', 'b'], ['same as a'])
    """

    method: str = "exact"
    column: str = "question"
    normalize: bool = False
    threshold: float | None = None
    num_perm: int = 128
    shingle: int = 5
    seed: int = 0
    embeddings: Any = None
    model: str = "all-MiniLM-L6-v2"
    cache: bool | str | Path = True
    progress: bool = True
    name: str = "dedup"

    def __post_init__(self) -> None:
        problems = []
        if self.method not in METHODS:
            problems.append(f"dedup method must be one of {METHODS}, got {self.method!r}")
        if self.threshold is not None and not (
            isinstance(self.threshold, (int, float)) and 0 < self.threshold <= 1
        ):
            problems.append(f"dedup threshold must be in (0, 1], got {self.threshold!r}")
        for option in ("num_perm", "shingle"):
            value = getattr(self, option)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"dedup {option} must be a whole number >= 1, got {value!r}")
        if problems:
            raise ConfigError(problems)

    def select(self, dataset: Dataset) -> Selection:
        """Keep the first of each group of (near-)duplicates."""
        require_columns(dataset, self.name, [self.column], "set column= to the text compared.")
        texts = [t or "" for t in column_list(dataset, self.column)]
        ids = (
            [str(v) for v in column_list(dataset, "id")]
            if "id" in dataset.column_names
            else [str(i) for i in range(len(texts))]
        )
        n = len(texts)
        decisions: list[str | None] = [None] * n
        details = [""] * n
        threshold = self.threshold or _DEFAULT_THRESHOLD.get(self.method, 1.0)
        if self.method == "exact":
            from .decontaminate import normalize

            first: dict[str, int] = {}
            for i, text in enumerate(texts):
                key = normalize(text) if self.normalize else text
                j = first.setdefault(key, i)
                if j != i:
                    decisions[i], details[i] = "duplicate", f"same as {ids[j]}"
        else:
            if self.method == "minhash":
                signatures = minhash_signatures(
                    texts, num_perm=self.num_perm, shingle=self.shingle, seed=self.seed
                )
                found = near_duplicates(signatures, threshold)
            else:
                from .embedding import resolve_embeddings

                vectors = resolve_embeddings(
                    dataset,
                    self.embeddings,
                    stage=self.name,
                    text_column=self.column,
                    model=self.model,
                    cache=self.cache,
                    progress=self.progress,
                )
                found = _embedding_duplicates(vectors, threshold)
            for hit in found:
                if hit is not None:
                    i, j, similarity = hit
                    decisions[i] = f"near_duplicate:{self.method}"
                    details[i] = f"{similarity:.2f} similar to {ids[j]}"
        info = {"method": self.method, "column": self.column}
        if self.method != "exact":
            info["threshold"] = threshold
        return selection_from_decisions(dataset, self.name, decisions, details=details, info=info)
