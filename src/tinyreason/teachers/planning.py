"""Before a teacher makes any call: the cache to use, what the run would cost, and the checked plan.

:func:`plan_run` checks everything a run needs (the problems, ``refresh=``, the key, the price, the
cap against the least the run can cost) and returns a :class:`RunPlan`, so that a mistake fails
before the first paid call. :func:`estimate_run` is what ``teacher.estimate(...)`` reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import as_problems
from ..errors import ConfigError
from ..records import Problem
from .base import TeacherRequest
from .cache import CacheEntry, ReplyCache, check_refresh, default_cache_path
from .pricing import Estimate, Price, make_estimate

if TYPE_CHECKING:
    from .teacher import ProviderTeacher

__all__ = [
    "ANSWER_ALLOWANCE_TOKENS",
    "DEFAULT_EXPECTED_OUTPUT_TOKENS",
    "DEFAULT_HIGH_OUTPUT_TOKENS",
    "MIN_OBSERVED_REPLIES",
    "CacheArg",
    "RunPlan",
    "estimate_run",
    "expected_output_tokens",
    "open_cache",
    "plan_run",
]

#: What ``cache=`` takes: a path, a :class:`ReplyCache`, None (the default file) or False (none).
CacheArg = str | Path | ReplyCache | bool | None

#: Output + thinking tokens assumed per call before any reply says otherwise.
DEFAULT_EXPECTED_OUTPUT_TOKENS = 4_000
#: Assumed for the "high" estimate when no max_output_tokens is set.
DEFAULT_HIGH_OUTPUT_TOKENS = 32_768
#: Answer tokens assumed on top of a thinking budget, for the "high" estimate.
ANSWER_ALLOWANCE_TOKENS = 2_000
#: Replies of a model that must be in the cache before their mean length is trusted.
MIN_OBSERVED_REPLIES = 5


def open_cache(cache: CacheArg, *, create: bool = True) -> tuple[ReplyCache | None, bool]:
    """The cache that ``cache=`` names, and whether the caller owns it (and must close it).

    Args:
        cache: A file path; None (or True) for :func:`~.cache.default_cache_path`; a
            :class:`ReplyCache` (not owned); False for a temporary one.
        create: False only reads: a missing file (or ``False``) gives None instead of a cache.

    Raises:
        ConfigError: ``cache`` is none of the above.

    Example:
        >>> open_cache(False, create=False)
        (None, True)
    """
    if isinstance(cache, ReplyCache):
        return cache, False
    if cache is False:
        return (ReplyCache.temporary() if create else None), True
    if cache is None or cache is True:
        cache = default_cache_path()
    if not isinstance(cache, (str, Path)):
        raise ConfigError(f"cache= must be a file path, a ReplyCache, None or False, got {cache!r}")
    if not create and not Path(cache).expanduser().exists():
        return None, True
    return ReplyCache(cache), True


def expected_output_tokens(teacher: ProviderTeacher, store: ReplyCache | None) -> tuple[int, str]:
    """Output + thinking tokens a call of ``teacher`` is expected to use, and why.

    The mean of this model's cached replies once there are enough of them, else a default;
    capped by the teacher's ``max_output_tokens``.

    Example:
        >>> import tinyreason as tr
        >>> expected_output_tokens(tr.testing.FakeProviderTeacher(max_output_tokens=900), None)
        (900, 'max_output_tokens')
    """
    expected, why = DEFAULT_EXPECTED_OUTPUT_TOKENS, "a default"
    if store is not None:
        mean, n = store.mean_output_tokens(teacher.name, teacher.model)  # type: ignore[arg-type]
        if n >= MIN_OBSERVED_REPLIES:
            expected, why = max(1, round(mean)), f"the mean of {n:,} cached replies"
    if teacher.max_output_tokens is not None and expected > teacher.max_output_tokens:
        expected, why = teacher.max_output_tokens, "max_output_tokens"
    return expected, why


def estimate_run(
    teacher: ProviderTeacher,
    items: Sequence[Problem],
    pairs: Sequence[tuple[str, TeacherRequest]],
    store: ReplyCache | None,
    refresh: frozenset[str],
    expected_tokens: int | None = None,
) -> Estimate:
    """What asking ``pairs`` (the requests of ``items``) would cost: cached ones cost nothing.

    Args:
        teacher: The teacher that would ask.
        items: The problems, one per pair.
        pairs: ``(cache_key, request)`` per problem.
        store: The cache to read, or None.
        refresh: Cached entries that would be asked again.
        expected_tokens: Output + thinking tokens per call for "expected"; None: see
            :func:`expected_output_tokens`.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.testing.FakeProviderTeacher(max_output_tokens=1000)
        >>> items = [tr.Problem("p1", "What is 6 * 7?")]
        >>> estimate_run(teacher, items, teacher.requests(items), None, frozenset()).to_call
        1
    """
    unique = dict(pairs)
    cached: dict[str, CacheEntry] = {}
    if store is not None:
        cached = {k: e for k, e in store.get_many(unique).items() if not e.matches(refresh)}
    if expected_tokens is not None:
        expected, why = expected_tokens, "given"
    else:
        expected, why = expected_output_tokens(teacher, store)
    if teacher.max_output_tokens is not None:
        high, high_why = teacher.max_output_tokens, "max_output_tokens"
    elif teacher.thinking_budget is not None:
        high = teacher.thinking_budget + ANSWER_ALLOWANCE_TOKENS
        high_why = f"thinking_budget + {ANSWER_ALLOWANCE_TOKENS:,} answer tokens"
    else:
        high, high_why = DEFAULT_HIGH_OUTPUT_TOKENS, "no max_output_tokens set"
    to_call = [r for k, r in unique.items() if k not in cached]
    return make_estimate(
        teacher.name,
        teacher.model,  # type: ignore[arg-type]
        prompts=[(r.system or "") + r.question for r in to_call],
        problems=len(items),
        unique=len(unique),
        cached=len(unique) - len(to_call),
        price=teacher.models.price(teacher.name, teacher.model),  # type: ignore[arg-type]
        expected_output_tokens=expected,
        high_output_tokens=max(high, expected),
        assumptions=(
            f"prompt tokens ~ characters / 4; expected: {expected:,} output + thinking "
            f"tokens per call ({why}); high: {max(high, expected):,} per call ({high_why})"
        ),
    )


@dataclass
class RunPlan:
    """Everything a run needs, checked before any call is made; closes the cache it owns.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.testing.FakeProviderTeacher()
        >>> with plan_run(teacher, [tr.Problem("p1", "What is 6 * 7?")], False, None, ()) as plan:
        ...     len(plan.pairs), plan.owns_cache
        (1, True)
    """

    problems: list[Problem]
    pairs: list[tuple[str, TeacherRequest]]
    cache: ReplyCache
    owns_cache: bool
    refresh: frozenset[str]
    api_key: str | None = field(repr=False)
    price: Price | None
    max_cost_usd: float | None
    expected_output_tokens: int = DEFAULT_EXPECTED_OUTPUT_TOKENS

    def close(self) -> None:
        """Close the cache, if the plan opened it."""
        if self.owns_cache:
            self.cache.close()

    def __enter__(self) -> RunPlan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def plan_run(
    teacher: ProviderTeacher,
    problems: Any,
    cache: CacheArg,
    max_cost_usd: float | None,
    refresh: Any,
) -> RunPlan:
    """Check a run of ``teacher`` over ``problems`` and open its cache (see ``distill``).

    Raises:
        DataError: no problems, or a problem without a question.
        ConfigError: a missing key, a bad ``refresh``, a cap without a price, or a cap below
            the least the run can cost.
    """
    items = as_problems(problems)  # empty input, a missing question: DataError here
    chosen = check_refresh(refresh)
    api_key = teacher.resolve_api_key()  # a missing key fails before anything else happens
    price = teacher.models.price(teacher.name, teacher.model)  # type: ignore[arg-type]
    if max_cost_usd is not None:
        _check_cap(teacher, max_cost_usd, price)
    pairs = teacher.requests(items)
    store, owned = open_cache(cache)
    assert store is not None
    plan = RunPlan(items, pairs, store, owned, chosen, api_key, price, max_cost_usd)
    try:
        plan.expected_output_tokens = expected_output_tokens(teacher, store)[0]
        if max_cost_usd is not None:
            estimate = estimate_run(teacher, items, pairs, store, chosen)
            if estimate.usd_low is not None and max_cost_usd < estimate.usd_low:
                raise ConfigError(
                    f"max_cost_usd=${max_cost_usd:,.4f} is below the least this run can cost: "
                    f"${estimate.usd_low:,.4f} for the prompts of its {estimate.to_call:,} "
                    f"uncached questions alone (expected ~${estimate.usd_expected:,.2f}, at "
                    f"most ~${estimate.usd_high:,.2f}). Raise the cap, or distil fewer "
                    "problems; teacher.estimate(problems) shows the details."
                )
    except BaseException:
        plan.close()
        raise
    return plan


def _check_cap(teacher: ProviderTeacher, max_cost_usd: Any, price: Price | None) -> None:
    if (
        isinstance(max_cost_usd, bool)
        or not isinstance(max_cost_usd, (int, float))
        or not max_cost_usd >= 0
    ):
        raise ConfigError(f"max_cost_usd must be a number >= 0, got {max_cost_usd!r}")
    if price is None:
        raise ConfigError(
            f"max_cost_usd needs a price for {teacher.name} model {teacher.model!r}, and the "
            "data file has none: pass prices={model: {'input': USD_per_1M, 'output': "
            "..., 'thinking': ...}} to the teacher."
        )
