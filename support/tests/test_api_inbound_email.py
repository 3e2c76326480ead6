"""POST /api/v1/inbound/email on the real database: 202 with the ids, the same Message-ID again
200 with the same ids and duplicate; malformed input a 4xx in the API's error shape, never a
500; scope ingest."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from support.models import Draft, InboundEmail, InboundStatus, Message
from support.tests.conftest import API, key_client
from support.tests.email_fixtures import email_settings  # noqa: F401
from support.tests.emails.build import CORPUS, build

pytestmark = pytest.mark.usefixtures("email_settings")

URL = f"{API}/inbound/email"


def post(client: Client, raw: bytes, content_type: str = "message/rfc822") -> Any:
    return client.post(URL, raw, content_type=content_type)


@pytest.fixture
def ingest(db: None) -> Client:
    return key_client("ingest")


def test_an_email_is_accepted_and_the_same_one_again_is_a_duplicate(ingest: Client) -> None:
    raw = (CORPUS / "gmail_web_en.eml").read_bytes()
    first = post(ingest, raw)
    assert first.status_code == 202, first.content
    body = first.json()
    assert body["status"] == "PENDING" and body["duplicate"] is False
    assert body["ignored_reason"] is None
    draft = Draft.objects.get(pk=body["draft_id"])
    assert (str(draft.message_id), str(draft.conversation_id)) == (
        body["message_id"],
        body["conversation_id"],
    )

    again = post(ingest, raw)
    assert again.status_code == 200
    assert again.json() == {**body, "inbound_id": again.json()["inbound_id"], "duplicate": True}
    assert Message.objects.count() == 1


def test_an_auto_reply_is_accepted_as_ignored(ingest: Client) -> None:
    response = post(ingest, build(headers={"Auto-Submitted": "auto-replied"}))
    assert response.status_code == 202
    body = response.json()
    assert (body["status"], body["ignored_reason"], body["draft_id"]) == (
        "IGNORED",
        "auto_reply",
        None,
    )


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"", "message/rfc822", 400, "not_an_email"),
        (b"   \r\n", "message/rfc822", 400, "not_an_email"),
        (b"\x00\x01\x02 binary garbage without any header", "message/rfc822", 400, "not_an_email"),
        (b"From: a@b.example\n\nhi", "application/json", 415, "unsupported_media_type"),
        (b"From: a@b.example\n\nhi", "text/plain", 415, "unsupported_media_type"),
    ],
)
def test_what_is_not_an_email_is_refused(
    ingest: Client, raw: bytes, content_type: str, status: int, code: str
) -> None:
    response = post(ingest, raw, content_type)
    assert response.status_code == status
    assert response.json()["code"] == code and response.json()["detail"]
    assert not InboundEmail.objects.exists()


def test_an_email_that_cannot_be_stored_is_quarantined_with_a_422(ingest: Client) -> None:
    response = post(ingest, b"Subject: no sender\nTo: support@shop.example\n\nhello")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "quarantined"
    assert InboundEmail.objects.get(pk=body["inbound_id"]).status == InboundStatus.QUARANTINED


@pytest.mark.parametrize("length", [230, 330])
def test_a_sender_address_too_long_to_keep_is_a_422_never_a_500(
    ingest: Client, length: int
) -> None:
    # Legal addresses reach 254 characters, a conversation's customer reference holds 200; one
    # over 320 did not fit the quarantine's column either, and was lost with a 500.
    address = "b" * (length - len("@gmail.example")) + "@gmail.example"
    response = post(ingest, build(sender=f"Long <{address}>"))
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["code"] == "quarantined" and body["detail"]
    row = InboundEmail.objects.get(pk=body["inbound_id"])
    assert row.status == InboundStatus.QUARANTINED
    assert f"the sender's address is {length} characters long" in row.error
    assert not Message.objects.exists()


def test_the_body_limit_is_the_inbound_email_limit(ingest: Client, settings: Any) -> None:
    settings.INBOUND_EMAIL_MAX_BYTES = 2048
    settings.API_BODY_LIMITS = {URL: 2048}
    big = build("x" * 4000)
    response = post(ingest, big)
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    # Bigger than the API's usual body limit is fine up to INBOUND_EMAIL_MAX_BYTES.
    settings.INBOUND_EMAIL_MAX_BYTES = settings.REQUEST_BODY_MAX_BYTES * 4
    settings.API_BODY_LIMITS = {URL: settings.INBOUND_EMAIL_MAX_BYTES}
    large = build("y" * (settings.REQUEST_BODY_MAX_BYTES + 1000))
    assert post(ingest, large).status_code == 202


def test_only_the_ingest_scope_may_post_email(db: None) -> None:
    raw = build()
    assert post(key_client("read", "act"), raw).status_code == 403
    assert post(Client(), raw).status_code == 401
    assert not Message.objects.exists()
