"""Opaque keyset cursors: (created_at, id) of the last row served, base64url JSON. Stable under
inserts, unlike offsets: a draft arriving while an agent pages never shifts the next page."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q

from resolver.api.errors import ApiError

INVALID = "the cursor is not one this API returned"
# What a cursor this API did not return fails with, however it was mangled.
_MANGLED = (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError)


def _encoded(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decoded(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def _moment(value: Any) -> datetime:
    """A cursor's ISO 8601 moment, in UTC: PostgreSQL refuses an offset beyond ±15:59 that
    Python reads."""
    if not isinstance(value, str):
        raise ValueError(INVALID)
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError(INVALID)
    return when.astimezone(UTC)


def encode(created_at: datetime, pk: Any) -> str:
    return _encoded([created_at.isoformat(), str(pk)])


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, pk = _decoded(cursor)
        if not isinstance(pk, str):
            raise ValueError(INVALID)
        return _moment(created), uuid.UUID(pk)
    except _MANGLED:
        raise ApiError(400, INVALID, "invalid_cursor") from None


def after(cursor: str) -> Q:
    """Rows that come after the cursor in (-created_at, -id) order."""
    created, pk = decode(cursor)
    return Q(created_at__lt=created) | Q(created_at=created, id__lt=pk)


# GET /tasks pages in due order: (due_at, nulls last; created_at; id) of the last task served.


def encode_due(due_at: datetime | None, created_at: datetime, pk: Any) -> str:
    return _encoded([due_at.isoformat() if due_at else None, created_at.isoformat(), str(pk)])


def after_due(cursor: str) -> Q:
    """Tasks that come after the cursor in (due_at nulls last, created_at, id) order."""
    try:
        due, created, pk = _decoded(cursor)
        due_at = None if due is None else _moment(due)
        created_at, task_id = _moment(created), uuid.UUID(str(pk))
    except _MANGLED:
        raise ApiError(400, INVALID, "invalid_cursor") from None
    later = Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=task_id)
    if due_at is None:  # among the tasks without a due date, which come last
        return Q(due_at__isnull=True) & later
    return Q(due_at__gt=due_at) | Q(due_at=due_at) & later | Q(due_at__isnull=True)
