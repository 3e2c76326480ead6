"""Opaque keyset cursors: (created_at, id) of the last row served, base64url JSON. Stable under
inserts, unlike offsets: a draft arriving while an agent pages never shifts the next page."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from django.db.models import Q

from resolver.api.errors import ApiError


def encode(created_at: datetime, pk: Any) -> str:
    raw = json.dumps([created_at.isoformat(), str(pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, pk = json.loads(raw)
        return datetime.fromisoformat(created), uuid.UUID(pk)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise ApiError(400, "the cursor is not one this API returned", "invalid_cursor") from None


def after(cursor: str) -> Q:
    """Rows that come after the cursor in (-created_at, -id) order."""
    created, pk = decode(cursor)
    if created.tzinfo is None:
        raise ApiError(400, "the cursor is not one this API returned", "invalid_cursor")
    return Q(created_at__lt=created) | Q(created_at=created, id__lt=pk)
