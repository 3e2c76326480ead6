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


def encode(created_at: datetime, pk: Any) -> str:
    raw = json.dumps([created_at.isoformat(), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


INVALID = "the cursor is not one this API returned"


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        created, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(created, str) or not isinstance(pk, str):
            raise ValueError(INVALID)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError(INVALID)
        # In UTC: PostgreSQL refuses an offset beyond ±15:59 that Python reads.
        return when.astimezone(UTC), uuid.UUID(pk)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise ApiError(400, INVALID, "invalid_cursor") from None


def after(cursor: str) -> Q:
    """Rows that come after the cursor in (-created_at, -id) order."""
    created, pk = decode(cursor)
    return Q(created_at__lt=created) | Q(created_at=created, id__lt=pk)


# GET /tasks pages in due order: (due_at, nulls last; created_at; id) of the last task served.


def encode_due(due_at: datetime | None, created_at: datetime, pk: Any) -> str:
    due = due_at.isoformat() if due_at else None
    raw = json.dumps([due, created_at.isoformat(), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError(INVALID)
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError(INVALID)
    return when.astimezone(UTC)


def after_due(cursor: str) -> Q:
    """Tasks that come after the cursor in (due_at nulls last, created_at, id) order."""
    try:
        due, created, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        due_at = None if due is None else _moment(due)
        created_at, task_id = _moment(created), uuid.UUID(str(pk))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError, OverflowError):
        raise ApiError(400, INVALID, "invalid_cursor") from None
    later = Q(created_at__gt=created_at) | Q(created_at=created_at, id__gt=task_id)
    if due_at is None:  # among the tasks without a due date, which come last
        return Q(due_at__isnull=True) & later
    return Q(due_at__gt=due_at) | Q(due_at=due_at) & later | Q(due_at__isnull=True)
