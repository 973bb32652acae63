r"""REBASE, reward-balanced search (s1's parallel baseline): width follows softmaxed rewards.

s1 compares budget forcing with REBASE (its ``eval/rebase``: SGLang and a Llemma-34B process
reward model), which beat majority voting at 16 trajectories. The search starts from one root with
``n`` units of width; each round the live nodes share the width left in proportion to
``exp(score / softmax_temperature)`` (:func:`rebase_widths`), each child is one sampled next step
scored by the reward model, and every finished solution uses up one unit of width. It runs on the
machinery of :mod:`~tinyreason.scaling.search_tree` (one backend call and one reward call a round
for every problem at once).

Example:
    >>> rebase_widths([0.9, 0.5, 0.1], 3, temperature=1.0)
    [2, 1, 0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..interfaces import RewardModel
from .search import Aggregate, Select
from .search_steps import Path
from .search_tree import Scored, _Run, _TreeSearch

__all__ = ["REBASE", "rebase_widths"]


def rebase_widths(scores: Sequence[float], width: int, temperature: float) -> list[int]:
    """How many children each node gets: REBASE's ceil allocation of ``softmax(score / T)``.

    Nodes are taken best first; each gets ``ceil(width_left * w / w_left)`` of what is left,
    where ``w = exp(score / temperature)`` and ``w_left`` sums the weights not yet served (s1's
    ``select_softmax``). The counts add up to ``width``. NaN scores weigh nothing.

    Args:
        scores: One score per node.
        width: Children to hand out.
        temperature: The softmax temperature (s1's REBASE: 0.2); lower favours the best node.

    Returns:
        The children per node, in the nodes' order.

    Example:
        >>> rebase_widths([0.1, 0.9, 0.5], 8, temperature=0.2)
        [0, 7, 1]
    """
    clean = [-math.inf if math.isnan(s) else float(s) for s in scores]
    order = sorted(range(len(clean)), key=lambda i: -clean[i])  # stable: ties keep their order
    top = max(clean, default=0.0)
    if math.isinf(top):  # nothing finite: spread evenly
        clean, top = [0.0] * len(clean), 0.0
    weights = {i: math.exp((clean[i] - top) / temperature) for i in order}
    left, mass = width, sum(weights.values())
    counts = [0] * len(clean)
    for i in order:
        take = math.ceil(left * weights[i] / mass) if mass > 0 else left
        counts[i] = max(0, min(left, take))
        left -= counts[i]
        mass -= weights[i]
    return counts


@dataclass(frozen=True)
class REBASE(_TreeSearch):
    """Reward-balanced search (REBASE, s1's parallel baseline): expand by softmaxed rewards.

    The search starts from one root with ``n`` units of width. Each round the live nodes (paths
    not yet finished) share the width left by :func:`rebase_widths`: a node with score ``s`` gets
    children in proportion to ``exp(s / softmax_temperature)``, rounded up best first, and each
    child is one sampled next step, scored by the reward model (its aggregated step scores).
    A child that finishes the solution is a candidate and uses up one unit of width; the search
    ends when the width is spent or ``max_steps`` rounds have run (the last writes every path to
    its end). Defaults follow s1's ``rebase16.yaml``: sampling temperature 1.0, softmax
    temperature 0.2, 256 tokens a step.

    Args:
        reward_model: The PRM (``tr.reward_model(...)``).
        n: The width: complete solutions to find (s1 compared 16 with majority voting's 16).
        softmax_temperature: How sharply width follows the score (lower: more to the best).
        temperature: Sampling temperature of each step (above 0).
        aggregate: A node's score from its steps' (``"last"``: the newest step's, REBASE's).
        select: The answer rule over the candidates: ``"weighted"``, ``"best"``, ``"majority"``.
        max_steps: Rounds (s1's REBASE stops at depth 25).
        max_step_tokens: Tokens one step may take.
        max_new_tokens: Tokens a whole path may take (s1's ``max_tokens``; None: no cap beyond
            ``max_steps * max_step_tokens``).
        answer_kind: How answers are extracted.
        step_delimiter: Where a step ends.

    Example:
        >>> import tinyreason as tr
        >>> rebase = tr.scaler("rebase", reward_model=prm, n=16)  # doctest: +SKIP
        >>> [solution] = rebase.solve(backend, [problem], seed=0)  # doctest: +SKIP
    """

    reward_model: RewardModel
    n: int = 8
    softmax_temperature: float = 0.2
    temperature: float = 1.0
    aggregate: Aggregate = "last"
    select: Select = "weighted"
    max_steps: int = 40
    max_step_tokens: int = 256
    max_new_tokens: int | None = None
    answer_kind: str = "auto"
    step_delimiter: str = "\n\n"

    def __post_init__(self) -> None:
        t = self.softmax_temperature
        bad = isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t < math.inf
        self._check([f"softmax_temperature must be a number above 0, got {t!r}"] if bad else [])

    def _search(self, run: _Run) -> list[list[Scored]]:
        count = len(run.problems)
        frontier: list[list[Scored]] = [[(Path(), 1.0)] for _ in range(count)]
        width = [self.n] * count
        leaves: list[list[Scored]] = [[] for _ in range(count)]
        for step in range(self.max_steps):
            owners: list[int] = []
            paths: list[Path] = []
            for i, nodes in enumerate(frontier):
                if width[i] <= 0 or not nodes:
                    continue
                counts = rebase_widths([s for _, s in nodes], width[i], self.softmax_temperature)
                for (path, _), k in zip(nodes, counts, strict=True):
                    owners += [i] * k
                    paths += [path] * k
            if not paths:
                break
            grown = run.expand(owners, paths, ("rebase", step), to_end=step == self.max_steps - 1)
            scores = run.score(owners, grown, ("rebase", step))
            frontier = [[] for _ in range(count)]
            for owner, path, score in zip(owners, grown, scores, strict=True):
                if path.done:
                    leaves[owner].append((path, score))
                    width[owner] -= 1
                else:
                    frontier[owner].append((path, score))
        return leaves
