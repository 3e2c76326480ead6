"""Input types every app's API shares: text PostgreSQL can store, a body that is not blank, a
reference of bounded length. Invalid input is a 422 naming the field, never a database error."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field


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


Text = Annotated[str, AfterValidator(storable)]
Body = Annotated[str, AfterValidator(storable), AfterValidator(_not_blank)]
Ref = Annotated[str, Field(max_length=200), AfterValidator(storable)]
