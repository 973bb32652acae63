"""Fit the user's scaler to an evaluation run: samples, generation budget, answer kind, budgets.

``tr.evaluate`` takes one scaler and derives from it the scaler each budget runs:
:func:`sampling_scaler` makes it draw ``samples`` per problem, :func:`with_generation_budget` gives
it the benchmark's generation budget, :func:`with_answer_kind` the benchmark's extraction rule, and
:func:`with_budget` caps each budget's thinking. What the run reads back from a scaler (the
thinking range it promises, for s1's Control; its samples per problem) is here too.

Each of these goes through an optional capability Protocol of :mod:`tinyreason.interfaces`
(``BudgetSweepable``, ``SetsGenerationBudget``, ``SetsSampling``, ``SetsAnswerKind``,
``Controlled``, ``Samples``); nothing here reads a scaler's fields.

Example:
    >>> from tinyreason.scaling import BudgetForcing
    >>> vote = with_answer_kind(sampling_scaler(BudgetForcing(), samples=4), "integer")
    >>> type(vote).__name__, vote.n, vote.answer_kind, vote.inner.answer_kind
    ('MajorityVote', 4, 'integer', 'integer')
"""

from __future__ import annotations

from ..errors import ConfigError
from ..interfaces import (
    BudgetSweepable,
    Controlled,
    Samples,
    SetsAnswerKind,
    SetsGenerationBudget,
    SetsSampling,
    TestTimeScaler,
)
from .inputs import samples_problem, temperature_problem

__all__ = [
    "bounds",
    "samples_of",
    "sampling_scaler",
    "with_answer_kind",
    "with_budget",
    "with_generation_budget",
]


def with_budget(scaler: TestTimeScaler, budget: int | None) -> TestTimeScaler:
    """A copy of ``scaler`` whose thinking is capped at ``budget`` tokens.

    Works for scalers with a ``with_budget(max_thinking)`` method
    (:class:`~tinyreason.interfaces.BudgetSweepable`): budget forcing, and majority voting and
    best-of-n over budget-forced samples.

    Raises:
        ConfigError: the scaler has no thinking budget to set.

    Example:
        >>> from tinyreason.scaling import BudgetForcing
        >>> with_budget(BudgetForcing(), 512).max_thinking
        512
    """
    if budget is None:
        return scaler
    if isinstance(scaler, BudgetSweepable):
        return scaler.with_budget(budget)
    raise ConfigError(
        f"the scaler {type(scaler).__name__} has no thinking budget, so budgets= cannot apply; "
        "give it a with_budget(max_thinking) method (tinyreason.interfaces.BudgetSweepable), or "
        "omit budgets."
    )


def with_generation_budget(scaler: TestTimeScaler, max_new_tokens: int | None) -> TestTimeScaler:
    """A copy of ``scaler`` that generates with ``max_new_tokens`` where it had no budget.

    A benchmark's budget (s1's ``max_gen_toks``, 32,768 on AIME, MATH500 and GPQA) applies to a
    scaler, or its ``inner`` one, whose own ``max_new_tokens`` is None; one the user set wins.

    Example:
        >>> from tinyreason.scaling import BudgetForcing, MajorityVote
        >>> with_generation_budget(BudgetForcing(), 32768).max_new_tokens
        32768
        >>> with_generation_budget(BudgetForcing(max_new_tokens=512), 32768).max_new_tokens
        512
        >>> vote = with_generation_budget(MajorityVote(n=4, inner=BudgetForcing()), 32768)
        >>> vote.inner.max_new_tokens
        32768
    """
    if max_new_tokens is None or not isinstance(scaler, SetsGenerationBudget):
        return scaler
    return scaler.with_generation_budget(max_new_tokens)


def bounds(scaler: TestTimeScaler) -> tuple[float, float | None]:
    """The thinking range a scaler promises, for s1's Control metric.

    The minimum is the larger of s1's ``min_thinking`` and tinyreason's ``wait_below``; a cap of
    ``"auto"`` or None is sized per run from the generation budget, so it bounds nothing here.

    Example:
        >>> from tinyreason.scaling import BudgetForcing
        >>> bounds(BudgetForcing(max_thinking=64)), bounds(BudgetForcing(max_thinking="auto"))
        ((0.0, 64.0), (0.0, None))
    """
    control = scaler.control if isinstance(scaler, Controlled) else None
    if control is None:
        return 0.0, None
    cap = control.max_thinking
    low = float(max(control.min_thinking, control.wait_below))
    return low, float(cap) if isinstance(cap, int) and not isinstance(cap, bool) else None


def samples_of(scaler: TestTimeScaler) -> int:
    """Samples the scaler draws per problem: its ``n``, else 1.

    A scaler says how many it draws through :class:`~tinyreason.interfaces.Samples`.

    Example:
        >>> from tinyreason.scaling import BudgetForcing, MajorityVote
        >>> samples_of(MajorityVote(n=8)), samples_of(BudgetForcing())
        (8, 1)
    """
    n = scaler.n if isinstance(scaler, Samples) else 1
    return n if isinstance(n, int) and not isinstance(n, bool) else 1


def with_answer_kind(scaler: TestTimeScaler, kind: str) -> TestTimeScaler:
    """Give a scaler (and its inner one) ``kind`` where it was left at ``"auto"``.

    So that the scaler's own answer (and, for majority voting, how votes are grouped) uses the
    benchmark's extraction rules; a kind the user set on purpose is kept. Through
    :class:`~tinyreason.interfaces.SetsAnswerKind`; another scaler is used as it is.

    Example:
        >>> from tinyreason.scaling import BudgetForcing
        >>> with_answer_kind(BudgetForcing(), "integer").answer_kind
        'integer'
        >>> with_answer_kind(BudgetForcing(answer_kind="math"), "integer").answer_kind
        'math'
    """
    return scaler.with_answer_kind(kind) if isinstance(scaler, SetsAnswerKind) else scaler


def sampling_scaler(
    scaler: TestTimeScaler, samples: int | None = None, temperature: float | None = None
) -> TestTimeScaler:
    """The scaler that draws ``samples`` per problem in one backend call, for ``tr.evaluate``.

    * A scaler that already samples (:class:`~tinyreason.interfaces.Samples` and
      :class:`~tinyreason.interfaces.SetsSampling`: MajorityVote, BestOfN) keeps its own way of
      choosing the answer; ``samples`` replaces its ``n`` and ``temperature`` its temperature.
    * ``samples`` None or 1: any other scaler is used as it is (``temperature``, when given, is
      set through ``with_sampling`` where the scaler has it).
    * ``samples=k > 1`` with a :class:`~tinyreason.scaling.BudgetForcing` (the default scaler):
      it becomes the ``inner`` of ``MajorityVote(n=k)``, so every sample is budget-forced, all
      ``k * problems`` samples come from one ``generate`` call, and the answer is the majority.
      The temperature is ``temperature``, else the budget forcing's own when above 0, else 0.7
      (greedy samples would all be the same).

    Raises:
        ConfigError: ``samples`` < 1 or not a whole number, a bad ``temperature``, or
            ``samples > 1`` with a scaler that can neither be wrapped nor told how many to draw.

    Example:
        >>> from tinyreason.scaling import BudgetForcing
        >>> vote = sampling_scaler(BudgetForcing(max_thinking=512), samples=8)
        >>> type(vote).__name__, vote.n, vote.temperature, vote.inner.max_thinking
        ('MajorityVote', 8, 0.7, 512)
    """
    from ..registry import build

    wrong = [p for p in (samples_problem(samples), temperature_problem(temperature)) if p]
    if wrong:
        raise ConfigError(wrong)
    if isinstance(scaler, Samples) and isinstance(scaler, SetsSampling):
        return scaler.with_sampling(samples, temperature)  # it draws n: samples sets n
    if samples is None or samples == 1:
        if temperature is not None and isinstance(scaler, SetsSampling):
            return scaler.with_sampling(None, temperature)
        return scaler
    # Budget forcing and majority voting are built through the plugin manager by name: the
    # evaluation stage never imports the scaling stage.
    if isinstance(scaler, type(build("scaler", "budget-forcing"))):
        if temperature is None:
            temperature = scaler.temperature if scaler.temperature > 0 else 0.7
        vote: TestTimeScaler = build(
            "scaler",
            "majority-vote",
            n=samples,
            temperature=temperature,
            inner=scaler,
            answer_kind=scaler.answer_kind,
        )
        return vote
    raise ConfigError(
        f"samples={samples} needs a scaler that can draw several samples: a BudgetForcing "
        f"(tr.scaler('budget-forcing'), wrapped in majority voting) or one with an n field "
        f"(MajorityVote, BestOfN); got {type(scaler).__name__}. Use samples=1 with it."
    )
