"""What a loopback server can inject, and which fault each request gets.

:class:`Fault` is one fault (:data:`FAULT_KINDS`); :class:`FaultQueue` hands them out: faults
queued for one question first, then the shared queue, then a seeded draw at ``fault_rate``.
:class:`InFlightLimit` is a sustained rate limit: a request that arrives while ``limit`` others are
being served is refused with a 429 and ``Retry-After``, as a provider's concurrency limit does.
:class:`~tinyreason.testing.loopback.LoopbackServer` serves them.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = [
    "FAULT_KINDS",
    "FAULT_MESSAGES",
    "FAULT_STATUS",
    "MALFORMED_BODY",
    "RANDOM_FAULT_KINDS",
    "Fault",
    "FaultQueue",
    "InFlightLimit",
    "LimitStats",
    "openai_error",
]

#: Every fault a server can inject.
FAULT_KINDS: tuple[str, ...] = (
    "rate_limit",  # 429 with a Retry-After header
    "server_error",  # 500
    "unavailable",  # 503
    "drop",  # the connection is closed without any response
    "slow",  # the reply comes after ``slow_seconds`` (past the client's timeout)
    "malformed",  # 200 with a body that is not JSON
    "empty",  # 200 with no candidate / choice / content block
    "safety",  # 200, blocked by the safety filter
    "unauthorized",  # 401
    "bad_request",  # 400
)

#: The faults a seeded ``fault_rate`` draws from by default: everything a healthy client can meet
#: with a valid key and a valid request.
RANDOM_FAULT_KINDS: tuple[str, ...] = FAULT_KINDS[:8]

#: The HTTP error faults and the status each answers with (``Fault.status`` may say another).
FAULT_STATUS: Mapping[str, int] = {
    "rate_limit": 429,
    "server_error": 500,
    "unavailable": 503,
    "unauthorized": 401,
    "bad_request": 400,
}

#: What the body of each HTTP error fault says (before " (injected)").
FAULT_MESSAGES: Mapping[str, str] = {
    "rate_limit": "rate limit exceeded",
    "server_error": "internal error",
    "unavailable": "service unavailable",
    "unauthorized": "invalid API key",
    "bad_request": "invalid request",
}

#: The body of a ``malformed`` fault: a 200 whose JSON is cut short.
MALFORMED_BODY = b'{"id": "broken", "choices": [{"message": {"content": "4'


def openai_error(status: int, message: str) -> dict[str, Any]:
    """An error body in OpenAI's shape (the SDK puts ``error.message`` into its exception text).

    Example:
        >>> openai_error(404, "no such model")["error"]["code"]
        404
    """
    return {"error": {"message": message, "type": "error", "code": status}}


def _kind_of_status(status: int) -> str:
    """The fault kind an HTTP error status belongs to."""
    for kind, code in FAULT_STATUS.items():
        if code == status:
            return kind
    if status in (401, 403):
        return "unauthorized"
    return "server_error" if status >= 500 else "bad_request"


@dataclass(frozen=True)
class Fault:
    """A fault to inject, with its optional details.

    Args:
        kind: One of :data:`FAULT_KINDS`.
        retry_after: ``rate_limit`` only: the ``Retry-After`` header value (seconds or an
            HTTP-date); None uses the server's default, ``""`` sends no header.
        seconds: ``slow`` only: how long to wait before replying; None uses the server's default.
        status: HTTP error kinds only: the status to answer with instead of the kind's own
            (:data:`FAULT_STATUS`), e.g. ``Fault("server_error", status=502)``.

    Example:
        >>> Fault("rate_limit", retry_after="3").retry_after
        '3'
        >>> Fault.of(502)
        Fault(kind='server_error', retry_after=None, seconds=None, status=502)
    """

    kind: str
    retry_after: str | None = None
    seconds: float | None = None
    status: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"unknown fault {self.kind!r}; use one of {FAULT_KINDS}")
        if self.status is not None:
            if self.kind not in FAULT_STATUS:
                raise ConfigError(f"status= is for the HTTP error faults {tuple(FAULT_STATUS)}")
            if isinstance(self.status, bool) or not 400 <= self.status <= 599:
                raise ConfigError(
                    f"status must be an HTTP error status (400-599), got {self.status!r}"
                )

    @classmethod
    def of(cls, fault: str | int | Fault) -> Fault:
        """A fault from a kind, an HTTP error status (400-599) or a :class:`Fault`."""
        if isinstance(fault, Fault):
            return fault
        if isinstance(fault, int) and not isinstance(fault, bool):
            kind = _kind_of_status(fault)
            return cls(kind, status=None if FAULT_STATUS[kind] == fault else fault)
        return cls(fault)

    @property
    def http_status(self) -> int | None:
        """The status an HTTP error fault answers with; None for the other kinds."""
        return self.status or FAULT_STATUS.get(self.kind)


class FaultQueue:
    """Hands out faults: a question's queue first, then the shared queue, then a seeded draw.

    Thread-safe: a server's handler threads take faults concurrently.

    Args:
        fault_rate: Probability (0..1) that a request with no queued fault gets a random one.
        fault_kinds: The kinds the draw picks from.
        seed: Seed of the draws (the same requests in the same order get the same faults).

    Example:
        >>> faults = FaultQueue()
        >>> faults.add(["drop", 503])
        >>> faults.add(["slow"], question="Q")
        >>> [faults.take("Q").kind, faults.take().kind, faults.take().kind, faults.take()]
        ['slow', 'drop', 'unavailable', None]
    """

    def __init__(
        self,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] = RANDOM_FAULT_KINDS,
        seed: int = 0,
    ):
        self.fault_rate, self.fault_kinds = fault_rate, tuple(fault_kinds)
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._shared: deque[Fault] = deque()
        self._by_question: dict[str, deque[Fault]] = {}

    def add(self, faults: Iterable[Fault | str | int], question: str | None = None) -> None:
        """Queue ``faults`` (kinds, HTTP statuses or Faults) for ``question``, or for all."""
        parsed = [Fault.of(f) for f in faults]
        with self._lock:
            if question is None:
                self._shared.extend(parsed)
            else:
                self._by_question.setdefault(question, deque()).extend(parsed)

    def clear(self) -> None:
        """Forget every queued fault."""
        with self._lock:
            self._shared.clear()
            self._by_question.clear()

    def take(self, question: str | None = None) -> Fault | None:
        """The fault for a request about ``question`` (None: no question known), if any."""
        with self._lock:
            own = self._by_question.get(question or "")
            if own:
                return own.popleft()
            if self._shared:
                return self._shared.popleft()
            if self.fault_rate and self._random.random() < self.fault_rate:
                return Fault(self._random.choice(list(self.fault_kinds)))
        return None


@dataclass(frozen=True)
class LimitStats:
    """What an :class:`InFlightLimit` saw.

    Attributes:
        limit: Requests served at once, at most.
        admitted: Requests let through (served, or given another fault).
        refused: Requests refused with a 429 because ``limit`` others were in flight.
        peak: The most requests served at once (never above ``limit``).
        in_flight: Requests being served now.
    """

    limit: int
    admitted: int
    refused: int
    peak: int
    in_flight: int


class InFlightLimit:
    """A sustained rate limit: at most ``limit`` requests served at once, the rest refused (429).

    Real providers cap the requests a key may have in flight (or per second) and answer the rest
    with ``429 Too Many Requests`` and a ``Retry-After`` header, for as long as the client keeps
    sending too many. A server holding one admits a request (:meth:`admit`) before serving it and
    releases it (:meth:`release`) once its response is ready, before the response is written, so
    a client that sends its next request as soon as it reads a reply is never refused for it.

    Thread-safe: a server's handler threads admit and release concurrently.

    Args:
        limit: Requests served at once, at most (>= 1).
        retry_after: The ``Retry-After`` header of the refusals (seconds or an HTTP-date;
            ``""`` sends none).

    Example:
        >>> limit = InFlightLimit(2, retry_after="1")
        >>> [limit.admit(), limit.admit(), limit.admit()]
        [True, True, False]
        >>> limit.release()
        >>> limit.admit(), limit.stats()
        (True, LimitStats(limit=2, admitted=3, refused=1, peak=2, in_flight=2))
    """

    def __init__(self, limit: int, retry_after: str = "1"):
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ConfigError(f"the in-flight limit must be a whole number >= 1, got {limit!r}")
        if not isinstance(retry_after, str):
            raise ConfigError(f"retry_after must be a string (seconds), got {retry_after!r}")
        self.limit, self.retry_after = limit, retry_after
        self._lock = threading.Lock()
        self._in_flight = self._admitted = self._refused = self._peak = 0

    def admit(self) -> bool:
        """Let one request in (True), or refuse it (False) when ``limit`` are in flight."""
        with self._lock:
            if self._in_flight >= self.limit:
                self._refused += 1
                return False
            self._in_flight += 1
            self._admitted += 1
            self._peak = max(self._peak, self._in_flight)
            return True

    def release(self) -> None:
        """An admitted request's response is ready: its place is free."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    def refusal(self) -> Fault:
        """The fault a refused request gets: a 429 with this limit's ``Retry-After``."""
        return Fault("rate_limit", retry_after=self.retry_after)

    def stats(self) -> LimitStats:
        """The counts so far."""
        with self._lock:
            return LimitStats(
                self.limit, self._admitted, self._refused, self._peak, self._in_flight
            )
