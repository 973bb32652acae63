"""Fixtures for the provider tests: a loopback provider server, calling a provider, faults."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tinyreason.teachers.base import ProviderError, TeacherReply, TeacherRequest
from tinyreason.testing.provider_server import Fault, ProviderServer


@pytest.fixture
def server() -> Iterator[ProviderServer]:
    with ProviderServer(slow_seconds=5) as s:
        yield s


def call(p: Any, *requests: TeacherRequest) -> list[TeacherReply | ProviderError]:
    """Run requests one after another in one event loop; errors are returned, not raised."""

    async def go() -> list[TeacherReply | ProviderError]:
        out: list[TeacherReply | ProviderError] = []
        try:
            for r in requests:
                try:
                    out.append(await p.complete(r))
                except ProviderError as err:
                    out.append(err)
        finally:
            await p.aclose()
        return out

    return asyncio.run(go())


def check_fault(
    server: ProviderServer,
    p: Any,
    req: TeacherRequest,
    fault: str | Fault,
    expected: tuple[str, bool, int | None, float | None],
    *,
    name: str,
    key: str,
) -> None:
    """Inject ``fault``: ``req`` fails with ``expected`` (reason, retryable, status, retry_after).

    The error starts with the provider's ``name``, never shows ``key``, chains nothing, and the
    provider still answers the next request.
    """
    server.inject(fault)
    err, after = call(p, req, req)
    assert isinstance(err, ProviderError), err
    assert (err.reason, err.retryable, err.status, err.retry_after) == expected
    assert err.__cause__ is None  # the SDK exception (and its request) is not chained
    assert str(err).startswith(f"{name}: ")
    for text in (str(err), repr(err), repr(p)):
        assert key not in text
    assert isinstance(after, TeacherReply)  # the provider still works after a fault
