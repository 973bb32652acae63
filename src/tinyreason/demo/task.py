"""The embedded default task: chained modular arithmetic, where thinking genuinely helps.

A problem is a start digit and K labelled operations (``+``, ``-``, ``*`` with an operand 0-9), all
mod 10, e.g. ``0;a-5;b+4;c*6``. The answer is the final value (here 4). The teacher's trace
writes one line per step, carrying the intermediate result::

    a-5:0-5=5
    b+4:5+4=9
    c*6:9*6=4

A small model cannot do K steps "in its head" in one token, but can do one step per line: so
accuracy rises with the thinking budget, as budget forcing should show. (Study:
``reference/toy-scaling.md``.)

Everything here is pure Python and seeded, so a pool, a held-out set and the teacher's slips are the
same on every machine.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import ConfigError, DataError
from ..records import Problem, Usage
from ..teachers.base import ProviderError, TeacherReply, TeacherRequest
from ..teachers.teacher import ProviderTeacher

__all__ = [
    "TOKEN_PATTERN",
    "ArithmeticBenchmark",
    "ArithmeticTeacher",
    "count_tokens",
    "make_problems",
    "solve",
]

LABELS = "abcdefghij"
OPS = "+-*"
#: How the demo tokenizer splits text: whole chat words, one token per operation+operand, else
#: one character per token.
TOKEN_PATTERN = r"user|assistant|system|[+\-*][0-9]|[\s\S]"
_QUESTION = re.compile(r"^([0-9])((?:;[a-j][+\-*][0-9])+)$")


def _apply(value: int, op: str, operand: int) -> int:
    if op == "+":
        return (value + operand) % 10
    if op == "-":
        return (value - operand) % 10
    return (value * operand) % 10


def parse_question(question: str) -> tuple[int, list[tuple[str, str, int]]]:
    """Split ``"0;a-5;b+4"`` into the start digit and (label, op, operand) steps.

    Raises:
        DataError: the text is not an arithmetic-chain question.
    """
    match = _QUESTION.match(question.strip())
    if not match:
        raise DataError(
            f"not an arithmetic-chain question: {question!r} (expected e.g. '0;a-5;b+4;c*6')"
        )
    steps = [(s[0], s[1], int(s[2])) for s in match.group(2).split(";")[1:]]
    return int(match.group(1)), steps


def solve(question: str, slip_at: int | None = None, slip_by: int = 1) -> tuple[str, str]:
    """The step-by-step trace and the answer for a question.

    Args:
        question: An arithmetic-chain question.
        slip_at: Step at which to make an arithmetic slip (the result is off by ``slip_by``), as a
            real teacher sometimes does; the error carries through to the answer.
        slip_by: Size of the slip (1-9).

    Example:
        >>> solve("0;a-5;b+4;c*6")
        ('a-5:0-5=5\\nb+4:5+4=9\\nc*6:9*6=4', '4')
    """
    value, steps = parse_question(question)
    lines = []
    for i, (label, op, operand) in enumerate(steps):
        result = _apply(value, op, operand)
        if i == slip_at:
            result = (result + slip_by) % 10
        lines.append(f"{label}{op}{operand}:{value}{op}{operand}={result}")
        value = result
    return "\n".join(lines), str(value)


def count_tokens(text: str) -> int:
    """Tokens of ``text`` in the demo tokenizer's split (no tokenizer needed)."""
    return len(re.findall(TOKEN_PATTERN, text))


def make_problems(
    n: int, *, seed: int = 0, min_steps: int = 2, max_steps: int = 10, prefix: str = "arith"
) -> list[Problem]:
    """``n`` distinct random arithmetic-chain problems with their answers.

    The number of steps is the problem's domain (``"steps-5"``), which the diversity selector
    balances like s1 balances mathematical subject areas.

    Raises:
        ConfigError: step counts outside 1-10, or more problems asked than can be distinct.
    """
    if not 1 <= min_steps <= max_steps <= len(LABELS):
        raise ConfigError(f"need 1 <= min_steps <= max_steps <= 10, got {min_steps}, {max_steps}")
    if n < 0:
        raise ConfigError(f"n must be >= 0, got {n}")
    rng = random.Random(seed)
    problems: list[Problem] = []
    seen: set[str] = set()
    attempts = 0
    while len(problems) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ConfigError(
                f"cannot draw {n} distinct problems with {min_steps}-{max_steps} steps"
            )
        k = rng.randint(min_steps, max_steps)
        steps = "".join(f";{LABELS[i]}{rng.choice(OPS)}{rng.randint(0, 9)}" for i in range(k))
        question = f"{rng.randint(0, 9)}{steps}"
        if question in seen:
            continue
        seen.add(question)
        _, answer = solve(question)
        problems.append(
            Problem(
                id=f"{prefix}-{seed}-{len(problems)}",
                question=question,
                answer=answer,
                domain=f"steps-{k}",
                source="tinyreason/arithmetic",
            )
        )
    return problems


class ArithmeticProvider:
    """A programmatic "model" that solves arithmetic-chain questions step by step.

    It speaks the teacher engine's provider protocol, so the demo's teacher gets what every API
    teacher gets: the cache, resuming, progress and the run summary. Like a real teacher it is
    sometimes wrong: a seeded share of its traces carry one arithmetic slip.
    """

    name = "arithmetic"

    def __init__(self, error_rate: float, seed: int):
        self.error_rate, self.seed = error_rate, seed

    def reply(self, question: str) -> TeacherReply:
        """The trace for one question (slips are seeded by the question, so re-runs agree)."""
        try:
            _, steps = parse_question(question)
        except DataError as exc:
            raise ProviderError(str(exc), reason="bad_request", retryable=False) from None
        rng = random.Random(f"{self.seed}:{question}")
        slip_at = rng.randrange(len(steps)) if rng.random() < self.error_rate else None
        thinking, answer = solve(question, slip_at, slip_by=rng.randint(1, 9))
        usage = Usage(
            input_tokens=count_tokens(question),
            output_tokens=count_tokens(answer),
            thinking_tokens=count_tokens(thinking),
        )
        return TeacherReply(thinking, answer, "raw", "stop", usage, model="exact")

    async def complete(self, request: TeacherRequest) -> TeacherReply:
        """Solve the request's question."""
        return self.reply(request.question)

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass(frozen=True)
class ArithmeticTeacher(ProviderTeacher):
    """The demo's teacher: exact step-by-step traces with occasional slips, through the engine.

    Like a real teacher it is sometimes wrong: with probability ``error_rate`` a trace has one
    arithmetic slip, so quality selection has real work to do. It needs no key and costs nothing,
    and runs through the same engine as the API teachers (cache, progress, summary).

    Args:
        error_rate: Share of traces with a slip.
        seed: Seed of the slips (part of the cache key, with the error rate).

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("arithmetic", error_rate=0.0)
        >>> ds = teacher.distill([tr.Problem("p1", "0;a-5;b+4", answer="9")], cache=False,
        ...                      progress=False)
        >>> ds[0]["thinking_trajectories"], ds[0]["attempt"], ds[0]["thinking_kind"]
        (['a-5:0-5=5\\nb+4:5+4=9'], '9', 'raw')
    """

    name: ClassVar[str] = "arithmetic"
    needs_key: ClassVar[bool] = False

    error_rate: float = 0.05
    seed: int = 0
    concurrency: int = 64

    def _check_fields(self) -> list[str]:
        problems = super()._check_fields()
        if not 0.0 <= self.error_rate <= 1.0:
            problems.append(f"error_rate must be between 0 and 1, got {self.error_rate}")
        return problems

    def settings(self) -> dict[str, Any]:
        """The slips' rate and seed change the traces, so they are part of the cache key."""
        return super().settings() | {"error_rate": self.error_rate, "seed": self.seed}

    def make_provider(self) -> ArithmeticProvider:
        """The programmatic solver."""
        return ArithmeticProvider(self.error_rate, self.seed)


@dataclass(frozen=True)
class ArithmeticBenchmark:
    """Held-out arithmetic-chain problems (a different seed from any training pool).

    ``n`` sets the benchmark's size; ``limit=`` takes its first problems, as on every benchmark.

    Example:
        >>> import tinyreason as tr
        >>> len(tr.benchmark("arithmetic", n=20).problems())
        20
        >>> [p.id for p in tr.benchmark("arithmetic", limit=2).problems()]
        ['test-1000003-0', 'test-1000003-1']
    """

    n: int = 200
    seed: int = 1_000_003
    min_steps: int = 2
    max_steps: int = 10
    name: str = "arithmetic"
    limit: int | None = None

    def __post_init__(self) -> None:
        from ..evaluation.benchmarks import _check_limit

        problems = _check_limit(self.limit)  # the same rule as every other benchmark
        if problems:
            raise ConfigError("; ".join(problems))

    def problems(self) -> list[Problem]:
        """The benchmark's problems, each with its answer."""
        problems = make_problems(
            self.n,
            seed=self.seed,
            min_steps=self.min_steps,
            max_steps=self.max_steps,
            prefix="test",
        )
        return problems if self.limit is None else problems[: self.limit]
