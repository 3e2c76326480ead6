"""The console's e-mail conversations, built through the real receive path (real database): the
page shows the subject, the channel, each e-mail's sender, To and Cc, its files (downloadable by
an agent only), mail stored but not drafted, and the original HTML under its own strict policy;
the queue marks e-mail rows; the live snapshot renders the same timeline as the page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from support.console.live import ConversationLive
from support.console.views import ORIGINAL_EMAIL_POLICY
from support.email.receive import receive_email
from support.models import Attachment, IgnoredReason, Message
from support.tests.email_fixtures import email_settings, unique_sender  # noqa: F401
from support.tests.emails.build import PDF, PNG, SUPPORT, build

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("email_settings")]

SUBJECT = "Cracked lid on order 1042"


def _receive(raw: bytes) -> Any:
    return receive_email(raw, door="api")


def _email_with_files() -> tuple[Any, str]:
    sender, address = unique_sender("Anna Keller")
    raw = build(
        "Hi,\n\nThe lid arrived cracked, photo and invoice attached.\n\nAnna\n",
        sender=sender,
        to=f"{SUPPORT}, Help <help@shop.example>",
        subject=SUBJECT,
        headers={"Cc": "Bob Keller <bob@gmail.example>"},
        html='<p>The lid arrived <b>cracked</b>:</p><img src="cid:lid@client.example">',
        attachments=[
            {
                "data": PNG,
                "type": "image/png",
                "filename": "lid.png",
                "cid": "<lid@client.example>",
                "disposition": "inline",
            },
            # Claims to be a picture; the bytes say PDF, and the console says what the bytes say.
            {"data": PDF, "type": "image/jpeg", "filename": "invoice.jpg"},
        ],
    )
    return _receive(raw), address


def _timeline(html: str) -> str:
    """The <ol id="timeline"> of a page or of a pushed fragment, without the oob marker."""
    found = re.search(r'<ol id="timeline" class="timeline"[^>]*>.*?</ol>', html, re.S)
    assert found, html[:500]
    return found.group(0).replace(' hx-swap-oob="true"', "")


def test_an_email_conversation_shows_subject_sender_addressees_and_files(console: Client) -> None:
    received, address = _email_with_files()
    page = console.get(f"/console/conversations/{received.conversation_id}/").content.decode()
    message = Message.objects.get(pk=str(received.message_id))
    image, invoice = (
        Attachment.objects.get(message=message, filename="lid.png"),
        Attachment.objects.get(message=message, filename="invoice.jpg"),
    )
    for text in (
        f"<title>{SUBJECT} · {address}",
        f'<p class="conversation-subject">{SUBJECT}</p>',
        '<span class="chip channel">E-mail</span>',
        f'<dd class="email-from">Anna Keller &lt;{address}&gt;</dd>',
        '<dd class="email-to">support@shop.example, help@shop.example</dd>',
        '<dd class="email-cc">bob@gmail.example</dd>',
        f'<a href="/api/v1/attachments/{image.pk}" download>lid.png</a>',
        "image/png · ",
        " · inline image</span>",
        f'<a href="/api/v1/attachments/{invoice.pk}" download>invoice.jpg</a>',
        "application/pdf · ",  # sniffed, not the image/jpeg the e-mail claimed
        f'href="/console/messages/{message.pk}/original/"',
    ):
        assert text in page, text
    assert "Stored, not drafted" not in page
    assert 'style="' not in page and "<script>" not in page  # the CSP allows neither


def test_the_live_snapshot_renders_the_same_timeline_as_the_page(console: Client) -> None:
    received, _ = _email_with_files()
    page = console.get(f"/console/conversations/{received.conversation_id}/").content.decode()
    pushed = "".join(ConversationLive(received.conversation_id).snapshot())
    assert "lid.png" in pushed and 'class="email-from"' in pushed
    assert _timeline(pushed) == _timeline(page)


def test_an_agent_downloads_an_attachment_an_anonymous_user_does_not(console: Client) -> None:
    received, _ = _email_with_files()
    invoice = Attachment.objects.get(message_id=str(received.message_id), filename="invoice.jpg")
    url = f"/api/v1/attachments/{invoice.pk}"

    response = console.get(url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="invoice.jpg"'
    assert response["X-Content-Type-Options"] == "nosniff"

    anonymous = Client().get(url)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"]


def test_the_original_html_is_a_page_of_its_own_under_a_strict_policy(console: Client) -> None:
    received, _ = _email_with_files()
    url = f"/console/messages/{received.message_id}/original/"
    response = console.get(url)
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == ORIGINAL_EMAIL_POLICY
    assert (
        "script-src" not in ORIGINAL_EMAIL_POLICY and "default-src 'none'" in ORIGINAL_EMAIL_POLICY
    )
    body = response.content.decode()
    assert "The lid arrived <b>cracked</b>" in body
    image = Attachment.objects.get(message_id=str(received.message_id), filename="lid.png")
    assert f'src="/api/v1/attachments/{image.pk}"' in body  # its inline image, same origin

    assert Client().get(url).status_code == 302  # to the login page
    plain = _receive(build("No HTML here.", sender=unique_sender()[0]))
    assert console.get(f"/console/messages/{plain.message_id}/original/").status_code == 404


def test_an_auto_reply_says_it_was_stored_but_not_drafted(console: Client) -> None:
    sender, _ = unique_sender()
    received = _receive(
        build(
            "I am out of the office until Monday.",
            sender=sender,
            subject="Out of office: your order",
            headers={"Auto-Submitted": "auto-replied"},
        )
    )
    message = Message.objects.get(pk=str(received.message_id))
    assert message.ignored_reason == IgnoredReason.AUTO_REPLY
    page = console.get(f"/console/conversations/{received.conversation_id}/").content.decode()
    assert f"Stored, not drafted: {IgnoredReason.AUTO_REPLY.label}</p>" in page
    assert "bubble customer ignored" in page


def test_the_queue_marks_email_rows_with_their_subject(console: Client, make_draft: Any) -> None:
    received, _ = _email_with_files()
    widget_draft = make_draft("where is my parcel?")
    page = console.get("/console/").content.decode()
    rows = {
        found.group(1): found.group(0)
        for found in re.finditer(r'<tr id="row-([0-9a-f-]{36})".*?</tr>', page, re.S)
    }
    email_row = rows[str(received.draft_id)]
    assert (
        f'<span class="chip channel email" title="{SUBJECT}">E-mail: {SUBJECT}</span>' in email_row
    )
    assert "chip channel" not in rows[str(widget_draft.pk)]


def test_widget_and_api_conversations_are_unchanged(console: Client, make_draft: Any) -> None:
    draft = make_draft("where is my parcel?")
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    for absent in ("email-meta", "conversation-subject", "attachments", "Original e-mail"):
        assert absent not in page, absent
