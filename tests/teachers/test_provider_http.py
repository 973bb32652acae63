"""What the API providers share: status mapping, Retry-After parsing, scrubbed messages.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_http.py``
"""

from __future__ import annotations

import email.utils

import pytest

from tinyreason.teachers._http import (
    excerpt,
    parse_retry_after,
    retry_after_from_headers,
    scrub,
    status_error,
)

KEY = "sk-http-FAKE-KEY-0123456789abcdef"


@pytest.mark.parametrize(
    ("status", "reason", "retryable"),
    [
        (400, "bad_request", False),
        (401, "auth", False),
        (403, "auth", False),
        (404, "bad_request", False),
        (408, "timeout", True),
        (409, "bad_request", False),
        (422, "bad_request", False),
        (429, "rate_limit", True),
        (500, "server", True),
        (502, "server", True),
        (503, "server", True),
        (504, "server", True),
        (529, "server", True),  # Anthropic's "overloaded"
    ],
)
def test_status_mapping(status: int, reason: str, retryable: bool) -> None:
    err = status_error("p", status, {"error": {"message": "nope"}})
    assert (err.reason, err.retryable, err.status) == (reason, retryable, status)
    assert str(err).startswith(f"p: HTTP {status} (") and "nope" in str(err)


def test_retry_after_forms() -> None:
    now = 1_700_000_000.0  # a fixed "now": the date form is exact, whatever the clock says
    future = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(future, now=now) == 30.0
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0
    assert parse_retry_after("-5") == 0.0 and parse_retry_after("nan") is None
    assert parse_retry_after("") is None and parse_retry_after(None) is None
    assert retry_after_from_headers({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_from_headers({"Retry-After-Ms": "soon", "Retry-After": "9"}) == 9.0
    assert retry_after_from_headers(None) is None


def test_server_errors_keep_a_retry_after_too() -> None:
    assert status_error("p", 503, None, {"Retry-After": "7"}).retry_after == 7.0


def test_messages_are_short_single_line_and_scrubbed() -> None:
    body = {"error": {"message": f"bad key {KEY}\n" + "x" * 1000}}
    err = status_error("p", 401, body, secrets=[KEY], key_hint="P_API_KEY")
    text = str(err)
    assert KEY not in text and "\n" not in text and len(text) < 400
    assert "P_API_KEY" in text
    assert excerpt("plain text body") == "plain text body"
    assert excerpt(b"bytes body") == "bytes body"
    assert excerpt(None) == ""


@pytest.mark.parametrize(
    "leak",
    [
        "sk-proj-abcdefghijklmnop",
        "AIzaSyA1234567890abcdefghijklmnop",
        "Bearer abcdefghijklmnop",
        "bearer abcdefghijklmnop",
    ],
)
def test_key_shaped_strings_are_scrubbed_even_when_the_key_is_unknown(leak: str) -> None:
    assert leak not in scrub(f"echoed header: {leak} end")
