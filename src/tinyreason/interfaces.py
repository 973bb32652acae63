"""The interfaces every stage implements, as structural Protocols.

A plugin never needs to inherit from anything here: any object with the right methods fits, and
:func:`isinstance` checks it (the protocols are ``runtime_checkable``). The getters
(``tr.teacher(...)`` etc.) check what a plugin's factory returns against these.

Heavy types (``datasets.Dataset``, tokenizers) are only named for type checkers, so importing this
module stays instant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from datasets import Dataset

    from .records import Generation, Problem, Selection, Solution, ThinkingControl, TrainedStudent

__all__ = [
    "Backend",
    "Benchmark",
    "BudgetSweepable",
    "Controlled",
    "Describes",
    "ExtractsAnswers",
    "GenerationBudget",
    "Grader",
    "HasTokenizer",
    "RewardModel",
    "Samples",
    "Selector",
    "SetsAnswerKind",
    "SetsGenerationBudget",
    "SetsSampling",
    "StudentFormat",
    "Teacher",
    "TestTimeScaler",
    "Trainer",
]


@runtime_checkable
class Teacher(Protocol):
    """Writes reasoning traces for problems.

    ``distill`` takes a Dataset (or a list of :class:`~tinyreason.Problem`) and returns a Dataset in
    the s1K schema plus teacher columns (``teacher``, ``teacher_model``, ``thinking_kind``,
    ``finish_reason``, ``usage``, ``cost_usd``, ``error``); one row per problem, failed ones
    included with their ``error``. ``problems`` is whatever a user passes (a Dataset, Problems,
    row dicts: ``tr.as_problems`` normalises it), and ``options`` are the teacher's own (a cache,
    a cost cap...): the Protocol promises nothing about either.

    Example:
        >>> import tinyreason as tr
        >>> isinstance(tr.teacher("arithmetic"), tr.Teacher)
        True
    """

    def distill(self, problems: object, **options: object) -> Dataset:
        """Solve every problem, returning one trace row per problem."""
        ...


@runtime_checkable
class Selector(Protocol):
    """Keeps some rows of a traces Dataset and says why it dropped each of the others.

    Example:
        >>> import tinyreason as tr
        >>> isinstance(tr.selector("quality"), tr.Selector)
        True
    """

    def select(self, dataset: Dataset) -> Selection:
        """Return the kept rows and, for each dropped row, a reason."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """Fine-tunes a student on a traces Dataset.

    Example:
        >>> import tinyreason as tr
        >>> isinstance(tr.trainer("full", base="path/to/model"), tr.Trainer)
        True
    """

    def train(self, dataset: Dataset) -> TrainedStudent:
        """Train and return where the student was saved, with its metrics."""
        ...


@runtime_checkable
class Backend(Protocol):
    """Generates text from a student model, applying thinking control natively.

    A backend knows its student format (``backend.format``) and renders prompts with the model's
    chat template. Every built-in backend enforces a :class:`~tinyreason.scaling.ThinkingControl`
    with s1's own loop (:class:`~tinyreason.scaling.continuation.Continuation` over an engine), so
    the semantics, and on greedy runs the token ids, are the same everywhere. ``max_new_tokens`` is
    the generation budget (s1's ``max_gen_toks``); None sizes it from the model's context window.

    Example:
        >>> import tinyreason as tr
        >>> backend = tr.backend("transformers", model=tr.testing.tiny_model())  # doctest: +SKIP
        >>> isinstance(backend, tr.Backend)  # doctest: +SKIP
        True
    """

    format: StudentFormat

    def prompt(self, question: str) -> str:
        """Render a question into the text the model continues (thinking starts right after)."""
        ...

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        control: ThinkingControl | None = None,
        seed: int | None = None,
    ) -> list[list[Generation]]:
        """Return ``n`` generations for each prompt, in prompt order."""
        ...


@runtime_checkable
class TestTimeScaler(Protocol):
    """Spends test-time compute to answer problems (budget forcing, majority voting...).

    Example:
        >>> import tinyreason as tr
        >>> isinstance(tr.scaler("budget-forcing", max_thinking=64), tr.TestTimeScaler)
        True
    """

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Return one :class:`~tinyreason.Solution` per problem, in order."""
        ...


@runtime_checkable
class StudentFormat(Protocol):
    """How (question, thinking, answer) render into a student's chat template.

    The trainer and the scalers share it, so what the student learns and how it is prompted and
    budget-forced always agree.

    Example:
        >>> import tinyreason as tr
        >>> fmt = tr.chat_format("think-tags")
        >>> fmt.think_start, fmt.think_end
        ('<think>', '</think>')
    """

    name: str
    think_start: str
    think_end: str

    # The tokenizer is the backend's own (a transformers tokenizer for the built-in backends): a
    # format may call whatever that tokenizer offers, so the Protocol leaves its type open.

    def prompt(self, tokenizer: Any, question: str) -> str:
        """The chat-template prompt for a question, ending where the model starts thinking."""
        ...

    def completion(self, thinking: str, answer: str, tokenizer: Any) -> str:
        """The assistant's trained text: thinking between delimiters, answer, end of turn."""
        ...

    def parse(self, text: str) -> tuple[str, str]:
        """Split generated text into (thinking, answer)."""
        ...


@runtime_checkable
class Grader(Protocol):
    """Decides whether a predicted answer matches a reference answer.

    Example:
        >>> import tinyreason as tr
        >>> tr.evaluation.MathGrader().grade("0.5", "\\\\frac{1}{2}")  # doctest: +SKIP
        True
    """

    def grade(self, predicted: str | None, reference: str) -> bool:
        """True when ``predicted`` is equivalent to ``reference``."""
        ...


@runtime_checkable
class Benchmark(Protocol):
    """A named set of evaluation problems with reference answers.

    Example:
        >>> import tinyreason as tr
        >>> bench = tr.benchmark("arithmetic", n=5)
        >>> len(bench.problems())
        5
    """

    name: str

    def problems(self) -> list[Problem]:
        """The problems, each with a reference answer."""
        ...


@runtime_checkable
class RewardModel(Protocol):
    """Scores every step of a partial solution: a process reward model (PRM).

    A *step* is one piece of a solution's text, in order (the search scalers split on blank
    lines, as s1's step-conditional control and search-and-learn do); its *score* says how likely
    the solution is still on a correct path after that step: higher is better (the built-in PRMs
    give a probability in [0, 1]). The search scalers use the scores as weights and rank by them.

    Example:
        >>> class LongerIsBetter:
        ...     def score(self, question, steps):
        ...         return [min(1.0, len(step) / 100) for step in steps]
        ...
        ...     def score_batch(self, items):
        ...         return [self.score(question, steps) for question, steps in items]
        >>> isinstance(LongerIsBetter(), RewardModel)
        True
        >>> LongerIsBetter().score("What is 6*7?", ["6*7 = 42", "So 42."])
        [0.08, 0.06]
    """

    def score(self, question: str, steps: Sequence[str]) -> list[float]:
        """One score per step of ``steps`` (a solution to ``question`` so far), in order."""
        ...

    def score_batch(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """:meth:`score` for each ``(question, steps)`` pair, in order.

        A search scores every candidate of a round with one call, so a model-backed PRM can batch
        them into few forward passes; a simple PRM may loop over :meth:`score`.
        """
        ...


# -- optional capabilities ----------------------------------------------------------------------
# A plugin may add these to the required members above; a stage uses one only through an
# isinstance check against its Protocol here, never by probing for attributes.


@runtime_checkable
class Describes(Protocol):
    """Optional on any plugin: what a run's manifest and report record about it.

    Benchmarks and backends return a JSON-friendly dict (it goes into ``report.manifest``); a
    grader returns one line for the report.

    Example:
        >>> import tinyreason as tr
        >>> isinstance(tr.benchmark("aime24", path="aime24.jsonl"), Describes)
        True
    """

    def describe(self) -> Mapping[str, object] | str:
        """A description for the manifest (a dict) or the report (a str)."""
        ...


@runtime_checkable
class ExtractsAnswers(Protocol):
    """Optional on a Benchmark: how its answers are extracted (``tr.evaluation.ANSWER_KINDS``).

    Example:
        >>> import tinyreason as tr
        >>> tr.benchmark("aime24", path="aime24.jsonl").answer_kind
        's1-integer'
    """

    answer_kind: str


@runtime_checkable
class GenerationBudget(Protocol):
    """Optional on a Benchmark: its generation budget (s1's ``max_gen_toks``; None: none).

    Example:
        >>> import tinyreason as tr
        >>> tr.benchmark("aime24", path="aime24.jsonl").max_new_tokens
        32768
    """

    max_new_tokens: int | None


@runtime_checkable
class BudgetSweepable(Protocol):
    """Optional on a TestTimeScaler: ``tr.evaluate(..., budgets=[...])`` sweeps it.

    Example:
        >>> import tinyreason as tr
        >>> tr.scaler("budget-forcing").with_budget(512).control.max_thinking
        512
    """

    def with_budget(self, max_thinking: int | None) -> TestTimeScaler:
        """A copy whose thinking is capped at ``max_thinking`` tokens (None: uncapped)."""
        ...


@runtime_checkable
class SetsGenerationBudget(Protocol):
    """Optional on a TestTimeScaler: takes a benchmark's generation budget where it has none.

    Example:
        >>> import tinyreason as tr
        >>> tr.scaler("budget-forcing").with_generation_budget(32768).max_new_tokens
        32768
    """

    def with_generation_budget(self, max_new_tokens: int | None) -> TestTimeScaler:
        """A copy that generates with ``max_new_tokens`` where it had no budget of its own."""
        ...


@runtime_checkable
class SetsSampling(Protocol):
    """Optional on a TestTimeScaler: how many samples it draws per problem, and how hot.

    ``tr.evaluate(..., samples=, temperature=)`` calls it. ``n`` None keeps the scaler's own; a
    scaler that draws one answer (budget forcing) refuses ``n`` above 1 (evaluate wraps it in
    majority voting instead).

    Example:
        >>> import tinyreason as tr
        >>> tr.scaler("majority-vote", n=8).with_sampling(n=4, temperature=1.0).n
        4
    """

    def with_sampling(
        self, n: int | None = None, temperature: float | None = None
    ) -> TestTimeScaler:
        """A copy drawing ``n`` samples at ``temperature`` (None: keep its own)."""
        ...


@runtime_checkable
class SetsAnswerKind(Protocol):
    """Optional on a TestTimeScaler: takes a benchmark's answer kind where it was left ``"auto"``.

    So its own answer (and, for voting, how votes are grouped) follows the benchmark's extraction
    rules; a kind the user set is kept.

    Example:
        >>> import tinyreason as tr
        >>> tr.scaler("budget-forcing").with_answer_kind("integer").answer_kind
        'integer'
    """

    def with_answer_kind(self, kind: str) -> TestTimeScaler:
        """A copy extracting answers as ``kind`` where it extracted ``"auto"``."""
        ...


@runtime_checkable
class Controlled(Protocol):
    """Optional on a TestTimeScaler: the thinking control its samples follow (Control metric).

    Example:
        >>> import tinyreason as tr
        >>> tr.scaler("budget-forcing", max_thinking=64).control.max_thinking
        64
    """

    @property
    def control(self) -> ThinkingControl | None:
        """The control, or None when the samples think freely."""
        ...


@runtime_checkable
class Samples(Protocol):
    """Optional on a TestTimeScaler: how many samples it draws per problem (``n``).

    Example:
        >>> import tinyreason as tr
        >>> tr.scaler("majority-vote", n=8).n
        8
    """

    n: int


@runtime_checkable
class HasTokenizer(Protocol):
    """Optional on a Backend: its tokenizer, for a stage that renders or counts tokens itself.

    The local teacher uses it to put a system prompt into the chat template and to count the
    prompt's tokens; every built-in backend has one.

    Example:
        >>> from types import SimpleNamespace
        >>> isinstance(SimpleNamespace(tokenizer=None), HasTokenizer)
        True
    """

    tokenizer: Any
