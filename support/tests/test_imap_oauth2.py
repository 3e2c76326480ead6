"""XOAUTH2 log-ins (Gmail, Microsoft 365) against the session's Dovecot, which checks each access
token by asking the local token endpoint's introspection URL, as a provider's IMAP server checks
its own: the refresh-token grant, the rotated refresh token stored and used next time, the access
token reused until it expires, a revoked one replaced, a refused grant reported."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from support.email import imap
from support.email.oauth2 import OAuth2Client, TokenError, access_token
from support.models import MailboxCredential, MailboxCursor
from support.tests.email_receiver import Recorder
from support.tests.mail_servers import Dovecot, TokenEndpoint

pytestmark = pytest.mark.django_db

SEED = "rt-configured-seed"


def mail(n: int) -> bytes:
    return (
        f"From: c{n}@example.com\r\nTo: support@example.org\r\nSubject: oauth {n}\r\n"
        f"Message-ID: <o{n}.{uuid.uuid4().hex}@example.com>\r\n\r\nHello {n}\r\n"
    ).encode()


@pytest.fixture
def endpoint(oauth_endpoint: TokenEndpoint) -> TokenEndpoint:
    oauth_endpoint.reset(SEED)
    return oauth_endpoint


def client(endpoint: TokenEndpoint, refresh_token: str = SEED) -> OAuth2Client:
    return OAuth2Client(
        token_url=endpoint.token_url,
        client_id=endpoint.client_id,
        client_secret=endpoint.client_secret,
        refresh_token=refresh_token,
        scope="https://outlook.office365.com/IMAP.AccessAsUser.All offline_access",
    )


@pytest.fixture
def box(dovecot: Dovecot, endpoint: TokenEndpoint, email_receiver: Recorder) -> imap.Mailbox:
    return imap.Mailbox(
        host=dovecot.host,
        port=dovecot.port,
        user=dovecot.user,
        folder=dovecot.new_folder(f"o{uuid.uuid4().hex[:12]}"),
        ssl=False,
        auth="xoauth2",
        oauth2=client(endpoint),
    )


def stored(box: imap.Mailbox) -> MailboxCredential:
    return MailboxCredential.objects.get(host=box.host, user=box.user)


def test_xoauth2_polls_with_a_granted_token_and_keeps_the_rotated_refresh_token(
    dovecot: Dovecot, box: imap.Mailbox, endpoint: TokenEndpoint, email_receiver: Recorder
) -> None:
    dovecot.append(box.folder, first := mail(1))
    assert imap.poll(box).uids == [1]
    assert email_receiver.raws() == [first]
    (grant,) = endpoint.grants
    assert grant == {
        "grant_type": "refresh_token",
        "refresh_token": SEED,
        "client_id": endpoint.client_id,
        "client_secret": endpoint.client_secret,
        "scope": "https://outlook.office365.com/IMAP.AccessAsUser.All offline_access",
    }
    credential = stored(box)
    # The seed is void at the endpoint now: only the rotated token it returned can refresh.
    assert (
        credential.refresh_token in endpoint.refresh_tokens and SEED not in endpoint.refresh_tokens
    )
    assert credential.access_token in endpoint.access_tokens
    # The next poll logs in with the same access token: no grant while it lasts.
    dovecot.append(box.folder, second := mail(2))
    assert imap.poll(box).uids == [2]
    assert len(endpoint.grants) == 1
    assert email_receiver.raws() == [first, second]


def test_an_expiring_access_token_is_renewed_with_the_stored_refresh_token(
    dovecot: Dovecot, box: imap.Mailbox, endpoint: TokenEndpoint
) -> None:
    imap.poll(box)
    rotated = stored(box).refresh_token
    MailboxCredential.objects.update(expires_at=timezone.now() + timedelta(seconds=30))
    dovecot.append(box.folder, mail(1))
    assert imap.poll(box).uids == [1]
    assert [g["refresh_token"] for g in endpoint.grants] == [SEED, rotated]
    assert stored(box).expires_at > timezone.now() + timedelta(minutes=50)  # type: ignore[operator]


def test_a_token_the_server_refuses_before_its_expiry_is_replaced_once(
    dovecot: Dovecot, box: imap.Mailbox, endpoint: TokenEndpoint
) -> None:
    imap.poll(box)
    endpoint.revoke_access_tokens()  # revoked at the provider; stored as valid for an hour
    dovecot.append(box.folder, mail(1))
    result = imap.poll(box)
    assert (result.uids, result.error) == ([1], "")
    assert len(endpoint.grants) == 2


def test_a_refused_grant_fails_the_poll_and_says_why_without_secrets(
    box: imap.Mailbox, endpoint: TokenEndpoint
) -> None:
    endpoint.reset()  # the consent was withdrawn: no refresh token is valid
    result = imap.poll(box)
    assert "invalid_grant" in result.error and "token revoked" in result.error
    assert SEED not in result.error and endpoint.client_secret not in result.error
    cursor = MailboxCursor.objects.get(folder=box.folder)
    assert cursor.last_error == result.error and cursor.last_uid == 0


def test_a_newly_configured_refresh_token_replaces_the_stored_one(
    box: imap.Mailbox, endpoint: TokenEndpoint
) -> None:
    access_token(box.host, box.user, client(endpoint))
    endpoint.reset("rt-after-new-consent")  # every earlier token void; the operator re-consents
    token = access_token(box.host, box.user, client(endpoint, "rt-after-new-consent"))
    assert endpoint.grants[-1]["refresh_token"] == "rt-after-new-consent"
    assert stored(box).access_token == token
    # Unchanged configuration: the stored (rotated) token is used, not the configured one.
    MailboxCredential.objects.update(expires_at=timezone.now())
    access_token(box.host, box.user, client(endpoint, "rt-after-new-consent"))
    assert endpoint.grants[-1]["refresh_token"] != "rt-after-new-consent"


def test_an_unreachable_token_endpoint_is_a_token_error(box: imap.Mailbox) -> None:
    from tests.helpers import free_port

    nowhere = OAuth2Client(f"http://127.0.0.1:{free_port()}/token", "id", "secret", SEED)
    with pytest.raises(TokenError, match="unreachable"):
        access_token(box.host, box.user, nowhere)
    assert not MailboxCredential.objects.exclude(access_token="").exists()
