"""s1's test-time scaling metrics, and honest uncertainty for accuracies.

For a set of compute settings 𝒜 (here: thinking budgets), each with the thinking tokens ``a`` it
actually used and its accuracy ``f(a)`` (``reference/s1.md`` section 3):

* **Control** = mean over settings of 𝕀(a_min <= a <= a_max): does the method stay within the
  compute it was given?
* **Scaling** = mean over pairs a < b of (f(b) - f(a)) / (b - a): the average slope of accuracy
  against thinking tokens, in accuracy points per thinking token here.
* **Performance** = max f(a).

From a pool of ``n`` samples per problem, ``c`` of them right, :func:`pass_at_k` is the unbiased
estimator of the chance that at least one of ``k`` samples is right (Chen et al. 2021, "Evaluating
Large Language Models Trained on Code"): ``1 - C(n - c, k) / C(n, k)``. Averaged over problems it
is pass@k; pass@1 is then the mean per-sample accuracy. :func:`k_values` lists the ``k`` a report
shows: the powers of two below ``n``, and ``n`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from ..errors import ConfigError

__all__ = ["ScalingMetrics", "bootstrap_interval", "k_values", "pass_at_k", "s1_metrics"]


@dataclass(frozen=True)
class ScalingMetrics:
    """s1's Control, Scaling and Performance for one sweep.

    Example:
        >>> s1_metrics([10, 20, 40], [20.0, 30.0, 50.0], bounds=[(0, 10), (0, 20), (0, 40)])
        ScalingMetrics(control=1.0, scaling=1.0, performance=50.0)
    """

    control: float
    scaling: float
    performance: float


def s1_metrics(
    thinking_tokens: Sequence[float],
    accuracy: Sequence[float],
    bounds: Sequence[tuple[float, float | None]] | None = None,
) -> ScalingMetrics:
    """Compute s1's metrics exactly as the paper defines them.

    Args:
        thinking_tokens: Average thinking tokens ``a`` used at each setting.
        accuracy: Accuracy ``f(a)`` at each setting, in percent.
        bounds: The (a_min, a_max) each setting allowed (a_max None: unbounded; a cap that is not
            a number, such as s1's ``"auto"``, which the scaler sizes per prompt, counts as
            unbounded too); None counts every setting as controlled.

    Returns:
        The metrics; Scaling is NaN with fewer than two distinct compute values.
    """
    if len(thinking_tokens) != len(accuracy):
        raise ValueError("thinking_tokens and accuracy must have the same length")
    if not accuracy:
        return ScalingMetrics(math.nan, math.nan, math.nan)
    if bounds is None:
        control = 1.0
    else:
        inside = [
            lo <= a and (not _is_number(hi) or a <= hi)
            for a, (lo, hi) in zip(thinking_tokens, bounds, strict=True)
        ]
        control = sum(inside) / len(inside)
    points = sorted(zip(thinking_tokens, accuracy, strict=True))
    slopes = [(fb - fa) / (b - a) for (a, fa), (b, fb) in combinations(points, 2) if b != a]
    scaling = sum(slopes) / len(slopes) if slopes else math.nan
    return ScalingMetrics(control, scaling, max(accuracy))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def bootstrap_interval(
    outcomes: Sequence[float], *, level: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """A percentile bootstrap confidence interval for a mean (e.g. accuracy over problems), in %.

    Example:
        >>> lo, hi = bootstrap_interval([1, 0, 1, 1, 0, 1, 1, 0, 1, 1])
        >>> lo < 70 < hi
        True
    """
    import numpy as np

    values = np.asarray(outcomes, dtype=float)
    if values.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return (float(lo) * 100, float(hi) * 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate for one problem: ``1 - C(n - c, k) / C(n, k)`` (Chen et al.).

    It is the probability that ``k`` samples drawn without replacement from the ``n`` generated
    ones include at least one of the ``c`` right ones. Computing it from one pool of ``n`` samples
    is less noisy than drawing ``k`` fresh samples, and unbiased, unlike ``1 - (1 - c/n) ** k``.

    Args:
        n: Samples drawn for the problem (>= 1).
        c: How many of them are right (0 <= c <= n).
        k: The budget of attempts (1 <= k <= n).

    Returns:
        A probability in [0, 1] (not a percentage).

    Raises:
        ConfigError: the counts are not whole numbers with 0 <= c <= n and 1 <= k <= n.

    Example:
        >>> pass_at_k(4, 1, 1)  # one right sample in four: a single try succeeds 1 time in 4
        0.25
        >>> round(pass_at_k(4, 2, 2), 4)  # 1 - C(2, 2) / C(4, 2) = 1 - 1/6
        0.8333
        >>> pass_at_k(4, 0, 4), pass_at_k(4, 3, 2)  # none right; too few wrong to fill 2 tries
        (0.0, 1.0)
    """
    counts = {"n": n, "c": c, "k": k}
    bad = [f"{name}={value!r}" for name, value in counts.items() if not _is_count(value)]
    if bad:
        raise ConfigError(f"pass_at_k needs whole numbers, got {', '.join(bad)}")
    if not (0 <= c <= n and 1 <= k <= n):
        raise ConfigError(
            f"pass_at_k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}; "
            "k cannot exceed the samples drawn per problem."
        )
    if n - c < k:  # every draw of k samples holds a right one
        return 1.0
    # Exact integers (math.comb) up to the one division: no overflow or cancellation for big n.
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def k_values(n: int) -> list[int]:
    """The ``k`` to report pass@k and maj@k at, for ``n`` samples: 1, 2, 4, ... and ``n``.

    Example:
        >>> k_values(1), k_values(8), k_values(6)
        ([1], [1, 2, 4, 8], [1, 2, 4, 6])
    """
    if not _is_count(n) or n < 1:
        raise ConfigError(f"k_values needs a number of samples >= 1, got {n!r}")
    ks = []
    k = 1
    while k < n:
        ks.append(k)
        k *= 2
    return [*ks, n]


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
