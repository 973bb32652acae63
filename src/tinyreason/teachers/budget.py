"""The run's cost cap (``max_cost_usd``): which calls may start, and what was spent.

A call starts only if what was spent, plus the projected cost of the calls in flight, plus its own
projected cost, stays within the cap. When it would not, it waits for the calls in flight to
settle (their real cost may come in under the projection); once none is left in flight, the cap
is reached and every remaining call is refused.
"""

from __future__ import annotations

import asyncio

from .calls import Job, Tally
from .pricing import Price

__all__ = ["CostBudget"]


class CostBudget:
    """Admits calls while the projected spend stays within ``max_cost_usd``.

    A call is projected to cost its prompt's tokens plus the mean output + thinking tokens of
    this run's replies so far (``expected_output_tokens`` before the first reply).

    Args:
        max_cost_usd: The cap, or None for none (every call is admitted).
        price: The model's price, or None (every call is admitted).
        tally: The run's counters: spent, in flight, and the tokens of its replies.
        expected_output_tokens: Output + thinking tokens assumed before any reply.

    Example:
        >>> import asyncio
        >>> from tinyreason.teachers.base import TeacherRequest
        >>> budget = CostBudget(0.01, Price(1.0, 2.0, 2.0), Tally(), expected_output_tokens=1000)
        >>> job = Job("k", TeacherRequest("p1", "What is 6 * 7?", "m"), input_tokens=4)
        >>> asyncio.run(budget.admit(job)), round(job.projected_usd, 6)
        (True, 0.002004)
    """

    def __init__(
        self,
        max_cost_usd: float | None,
        price: Price | None,
        tally: Tally,
        *,
        expected_output_tokens: int,
    ):
        self.max_cost_usd, self.price, self.tally = max_cost_usd, price, tally
        self.expected_output_tokens = expected_output_tokens
        #: True once the cap stopped a call: every later call is refused.
        self.hit = False
        self._settled = asyncio.Condition()

    async def admit(self, job: Job) -> bool:
        """Whether the cap allows this call; waits for calls in flight to settle first."""
        if self.max_cost_usd is None or self.price is None:
            return True
        job.projected_usd = self.projected_cost(job)
        async with self._settled:
            while not self.hit:
                tally = self.tally
                if tally.spent + tally.in_flight_usd + job.projected_usd <= self.max_cost_usd:
                    tally.in_flight_usd += job.projected_usd
                    return True
                if tally.in_flight == 0:
                    self.hit = True
                    break
                await self._settled.wait()  # real costs may come in under their projection
        return False

    def projected_cost(self, job: Job) -> float:
        """What ``job`` is expected to cost, in USD (0 without a price)."""
        if self.price is None:
            return 0.0
        tally = self.tally
        generated = (
            tally.generated_tokens / tally.replies if tally.replies else self.expected_output_tokens
        )
        return (job.input_tokens * self.price.input + generated * self.price.generated) / 1e6

    async def settle(self, job: Job, cost: float | None) -> None:
        """A call finished: book its real cost in place of its projection."""
        tally = self.tally
        tally.in_flight -= 1
        tally.calls_done += 1
        tally.in_flight_usd -= job.projected_usd
        tally.spent += cost or 0.0
        if self.max_cost_usd is not None:  # calls may be waiting for the budget to settle
            async with self._settled:
                self._settled.notify_all()
