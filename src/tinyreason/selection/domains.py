"""Domain labels for s1's diversity stage: the MSC list, and classifiers that assign them.

s1 had Claude classify every question into a Mathematics Subject Classification two-digit code
(``data/featurization.py``: the rubric listed 61 codes; the answer's last line is the code) and
balanced its sample over the 51 domains that occurred. tinyreason ships the full MSC 2020 list of
63 top-level classes (``tinyreason/data/msc.json``, with short keyword descriptions of its own)
and two classifiers:

* :class:`LLMDomainClassifier` (``"msc-llm"``): any teacher, with a fixed prompt in the spirit of
  s1's; calls go through the teacher engine, so they are cached and cost-capped.
* :class:`EmbeddingDomainClassifier` (``"msc-embedding"``): offline; each question gets the label
  whose description embeds nearest (cosine). Cheaper and rougher than an LLM.

A *scheme* is the label set: ``"msc"`` (the default), or your own ``{label: description}``.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "CLASSIFIERS",
    "UNCLASSIFIED",
    "DomainClassifier",
    "DomainLabel",
    "EmbeddingDomainClassifier",
    "LLMDomainClassifier",
    "domain_classifier",
    "domain_scheme",
    "load_msc",
]

#: The label given when a classifier's reply names no known domain.
UNCLASSIFIED = "unclassified"
#: Classifier names :func:`domain_classifier` (and the diversity selector) accept.
CLASSIFIERS = ("msc-llm", "msc-embedding")
#: Names of the shipped schemes.
SCHEMES = ("msc",)


@dataclass(frozen=True)
class DomainLabel:
    """One domain: a code, the title stored as the row's label, and a description.

    Example:
        >>> label = load_msc()[6]
        >>> label.code, label.title
        ('11', 'Number theory')
    """

    code: str
    title: str
    description: str = ""

    @property
    def text(self) -> str:
        """Title and description, as embedded by the embedding classifier."""
        return f"{self.title}: {self.description}" if self.description else self.title


@functools.lru_cache(maxsize=1)
def load_msc() -> tuple[DomainLabel, ...]:
    """The 63 two-digit MSC 2020 classes, from the packaged ``data/msc.json``.

    Example:
        >>> len(load_msc()), load_msc()[0].code
        (63, '00')
    """
    from importlib.resources import files

    data = json.loads(files("tinyreason").joinpath("data/msc.json").read_text("utf-8"))
    return tuple(DomainLabel(e["code"], e["title"], e.get("keywords", "")) for e in data["codes"])


def domain_scheme(scheme: Any) -> tuple[DomainLabel, ...]:
    """The labels of a scheme: ``"msc"``, a ``{label: description}`` mapping, or DomainLabels.

    Raises:
        ConfigError: an unknown scheme name, or an empty / malformed custom scheme.

    Example:
        >>> [d.title for d in domain_scheme({"algebra": "equations", "geometry": "shapes"})]
        ['algebra', 'geometry']
    """
    if isinstance(scheme, str):
        if scheme.lower() in ("msc", "msc2020"):
            return load_msc()
        raise ConfigError(
            f"unknown domain scheme {scheme!r}; the shipped one is 'msc' (the 63 MSC 2020 "
            "classes), or pass your own {label: description} mapping."
        )
    if isinstance(scheme, Mapping):
        labels = tuple(DomainLabel(str(k), str(k), str(v or "")) for k, v in scheme.items())
    elif isinstance(scheme, Sequence) and all(isinstance(d, DomainLabel) for d in scheme):
        labels = tuple(scheme)
    else:
        raise ConfigError(
            f"a domain scheme is 'msc' or a {{label: description}} mapping, got "
            f"{type(scheme).__name__}"
        )
    if not labels:
        raise ConfigError("the domain scheme has no labels; give at least one.")
    return labels


@runtime_checkable
class DomainClassifier(Protocol):
    """Labels questions with domains (any object with ``name`` and ``classify`` fits).

    Example:
        >>> isinstance(EmbeddingDomainClassifier(), DomainClassifier)
        True
    """

    name: str

    def classify(self, questions: Sequence[str]) -> list[str]:
        """One domain label per question, in order."""
        ...


# -- the LLM classifier -------------------------------------------------------------------------

_INSTRUCTIONS = (
    "You classify questions into subjects using the classification rubric below. If the "
    "question touches several subjects, choose the most relevant one. Explain your reasoning "
    "briefly, then end your response on a new line with only the code of the subject "
    "(for example: {example})."
)


@dataclass(frozen=True)
class LLMDomainClassifier:
    """A teacher classifies each question into one domain of ``scheme`` (s1: Claude, MSC codes).

    The prompt lists every label as ``### <title> / * Code: <code> / * Description: ...`` (s1's
    rubric format) and asks for the code alone on the reply's last line; a reply naming no known
    code gets :data:`UNCLASSIFIED`. Calls go through the teacher engine: cached (a re-run asks
    nothing), retried and capped by ``max_cost_usd``.

    Args:
        teacher: A teacher or its name (``"anthropic"``, ``"gemini:gemini-2.5-flash"``).
        scheme: ``"msc"`` or ``{label: description}``.
        cache: The teacher cache (None: the shared default; see ``Teacher.distill``).
        max_cost_usd: Spending cap for the classification calls.
        progress: Show the engine's progress bar.

    Example:
        >>> classifier = LLMDomainClassifier(teacher="fake")
        >>> classifier.parse("Counting subsets is combinatorics.\\n05")
        'Combinatorics'
        >>> classifier.parse("no idea")
        'unclassified'
    """

    teacher: Any
    scheme: Any = "msc"
    cache: Any = None
    max_cost_usd: float | None = None
    progress: bool = False
    name: str = "msc-llm"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_labels", domain_scheme(self.scheme))

    @property
    def labels(self) -> tuple[DomainLabel, ...]:
        """The scheme's labels."""
        return self._labels  # type: ignore[attr-defined,no-any-return]

    def prompt(self, question: str) -> str:
        """The classification prompt for one question (the cache key includes it)."""
        rubric = "\n\n".join(
            f"### {d.title}\n* Code: {d.code}\n* Description: {d.description or d.title}"
            for d in self.labels
        )
        example = self.labels[min(4, len(self.labels) - 1)].code
        return (
            _INSTRUCTIONS.format(example=example)
            + f"\n\n## Question\n{question}\n\n## Classification rubric\n{rubric}"
        )

    def parse(self, reply: str) -> str:
        """The label (title) the reply's last line names, else :data:`UNCLASSIFIED`."""
        lines = [line.strip() for line in (reply or "").splitlines() if line.strip()]
        if not lines:
            return UNCLASSIFIED
        last = re.sub(r"[*_`#>]", "", lines[-1]).strip().rstrip(".")
        by_code = {d.code.lower(): d for d in self.labels}
        if last.lower() in by_code:
            return by_code[last.lower()].title
        # "Code: 05", "05 Combinatorics": the last known code the line mentions.
        for token in reversed(re.findall(r"[\w\-+]+", last)):
            if token.lower() in by_code:
                return by_code[token.lower()].title
        return UNCLASSIFIED

    def classify(self, questions: Sequence[str]) -> list[str]:
        """Ask the teacher for each question's domain (cached through the teacher engine)."""
        from ._calls import ask, resolve_teacher

        teacher = resolve_teacher(self.teacher, "the domain classifier's teacher")
        prompts = [(f"domain-{i}", self.prompt(q)) for i, q in enumerate(questions)]
        replies = ask(
            teacher,
            prompts,
            cache=self.cache,
            max_cost_usd=self.max_cost_usd,
            progress=self.progress,
        )
        return [
            self.parse(r.answer or r.thinking) if r.error is None else UNCLASSIFIED for r in replies
        ]


# -- the embedding classifier -------------------------------------------------------------------


@dataclass(frozen=True)
class EmbeddingDomainClassifier:
    """Each question gets the label whose title and description embed nearest (offline).

    Args:
        scheme: ``"msc"`` or ``{label: description}``.
        model: The sentence-transformers model (default all-MiniLM-L6-v2, shipped offline).
        cache: Embedding cache: True (the default folder), a folder, or False.
        progress: Show a progress bar while embedding.

    Example:
        >>> classifier = EmbeddingDomainClassifier()
        >>> classifier.classify(["How many primes are below 100?"])  # doctest: +SKIP
        ['Number theory']
    """

    scheme: Any = "msc"
    model: str = "all-MiniLM-L6-v2"
    cache: Any = True
    progress: bool = False
    name: str = "msc-embedding"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_labels", domain_scheme(self.scheme))

    @property
    def labels(self) -> tuple[DomainLabel, ...]:
        """The scheme's labels."""
        return self._labels  # type: ignore[attr-defined,no-any-return]

    def label_vectors(self) -> np.ndarray:
        """The unit-length embedding of every label's text."""
        from .embedding import embed

        return embed([d.text for d in self.labels], self.model, cache=self.cache, progress=False)

    def classify(self, questions: Sequence[str], embeddings: np.ndarray | None = None) -> list[str]:
        """The nearest label of each question.

        Args:
            questions: The questions.
            embeddings: Their precomputed embeddings (same model as the labels); None embeds them.

        Raises:
            DataError: ``embeddings`` has another dimension than the model's label vectors.
        """
        import numpy as np

        from ..errors import DataError
        from .embedding import embed, normalize_rows

        labels = self.label_vectors()
        if embeddings is None:
            vectors = embed(list(questions), self.model, cache=self.cache, progress=self.progress)
        else:
            vectors = normalize_rows(np.asarray(embeddings))
            if vectors.ndim != 2 or vectors.shape[1] != labels.shape[1]:
                raise DataError(
                    f"msc-embedding: the question embeddings have shape {vectors.shape}, but "
                    f"model {self.model!r} embeds labels in {labels.shape[1]} dimensions; embed "
                    "the questions with the same model."
                )
        if len(vectors) == 0:
            return []
        nearest = np.argmax(vectors @ labels.T, axis=1)
        return [self.labels[i].title for i in nearest.tolist()]


def domain_classifier(name: str, **options: Any) -> DomainClassifier:
    """Build a classifier by name: ``"msc-llm"`` (needs ``teacher=``) or ``"msc-embedding"``.

    Raises:
        ConfigError: an unknown name or option, or a missing teacher.

    Example:
        >>> domain_classifier("msc-embedding", scheme={"a": "x", "b": "y"}).name
        'msc-embedding'
    """
    factories: dict[str, Any] = {
        "msc-llm": LLMDomainClassifier,
        "msc-embedding": EmbeddingDomainClassifier,
    }
    if name not in factories:
        raise ConfigError(
            f"unknown domain classifier {name!r}; use 'column' (an existing column), "
            f"{', '.join(repr(c) for c in CLASSIFIERS)}, or an object with classify(questions)."
        )
    if name == "msc-llm" and "teacher" not in options:
        raise ConfigError(
            "the 'msc-llm' classifier needs a teacher: classifier_options={'teacher': "
            "'anthropic'} (or any teacher name or object)."
        )
    try:
        return factories[name](**options)  # type: ignore[no-any-return]
    except TypeError as exc:
        raise ConfigError(f"domain classifier {name!r}: {exc}") from exc
