"""Input types every app's API shares: text PostgreSQL can store, a body that is not blank, a
reference of bounded length. Invalid input is a 422 naming the field, never a database error."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from django.utils import timezone
from pydantic import AfterValidator, BeforeValidator, Field


def storable(value: str) -> str:
    """Text PostgreSQL can store: no NUL characters, no lone surrogates (from JSON escapes)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _storable_moment(value: datetime) -> datetime:
    """In UTC (a naive one in the configured time zone), within what PostgreSQL stores and
    psycopg reads back: an offset beyond ±15:59 is refused by the database, and a moment that
    falls before year 1 in UTC is stored but can never be read again."""
    try:
        aware = value if timezone.is_aware(value) else timezone.make_aware(value)
        return aware.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError("must be a date-time between years 1 and 9999 in UTC") from None


_NUMBER = re.compile(r"[+-]?\d+(?:\.\d*)?")


def _written_out(value: object) -> object:
    """A date-time as ISO 8601 text: pydantic reads a number, or a string of one, as seconds
    (as milliseconds beyond ±2e10), so -62135596801 was stored as a day in 1968."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and _NUMBER.fullmatch(value.strip())
    ):
        raise ValueError("must be an ISO 8601 date-time string, not a number")
    return value


Text = Annotated[str, AfterValidator(storable)]
Moment = Annotated[datetime, BeforeValidator(_written_out), AfterValidator(_storable_moment)]
Body = Annotated[str, AfterValidator(storable), AfterValidator(_not_blank)]
Ref = Annotated[str, Field(max_length=200), AfterValidator(storable)]
