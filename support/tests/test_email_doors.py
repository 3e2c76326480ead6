"""The three e-mail doors wired to the one receive path (settings.EMAIL_RECEIVER as shipped, no
recording receiver): a message polled from a real Dovecot, the same message posted to
POST /inbound/email, and an ESP webhook each end as the one stored e-mail message of an e-mail
conversation with a PENDING draft; the same Message-ID through a second door is a duplicate."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from django.test import Client

from support.email import imap
from support.models import Channel, Conversation, Draft, DraftStatus, InboundEmail, Message
from support.tests.conftest import key_client
from support.tests.email_fixtures import email_settings, unique_sender  # noqa: F401
from support.tests.mail_servers import Dovecot

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("email_settings")]

BASIC = "anymail-user:pw-doors-7"


def _email(sender: str, subject: str, body: str) -> bytes:
    message_id = f"<{uuid.uuid4().hex}@gmail.example>"
    return (
        f"From: {sender}\r\nTo: Shop Support <support@shop.example>\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


@pytest.fixture
def shipped_receiver(settings: Any) -> Any:
    settings.EMAIL_RECEIVER = "support.email.receive.receive_email"
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": [BASIC]}
    return settings


def _stored(address: str) -> Message:
    [message] = Message.objects.filter(email__from_address=address)
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert (conversation.channel, conversation.customer_ref) == (Channel.EMAIL, address)
    assert Draft.objects.get(message=message).status == DraftStatus.PENDING
    return message


def test_imap_then_the_api_door_store_one_message(dovecot: Dovecot, shipped_receiver: Any) -> None:
    sender, address = unique_sender()
    raw = _email(sender, "Parcel not here", "My parcel NW-10001 has not arrived yet.")
    box = dovecot.new_mailbox()
    dovecot.append(box.folder, raw)
    assert imap.poll(box).handed_over == 1
    message = _stored(address)
    assert message.body == "My parcel NW-10001 has not arrived yet."
    assert InboundEmail.objects.get(message=message).door == "imap"

    again = key_client("ingest").post("/api/v1/inbound/email", raw, content_type="message/rfc822")
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["message_id"] == str(message.pk)
    assert _stored(address) == message


def test_an_esp_webhook_stores_the_message(client: Client, shipped_receiver: Any) -> None:
    sender, address = unique_sender("Jon Berg")
    raw = _email(sender, "Refund", "Please refund order NW-10002, it arrived broken.")
    payload = {
        "From": address,
        "FromFull": {"Email": address, "Name": "Jon Berg"},
        "To": "support@shop.example",
        "Subject": "Refund",
        "MessageID": str(uuid.uuid4()),
        "TextBody": "Please refund order NW-10002, it arrived broken.",
        "RawEmail": raw.decode(),
        "Headers": [],
        "Attachments": [],
    }
    auth = "Basic " + base64.b64encode(BASIC.encode()).decode()
    response = client.post(
        "/anymail/postmark/inbound/",
        json.dumps(payload),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert response.status_code == 200
    message = _stored(address)
    assert message.body == "Please refund order NW-10002, it arrived broken."
    assert InboundEmail.objects.get(message=message).door == "anymail:postmark"
