"""s1's test-time scaling metrics, and honest uncertainty for accuracies.

For a set of compute settings 𝒜 (here: thinking budgets), each with the thinking tokens ``a`` it
actually used and its accuracy ``f(a)`` (``reference/s1.md`` section 3):

* **Control** = mean over settings of 𝕀(a_min <= a <= a_max): does the method stay within the
  compute it was given?
* **Scaling** = mean over pairs a < b of (f(b) - f(a)) / (b - a): the average slope of accuracy
  against thinking tokens, in accuracy points per thinking token here.
* **Performance** = max f(a).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

__all__ = ["ScalingMetrics", "bootstrap_interval", "s1_metrics"]


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
        bounds: The (a_min, a_max) each setting allowed (a_max None: unbounded); None counts every
            setting as controlled.

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
            lo <= a and (hi is None or a <= hi)
            for a, (lo, hi) in zip(thinking_tokens, bounds, strict=True)
        ]
        control = sum(inside) / len(inside)
    points = sorted(zip(thinking_tokens, accuracy, strict=True))
    slopes = [(fb - fa) / (b - a) for (a, fa), (b, fb) in combinations(points, 2) if b != a]
    scaling = sum(slopes) / len(slopes) if slopes else math.nan
    return ScalingMetrics(control, scaling, max(accuracy))


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
