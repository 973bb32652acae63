"""What a loopback server can inject, and which fault each request gets.

:class:`Fault` is one fault (:data:`FAULT_KINDS`); :class:`FaultQueue` hands them out: faults
queued for one question first, then the shared queue, then a seeded draw at ``fault_rate``.
:class:`~tinyreason.testing.loopback.LoopbackServer` serves them.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = [
    "FAULT_KINDS",
    "FAULT_MESSAGES",
    "FAULT_STATUS",
    "RANDOM_FAULT_KINDS",
    "Fault",
    "FaultQueue",
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
