"""Conversation tokens: signed (SECRET_KEY), scoped to one conversation and the widget key that
started it, expiring after WIDGET_TOKEN_HOURS and refreshable for WIDGET_TOKEN_REFRESH_DAYS."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

SALT = "resolver.widget.conversation"


@dataclass(frozen=True)
class Grant:
    conversation_id: uuid.UUID
    key_id: int


class InvalidToken(Exception):
    pass


def claims(conversation_id: uuid.UUID, key_id: int) -> dict[str, object]:
    return {"c": str(conversation_id), "k": key_id}


def issue(conversation_id: uuid.UUID, key_id: int) -> str:
    return signing.dumps(claims(conversation_id, key_id), salt=SALT)


def expires_in() -> timedelta:
    return timedelta(hours=settings.WIDGET_TOKEN_HOURS)


def read(token: str, max_age: timedelta | None = None) -> Grant:
    """The grant of a valid, unexpired token; InvalidToken otherwise."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age or expires_in())
        return Grant(uuid.UUID(data["c"]), int(data["k"]))
    except signing.SignatureExpired:
        raise InvalidToken("the conversation token has expired") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidToken("the conversation token is not valid") from None


def refreshable(token: str) -> Grant:
    """A token may be exchanged for a new one up to WIDGET_TOKEN_REFRESH_DAYS after issue."""
    return read(token, max_age=timedelta(days=settings.WIDGET_TOKEN_REFRESH_DAYS))
