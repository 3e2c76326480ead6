"""Conversation tokens: signed (SECRET_KEY), scoped to one conversation and the widget key that
started it, expiring after WIDGET_TOKEN_HOURS and refreshable for WIDGET_TOKEN_REFRESH_DAYS.

A token also says whether the conversation was started with a valid identity hash (`verified`,
support/widget/identity.py): the token is the only credential that writes to a widget
conversation, so every message written with it is that verified visitor's. Kept in the grant
rather than a Conversation column: the proof travels with the credential it qualifies (a refresh
carries it over, nothing else can mint it), and a token issued before identity existed, or
forged, is simply unverified."""

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
    verified: bool = False


class InvalidToken(Exception):
    pass


def claims(conversation_id: uuid.UUID, key_id: int, verified: bool = False) -> dict[str, object]:
    found: dict[str, object] = {"c": str(conversation_id), "k": key_id}
    if verified:
        found["v"] = 1
    return found


def issue(conversation_id: uuid.UUID, key_id: int, verified: bool = False) -> str:
    return signing.dumps(claims(conversation_id, key_id, verified), salt=SALT)


def expires_in() -> timedelta:
    return timedelta(hours=settings.WIDGET_TOKEN_HOURS)


def read(token: str, max_age: timedelta | None = None) -> Grant:
    """The grant of a valid, unexpired token; InvalidToken otherwise."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age or expires_in())
        return Grant(uuid.UUID(data["c"]), int(data["k"]), data.get("v") == 1)
    except signing.SignatureExpired:
        raise InvalidToken("the conversation token has expired") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidToken("the conversation token is not valid") from None


def refreshable(token: str) -> Grant:
    """A token may be exchanged for a new one up to WIDGET_TOKEN_REFRESH_DAYS after issue."""
    return read(token, max_age=timedelta(days=settings.WIDGET_TOKEN_REFRESH_DAYS))
