"""Conversation tokens: signed (SECRET_KEY), scoped to one conversation and the widget key that
started it, expiring after WIDGET_TOKEN_HOURS and refreshable for WIDGET_TOKEN_REFRESH_DAYS.

A token also says whether the conversation was started with a valid identity hash (`verified`,
support/widget/identity.py): the token is the only credential that writes to a widget
conversation, so every message written with it is that verified visitor's. Kept in the grant
rather than a Conversation column: the proof travels with the credential it qualifies (a refresh
carries it over, nothing else can mint it), and a token issued before identity existed, or
forged, is simply unverified. Verification holds for VERIFIED_MAX_AGE from the hash's check,
whatever the refreshes, and only under the identity secret that vouched."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core import signing

SALT = "resolver.widget.conversation"


# A verified visitor stays verified through refreshes for this long after the identity hash
# was checked, then the conversation goes on unverified: a token copied from the host page's
# storage must not vouch for its customer for ever, however often it is refreshed.
VERIFIED_MAX_AGE = timedelta(days=90)


@dataclass(frozen=True)
class Grant:
    conversation_id: uuid.UUID
    key_id: int
    verified: bool = False
    # When the identity hash was checked (epoch seconds): refreshes carry it, never renew it.
    verified_at: int | None = None


class InvalidToken(Exception):
    pass


def _secret_tag() -> str:
    """Which WIDGET_IDENTITY_SECRET vouched ("" when none is set): a verified token names it, so
    rotating the secret (it leaked) unverifies every token signed under the old one."""
    secret = str(settings.WIDGET_IDENTITY_SECRET or "")
    if not secret:
        return ""
    return hashlib.sha256(f"resolver.widget.verified:{secret}".encode()).hexdigest()[:16]


def claims(
    conversation_id: uuid.UUID, key_id: int, verified: bool = False, verified_at: int | None = None
) -> dict[str, object]:
    found: dict[str, object] = {"c": str(conversation_id), "k": key_id}
    if verified and (tag := _secret_tag()):
        found["v"] = tag
        found["va"] = verified_at if verified_at is not None else int(time.time())
    return found


def issue(
    conversation_id: uuid.UUID, key_id: int, verified: bool = False, verified_at: int | None = None
) -> str:
    return signing.dumps(claims(conversation_id, key_id, verified, verified_at), salt=SALT)


def _verified_at(data: dict[str, object]) -> int | None:
    """When the token's verification began, if it still holds: signed under today's identity
    secret, less than VERIFIED_MAX_AGE ago."""
    tag, since = data.get("v"), data.get("va")
    if not isinstance(since, int) or not tag or tag != _secret_tag():
        return None
    if time.time() - since > VERIFIED_MAX_AGE.total_seconds():
        return None
    return since


def expires_in() -> timedelta:
    return timedelta(hours=settings.WIDGET_TOKEN_HOURS)


def read(token: str, max_age: timedelta | None = None) -> Grant:
    """The grant of a valid, unexpired token; InvalidToken otherwise."""
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age or expires_in())
        since = _verified_at(data)
        return Grant(uuid.UUID(data["c"]), int(data["k"]), since is not None, since)
    except signing.SignatureExpired:
        raise InvalidToken("the conversation token has expired") from None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise InvalidToken("the conversation token is not valid") from None


def refreshable(token: str) -> Grant:
    """A token may be exchanged for a new one up to WIDGET_TOKEN_REFRESH_DAYS after issue."""
    return read(token, max_age=timedelta(days=settings.WIDGET_TOKEN_REFRESH_DAYS))


def rate_bucket(token: str) -> str | None:
    """What the widget's per-token rate limit counts `token` under (settings.WIDGET_RATE_BUCKET):
    its conversation, whichever refresh of its token it is; None for a string that is no valid
    token (a widget key, garbage: counted by its hash, and refused by the view if it must be a
    token). An HMAC check, no query: the limit runs before any view."""
    try:
        grant = refreshable(token)
    except InvalidToken:
        return None
    return f"conversation:{grant.conversation_id}"
