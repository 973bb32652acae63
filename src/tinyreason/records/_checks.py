"""Field checks shared by the records: a bad value fails where the record is made."""

from __future__ import annotations

from ..errors import DataError

__all__ = ["require_count", "require_text", "whole"]


def require_text(record: str, name: str, value: object, *, empty_ok: bool = False) -> None:
    if not isinstance(value, str):
        raise DataError(f"{record}.{name} must be a string, got {type(value).__name__}: {value!r}")
    if not empty_ok and not value.strip():
        raise DataError(f"{record}.{name} is empty; give it a non-empty string.")


def require_count(record: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{record}.{name} must be a whole number >= 0, got {value!r}")


def whole(value: object, low: int = 0) -> bool:
    """A whole number >= ``low`` (a bool is not one)."""
    return not isinstance(value, bool) and isinstance(value, int) and value >= low
