"""Coercion of notebook/CLI parameters that collects every problem instead of stopping at one.

Papermill and the CLI hand values over as they were typed (text, or papermill's guess), so
each helper accepts the natural spellings, appends a message saying what to fix otherwise, and
returns a placeholder so validation can go on and report everything at once.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any


def as_int(name: str, value: Any, errors: list[str], *, minimum: int | None = None) -> int:
    out: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        out = value
    elif isinstance(value, float) and value.is_integer():
        out = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        out = int(value.strip())
    if out is None:
        errors.append(f"{name} must be a whole number, got {value!r}")
        return 0
    if minimum is not None and out < minimum:
        errors.append(f"{name} must be >= {minimum}, got {out}")
    return out


def as_bool(name: str, value: Any, errors: list[str]) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "false", "0", "no"):
        return text in ("true", "1", "yes")
    errors.append(f"{name} must be True or False, got {value!r}")
    return False


def as_date(name: str, value: Any, errors: list[str]) -> date | None:
    """A date from YYYY-MM-DD text, a date or a datetime; None when empty."""
    if value in ("", None):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors.append(f"{name} must be a date like 2026-11-27 (YYYY-MM-DD), got {value!r}")
        return None
