"""An in-process fake API provider, for testing the teacher engine without a network or a bill.

:class:`FakeProvider` answers like a provider does (latency, usage, finish reasons) and fails like
one does, on purpose and reproducibly: a seeded share of calls raise retryable errors (429 with
``Retry-After``, 5xx, timeouts, dropped connections, malformed replies), a share of questions are
permanently refused (400, safety), some calls hang past the timeout, and a key can be rejected
or revoked mid-run. It counts every call per question (and can append each call to a file, with
fsync, for tests that kill the process), so a test can prove that nothing was paid twice.

:class:`FakeProviderTeacher` is a real :class:`~tinyreason.teachers.teacher.ProviderTeacher`
using it: the built-in teacher ``"fake-api"``. :class:`FakeClock` is virtual time for the engine.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..records import Usage
from ..teachers.base import ProviderError, TeacherReply, TeacherRequest
from ..teachers.teacher import ProviderTeacher

__all__ = ["FakeClock", "FakeProvider", "FakeProviderTeacher", "FakeStats"]

#: (reason, HTTP status) of the retryable faults, drawn in turn from the seed.
RETRYABLE_FAULTS = (
    ("server", 503),
    ("rate_limit", 429),
    ("timeout", None),
    ("connection", None),
    ("malformed", 200),
)
PERMANENT_FAULTS = (("bad_request", 400), ("safety", 200))

Scripted = TeacherReply | ProviderError | Callable[[TeacherRequest], TeacherReply]


class FakeClock:
    """Virtual time: ``sleep`` advances ``now`` at once, so waits cost no real time.

    Waits that the engine serialises (rate-limit buckets, a window's hold) come out exactly as
    they would in real time; concurrent ones add up instead of overlapping, which only makes
    times later, never earlier, so lower bounds on spacing stay valid.

    Example:
        >>> import asyncio
        >>> clock = FakeClock()
        >>> asyncio.run(clock.sleep(2.5))
        >>> clock.now(), clock.sleeps
        (2.5, [2.5])
    """

    def __init__(self, start: float = 0.0):
        self.time = start
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The virtual time."""
        return self.time

    async def sleep(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` (and let other tasks run)."""
        seconds = max(0.0, seconds)
        self.sleeps.append(seconds)
        self.time += seconds
        await asyncio.sleep(0)


@dataclass
class FakeStats:
    """What a :class:`FakeProvider` saw, shared by the providers of one teacher across runs.

    Attributes:
        calls: Calls per question (retries included).
        faults: Calls per question that did not answer (injected failures, and calls cancelled
            by the engine's timeout).
        rate_limits: Calls per question refused with a 429 (injected, or by ``max_in_flight``).
        call_times: The clock's time at each call's start.
        in_flight: Calls running now.
        successes: Calls that returned a reply.
        max_in_flight: The most calls that ran at once.
        refused: Calls refused by ``max_in_flight`` (429s; counted in ``faults`` too).
    """

    calls: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    rate_limits: Counter[str] = field(default_factory=Counter)
    call_times: list[float] = field(default_factory=list)
    successes: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    refused: int = 0

    @property
    def total(self) -> int:
        """All calls made."""
        return sum(self.calls.values())


def _draw(seed: int, salt: str, question: str, n: int) -> float:
    """A reproducible number in [0, 1) for (question, nth call): independent of call order."""
    digest = hashlib.sha256(f"{seed}|{salt}|{n}|{question}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass
class FakeProvider:
    """A provider that answers in-process, with latency and seeded faults.

    The default reply thinks ``thinking_words`` words and answers ``"Answer: <question>"``; when a
    request's ``max_output_tokens`` is smaller than that (counting a word as a token), the reply is
    cut and its finish reason is ``"length"``, as a real model's would be.

    Args:
        latency: Seconds each call takes.
        replies: Scripted replies per question: a :class:`TeacherReply`, a
            :class:`ProviderError` (raised on every call), or a function of the request.
        fault_rate: Share of calls that fail with a retryable error (per question and attempt).
        permanent_rate: Share of questions refused for good (400 or a safety block).
        hang_rate: Share of calls that hang for ``hang_seconds`` (past the engine's timeout).
        hang_seconds: How long a hanging call hangs.
        max_in_flight: A sustained rate limit: a call that finds this many others running is
            refused at once (429 with ``retry_after``), for as long as too many are sent.
        retry_after: ``Retry-After`` seconds of injected 429s (None: they say nothing).
        seed: Seed of every draw above.
        api_key: The key the teacher passed.
        accept_key: When set, any other key gets a 401.
        auth_fail_after: After this many successful calls the key is "revoked" (401s).
        leak_key_in_errors: Quote the key in error messages, as some SDKs do, to test scrubbing.
        thinking_kind: The replies' thinking kind.
        thinking_words: Length of the default reply's thinking.
        usage: Fixed usage for every reply (default: word counts).
        call_log: A file to append each call to (a JSON line, flushed and fsynced).
        clock: Timestamps ``stats.call_times`` (the engine's clock in tests).
        stats: Counters, shared with the teacher that made this provider.

    Example:
        >>> import asyncio
        >>> provider = FakeProvider()
        >>> reply = asyncio.run(provider.complete(TeacherRequest("p1", "What is 6 * 7?", "m")))
        >>> reply.answer, reply.finish_reason, provider.stats.calls["What is 6 * 7?"]
        ('Answer: What is 6 * 7?', 'stop', 1)
    """

    latency: float = 0.0
    replies: Mapping[str, Scripted] = field(default_factory=dict)
    fault_rate: float = 0.0
    permanent_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 3600.0
    max_in_flight: int | None = None
    retry_after: float | None = None
    seed: int = 0
    api_key: str | None = field(default=None, repr=False)
    accept_key: str | None = field(default=None, repr=False)
    auth_fail_after: int | None = None
    leak_key_in_errors: bool = False
    thinking_kind: str = "raw"
    thinking_words: int = 20
    usage: Usage | None = None
    call_log: str | Path | None = None
    clock: Any = None
    stats: FakeStats = field(default_factory=FakeStats)

    name: ClassVar[str] = "fake-api"

    async def complete(self, request: TeacherRequest) -> TeacherReply:
        """Answer ``request`` (after ``latency``), or fail as configured."""
        question, stats = request.question, self.stats
        n = stats.calls[question]
        stats.calls[question] += 1
        if self.clock is not None:
            stats.call_times.append(self.clock.now())
        if self.call_log is not None:
            self._log(question, n)
        if self.max_in_flight is not None and stats.in_flight >= self.max_in_flight:
            stats.faults[question] += 1
            stats.rate_limits[question] += 1
            stats.refused += 1
            raise ProviderError(
                f"HTTP 429: {stats.in_flight} requests in flight, {self.max_in_flight} allowed",
                reason="rate_limit",
                retryable=True,
                status=429,
                retry_after=self.retry_after,
            )
        stats.in_flight += 1
        stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
        answered = False
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            if self.hang_rate and _draw(self.seed, "hang", question, n) < self.hang_rate:
                await asyncio.sleep(self.hang_seconds)  # the engine's timeout cancels it
                raise ProviderError("hung past its time", reason="timeout", retryable=True)
            reply = self._answer(request, n)
            stats.successes += 1
            answered = True
            return reply
        except ProviderError as exc:
            stats.rate_limits[question] += exc.reason == "rate_limit"
            raise
        finally:
            stats.in_flight -= 1
            # Every call that did not answer is a fault: an error, or one the engine's timeout
            # (or a stop) cancelled, however slow the machine is.
            stats.faults[question] += not answered

    async def aclose(self) -> None:
        """Nothing to release."""

    def _log(self, question: str, n: int) -> None:
        line = json.dumps({"pid": os.getpid(), "question": question, "n": n}) + "\n"
        fd = os.open(self.call_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)

    def _key_text(self) -> str:
        return f" (key {self.api_key})" if self.leak_key_in_errors else ""

    def _answer(self, request: TeacherRequest, n: int) -> TeacherReply:
        question = request.question
        if self.accept_key is not None and self.api_key != self.accept_key:
            raise ProviderError(
                f"HTTP 401: invalid API key{self._key_text()}",
                reason="auth",
                retryable=False,
                status=401,
            )
        if self.auth_fail_after is not None and self.stats.successes >= self.auth_fail_after:
            raise ProviderError(
                f"HTTP 403: API key revoked{self._key_text()}",
                reason="auth",
                retryable=False,
                status=403,
            )
        scripted = self.replies.get(question)
        if isinstance(scripted, ProviderError):
            raise scripted
        if self.permanent_rate and _draw(self.seed, "permanent", question, 0) < self.permanent_rate:
            reason, status = PERMANENT_FAULTS[int(_draw(self.seed, "kind", question, 0) * 2)]
            raise ProviderError(
                f"HTTP {status}: refused ({reason}){self._key_text()}",
                reason=reason,
                retryable=False,
                status=status,
            )
        if self.fault_rate and _draw(self.seed, "fault", question, n) < self.fault_rate:
            pick = int(_draw(self.seed, "which", question, n) * len(RETRYABLE_FAULTS))
            reason, status = RETRYABLE_FAULTS[pick]
            raise ProviderError(
                f"injected {reason} fault{f' (HTTP {status})' if status else ''}{self._key_text()}",
                reason=reason,
                retryable=True,
                status=status,
                retry_after=self.retry_after if reason == "rate_limit" else None,
            )
        if isinstance(scripted, TeacherReply):
            return scripted
        if scripted is not None:
            return scripted(request)
        return self._default_reply(request)

    def _default_reply(self, request: TeacherRequest) -> TeacherReply:
        words = [f"step{i}" for i in range(self.thinking_words)]
        answer = f"Answer: {request.question}"
        finish = "stop"
        budget = request.settings.get("max_output_tokens")
        if budget is not None and len(words) + len(answer.split()) > budget:
            words, answer, finish = words[:budget], "", "length"
        thinking = " ".join(words)
        usage = self.usage or Usage(
            input_tokens=len(request.question.split()) + len((request.system or "").split()),
            output_tokens=len(answer.split()),
            thinking_tokens=len(words),
        )
        return TeacherReply(thinking, answer, self.thinking_kind, finish, usage, "fake-reasoner")


@dataclass(frozen=True)
class FakeProviderTeacher(ProviderTeacher):
    """A :class:`ProviderTeacher` over a :class:`FakeProvider`: the built-in teacher ``"fake-api"``.

    It exercises the whole engine (cache, limits, retries, budget, Dataset) in-process. It needs
    no key (any ``api_key`` given is passed on and scrubbed like a real one), and its model
    ``fake-reasoner`` has a made-up price, so costs and caps can be tested. :attr:`stats` counts
    the calls per question across runs.

    Besides the options of every :class:`ProviderTeacher`, it takes those of
    :class:`FakeProvider`, which mean the same there: ``latency``, ``fault_rate``,
    ``permanent_rate``, ``hang_rate``, ``hang_seconds``, ``max_in_flight``, ``retry_after``,
    ``seed``, ``accept_key``, ``auth_fail_after``, ``leak_key_in_errors``, ``thinking_kind``,
    ``thinking_words``, ``usage``, ``call_log`` and ``replies``.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("fake-api", fault_rate=0.5, retry_base_delay=0.0)
        >>> ds = teacher.distill([tr.Problem("p1", "What is 6 * 7?")], cache=False, progress=False)
        >>> ds[0]["attempt"], ds[0]["thinking_kind"]
        ('Answer: What is 6 * 7?', 'raw')
        >>> teacher.stats.calls["What is 6 * 7?"] >= 1
        True
    """

    name: ClassVar[str] = "fake-api"
    needs_key: ClassVar[bool] = False

    latency: float = 0.0
    fault_rate: float = 0.0
    permanent_rate: float = 0.0
    hang_rate: float = 0.0
    hang_seconds: float = 3600.0
    max_in_flight: int | None = None
    retry_after: float | None = None
    seed: int = 0
    accept_key: str | None = field(default=None, repr=False)
    auth_fail_after: int | None = None
    leak_key_in_errors: bool = False
    thinking_kind: str = "raw"
    thinking_words: int = 20
    usage: Usage | None = None
    call_log: str | Path | None = None
    replies: Mapping[str, Scripted] = field(default_factory=dict, repr=False, compare=False)
    stats: FakeStats = field(default_factory=FakeStats, repr=False, compare=False)

    def make_provider(self) -> FakeProvider:
        """A :class:`FakeProvider` with this teacher's settings, sharing :attr:`stats`."""
        return FakeProvider(
            latency=self.latency,
            replies=self.replies,
            fault_rate=self.fault_rate,
            permanent_rate=self.permanent_rate,
            hang_rate=self.hang_rate,
            hang_seconds=self.hang_seconds,
            max_in_flight=self.max_in_flight,
            retry_after=self.retry_after,
            seed=self.seed,
            api_key=self.resolve_api_key(),
            accept_key=self.accept_key,
            auth_fail_after=self.auth_fail_after,
            leak_key_in_errors=self.leak_key_in_errors,
            thinking_kind=self.thinking_kind,
            thinking_words=self.thinking_words,
            usage=self.usage,
            call_log=self.call_log,
            stats=self.stats,
        )
