"""Idempotency-Key handling for POST /messages: the first response is stored with a hash of the
request; a repeat with the same body gets it back, a repeat with another body gets 409."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from resolver.api.errors import ApiError
from resolver.models import IdempotencyRecord

MAX_KEY_LENGTH = 200


def request_hash(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ApiError(422, f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")
    return key


def _replay(record: IdempotencyRecord, digest: str) -> tuple[int, dict[str, Any]]:
    if record.request_hash != digest:
        raise ApiError(
            409, "this Idempotency-Key was used with a different request body", "idempotency_reuse"
        )
    return record.status_code, record.response


def once(
    owner: str,
    key: str | None,
    payload: dict[str, Any],
    create: Callable[[], tuple[int, dict[str, Any]]],
) -> tuple[int, dict[str, Any]]:
    """Runs `create` (inside a transaction) unless this key was seen; returns status + body."""
    if not key:
        with transaction.atomic():
            return create()
    digest = request_hash(payload)
    if record := IdempotencyRecord.objects.filter(owner=owner, key=key).first():
        return _replay(record, digest)
    try:
        with transaction.atomic():
            status, body = create()
            IdempotencyRecord.objects.create(
                owner=owner, key=key, request_hash=digest, response=body, status_code=status
            )
    except IntegrityError:
        # A concurrent request with the same key committed first; its rows stand, ours rolled
        # back (including our message), so the caller sees one message either way.
        record = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
        if record is None:
            raise
        return _replay(record, digest)
    return status, body
