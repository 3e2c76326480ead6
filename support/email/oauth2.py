"""OAuth2 access tokens for XOAUTH2 IMAP log-ins (Gmail, Microsoft 365: both retire password
IMAP). The refresh-token grant at the configured token endpoint gives an access token, kept in
the account's MailboxCredential row until shortly before it expires, so every process shares it
and the endpoint is asked about once an hour. An endpoint that rotates refresh tokens returns a
new one with each grant: it replaces the stored one and is the one used next time.

The row is locked for the grant: two pollers never spend the same refresh token twice (a
provider may revoke a whole token family when a rotated token is replayed)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from support.models import MailboxCredential

# An access token this close to its expiry is renewed: a poll outlives the log-in by little,
# and the server checks the token at log-in only.
EXPIRY_MARGIN = timedelta(seconds=60)
# What a token endpoint that omits expires_in means (Google's and Microsoft's last an hour).
DEFAULT_LIFETIME_SECONDS = 3600
TIMEOUT_SECONDS = 15.0


class TokenError(Exception):
    """The token endpoint could not be reached or refused the grant; the message says why
    (the endpoint's error code and description), never a token or the client secret."""


@dataclass(frozen=True)
class OAuth2Client:
    token_url: str
    client_id: str
    client_secret: str
    refresh_token: str  # the configured one: it seeds the stored one
    scope: str = ""

    @classmethod
    def from_settings(cls) -> OAuth2Client:
        return cls(
            token_url=settings.IMAP_OAUTH2_TOKEN_URL,
            client_id=settings.IMAP_OAUTH2_CLIENT_ID,
            client_secret=settings.IMAP_OAUTH2_CLIENT_SECRET,
            refresh_token=settings.IMAP_OAUTH2_REFRESH_TOKEN,
            scope=settings.IMAP_OAUTH2_SCOPE,
        )


def access_token(host: str, user: str, client: OAuth2Client, *, renew: bool = False) -> str:
    """A valid access token for the account: the stored one while it lasts, else a new one from
    the refresh-token grant. `renew` asks for a new one anyway (the server refused the stored
    one: revoked before its expiry)."""
    with transaction.atomic():
        credential = _locked(host, user, client)
        now = timezone.now()
        fresh = credential.expires_at is not None and credential.expires_at - EXPIRY_MARGIN > now
        if credential.access_token and fresh and not renew:
            return credential.access_token
        granted = _grant(client, credential.refresh_token)
        credential.access_token = granted["access_token"]
        credential.expires_at = now + timedelta(seconds=granted["expires_in"])
        if granted["refresh_token"]:
            credential.refresh_token = granted["refresh_token"]
        credential.refreshed_at = now
        credential.save()
        return credential.access_token


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _locked(host: str, user: str, client: OAuth2Client) -> MailboxCredential:
    seed = _digest(client.refresh_token)
    MailboxCredential.objects.get_or_create(
        host=host, user=user, defaults={"refresh_token": client.refresh_token, "seed_digest": seed}
    )
    credential = MailboxCredential.objects.select_for_update().get(host=host, user=user)
    if credential.seed_digest != seed:
        # The operator configured another refresh token (a new consent): it replaces the one
        # stored, and any access token granted from the old one.
        credential.refresh_token = client.refresh_token
        credential.seed_digest = seed
        credential.access_token = ""
        credential.expires_at = None
    return credential


def _grant(client: OAuth2Client, refresh_token: str) -> dict[str, Any]:
    """The refresh-token grant (RFC 6749, 6): access_token, expires_in, refresh_token | ""."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client.client_id,
    }
    if client.client_secret:
        form["client_secret"] = client.client_secret
    if client.scope:
        form["scope"] = client.scope  # Microsoft's endpoint wants the IMAP scope named
    try:
        response = httpx.post(
            client.token_url,
            data=form,
            headers={"Accept": "application/json"},
            timeout=TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        raise TokenError(f"token endpoint unreachable: {type(exc).__name__}") from None
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if response.status_code != 200:
        reason = ": ".join(
            str(body[key]) for key in ("error", "error_description") if body.get(key)
        )
        raise TokenError(f"token endpoint answered {response.status_code}: {reason or '-'}")
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenError("token endpoint answered 200 without an access_token")
    lifetime = body.get("expires_in", DEFAULT_LIFETIME_SECONDS)
    try:
        seconds = max(0, int(lifetime))
    except (TypeError, ValueError):
        seconds = DEFAULT_LIFETIME_SECONDS
    rotated = body.get("refresh_token")
    return {
        "access_token": token,
        "expires_in": seconds,
        "refresh_token": rotated if isinstance(rotated, str) else "",
    }
