"""Attachments of customers' e-mails (support/email/attachments.py) on the real database and disk:
the type sniffed from the bytes, the declared one kept apart; a part over ATTACHMENT_MAX_BYTES
listed but not kept; inline images mapped by Content-ID whatever their disposition; winmail.dat
opened; filenames made safe; GET /attachments/{id} for agents only; erasure and retention delete
the files, not only the rows."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from resolver.personal_data import ERASED
from support import customer_data
from support.email.parse import parse
from support.email.receive import quarantine, receive_email
from support.models import (
    Attachment,
    AttachmentSkip,
    Conversation,
    Customer,
    EmailEnvelope,
    InboundEmail,
    Message,
)
from support.tests.conftest import API, key_client
from support.tests.email_fixtures import email_settings  # noqa: F401
from support.tests.emails.build import PDF, PNG, build, tnef

pytestmark = pytest.mark.usefixtures("email_settings")


def _receive(*attachments: dict[str, Any], body: str = "See attached.", **kwargs: Any) -> Message:
    received = receive_email(build(body, attachments=list(attachments), **kwargs), door="imap")
    return Message.objects.get(pk=str(received.message_id))


def _file(attachment: Attachment, settings: Any) -> Path:
    return Path(settings.ATTACHMENT_DIR) / attachment.path


def test_the_type_is_sniffed_from_the_bytes_and_the_file_kept(db: None, settings: Any) -> None:
    message = _receive({"data": PDF, "type": "image/png", "filename": "photo.png"})
    attachment = message.attachments.get()
    assert (attachment.content_type, attachment.declared_type) == ("application/pdf", "image/png")
    assert (attachment.filename, attachment.size, attachment.inline) == (
        "photo.png",
        len(PDF),
        False,
    )
    path = _file(attachment, settings)
    assert path.read_bytes() == PDF and Path(settings.ATTACHMENT_DIR) in path.parents
    # An executable claiming to be a PDF is not served as one.
    exe = _receive(
        {"data": b"MZ\x90\x00" + bytes(200), "type": "application/pdf", "filename": "invoice.pdf"}
    )
    assert exe.attachments.get().content_type in (
        "application/x-msdownload",
        "application/octet-stream",
    )


def test_a_part_over_the_limit_is_listed_but_not_kept(db: None, settings: Any) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    message = _receive(
        {"data": PDF + bytes(2000), "type": "application/pdf", "filename": "big.pdf"},
        {"data": PNG, "type": "image/png", "filename": "small.png"},
    )
    big, small = message.attachments.order_by("filename")
    assert (big.skipped, big.path, big.size) == (AttachmentSkip.TOO_LARGE, "", len(PDF) + 2000)
    assert small.is_stored and _file(small, settings).exists()
    assert message.body == "See attached."


def test_inline_images_are_mapped_by_content_id_whatever_their_disposition(
    db: None, settings: Any
) -> None:
    html = '<p>The crack is here:</p><img src="cid:crack1@client.example"><img src="cid:gone@x">'
    message = _receive(
        # Some clients mark an inline image "attachment"; its Content-ID still names it.
        {
            "data": PNG,
            "type": "image/png",
            "filename": "crack.png",
            "cid": "<crack1@client.example>",
        },
        body="The crack is here:",
        html=html,
    )
    attachment = message.attachments.get()
    assert attachment.content_id == "crack1@client.example"
    stored_html = EmailEnvelope.objects.get(message=message).html
    assert f'src="/api/v1/attachments/{attachment.pk}"' in stored_html
    assert "cid:" not in stored_html  # an unknown Content-ID leaves no dangling reference


def test_html_is_sanitised_but_keeps_its_layout(db: None) -> None:
    html = (
        '<table width="600" style="border-collapse:collapse;position:fixed"><tr>'
        '<td align="center" style="color:#333">Order <b>1042</b></td></tr></table>'
        '<script>alert(1)</script><a href="javascript:alert(2)" onclick="x()">link</a>'
        '<img src="https://tracker.example/p.gif">'
    )
    message = _receive(body="Order 1042", html=html)
    stored = EmailEnvelope.objects.get(message=message).html
    assert '<table width="600" style="border-collapse:collapse">' in stored
    assert '<td align="center" style="color:#333">' in stored and "<b>1042</b>" in stored
    for gone in ("<script", "alert(1)", "javascript:", "onclick", "position:fixed"):
        assert gone not in stored


def test_winmail_dat_is_opened_into_its_files(db: None, settings: Any) -> None:
    winmail = tnef([("invoice.pdf", PDF), ("notes.txt", b"Delivery to the back door.")])
    message = _receive({"data": winmail, "type": "application/ms-tnef", "filename": "winmail.dat"})
    files = {a.filename: a for a in message.attachments.all()}
    assert set(files) == {"invoice.pdf", "notes.txt"}
    assert files["invoice.pdf"].content_type == "application/pdf"
    assert files["notes.txt"].content_type == "text/plain"
    assert _file(files["invoice.pdf"], settings).read_bytes() == PDF


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\win.ini", "win.ini"),
        ("CON.txt", "_CON.txt"),
        ("invoice\x07\x1b.pdf", "invoice.pdf"),
        ("rechnung <März>.pdf", "rechnung _März_.pdf"),
        ("....", "attachment.pdf"),
        ("a" * 300 + ".pdf", "a" * 196 + ".pdf"),
    ],
)
def test_filenames_are_made_safe(db: None, settings: Any, sent: str, kept: str) -> None:
    message = _receive({"data": PDF, "type": "application/pdf", "filename": sent})
    attachment = message.attachments.get()
    assert attachment.filename == kept
    assert _file(attachment, settings).parent.parent == Path(settings.ATTACHMENT_DIR).resolve()


def test_an_attachment_only_email_is_a_message_saying_what_it_carried(db: None) -> None:
    message = _receive(
        {"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"},
        {"data": PNG, "type": "image/png", "filename": "label.png"},
        body="",
    )
    assert message.body == "(no text; attachments: invoice.pdf, label.png)"


def test_agents_download_an_attachment_with_the_read_scope(db: None) -> None:
    message = _receive({"data": PDF, "type": "image/png", "filename": "../rechnung März.pdf"})
    attachment = message.attachments.get()
    url = f"{API}/attachments/{attachment.pk}"

    response = key_client("read").get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"  # sniffed, not the declared image/png
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;") and "rechnung" in disposition
    assert "filename*=utf-8''rechnung%20M%C3%A4rz.pdf" in disposition
    assert b"".join(response.streaming_content) == PDF  # type: ignore[attr-defined]
    assert key_client("ingest").get(url).status_code == 403
    assert Client().get(url).status_code == 401
    assert key_client("read").get(f"{API}/attachments/{'0' * 32}").status_code == 404


def test_a_message_lists_its_attachments_and_message_id_in_the_api(db: None) -> None:
    message = _receive({"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"})
    body = key_client("read").get(f"{API}/conversations/{message.conversation_id}").json()
    (shown,) = body["messages"]
    attachment = message.attachments.get()
    assert shown["attachments"] == [
        {
            "id": str(attachment.pk),
            "filename": "invoice.pdf",
            "content_type": "application/pdf",
            "size": len(PDF),
        }
    ]
    assert (
        shown["message_id_header"]
        == f"<{EmailEnvelope.objects.get(message=message).message_id_header}>"
    )
    assert body["channel"] == "email" and body["subject"] == "Where is my order?"


def test_erasing_a_customer_deletes_their_files_and_raw_emails(
    db: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    message = _receive({"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"})
    other = _receive(
        {"data": PNG, "type": "image/png", "filename": "other.png"},
        sender="Bob <bob@gmail.example>",
    )
    mine, theirs = message.attachments.get(), other.attachments.get()
    # A quarantined e-mail of the same customer (no message) goes too.
    stuck = build("It failed to store.", subject="stuck")
    quarantine(stuck, "imap", {}, OSError("disk full"), parsed=parse(stuck))
    ref = Conversation.objects.get(pk=message.conversation_id).customer_ref

    exported = customer_data.export(ref, Actor.agent())["data"]
    assert [row["fields"]["filename"] for row in exported["support.Attachment"]] == ["invoice.pdf"]
    assert len(exported["support.InboundEmail"]) == 2  # the stored and the quarantined
    with django_capture_on_commit_callbacks(execute=True):
        erased = customer_data.do_erase(ref, Actor.agent())

    assert erased["support.Attachment"] == 1 and erased["support.InboundEmail"] == 2
    assert not _file(mine, settings).exists()
    assert not Attachment.objects.filter(pk=mine.pk).exists()
    assert not InboundEmail.objects.filter(from_address="anna.keller@gmail.example").exists()
    assert _file(theirs, settings).exists()  # another customer's file stays


@pytest.mark.parametrize("how", ["mixed_case", "crm_ref"])
def test_a_mailbox_is_erased_however_the_request_names_it(
    db: None, settings: Any, django_capture_on_commit_callbacks: Any, how: str
) -> None:
    """An unverified e-mail's conversation is filed under its sender's address in lower case:
    an erasure naming the address as the customer typed it, or the CRM reference whose row has
    that address, takes its words, envelope and files, not only the raw mail."""
    message = _receive({"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"})
    if how == "crm_ref":
        Customer.objects.create(ref="crm-42", email="Anna.Keller@gmail.example")
        ref = "crm-42"
    else:
        ref = "Anna.Keller@GMAIL.example"
    assert customer_data.export(ref, Actor.agent())["data"]["support.Message"]
    with django_capture_on_commit_callbacks(execute=True):
        erased = customer_data.do_erase(ref, Actor.agent())

    assert erased["support.Message"] == 1 and erased["support.Attachment"] == 1
    assert Message.objects.get(pk=message.pk).body == ERASED
    assert not EmailEnvelope.objects.filter(message=message).exists()
    conversation = Conversation.objects.get(pk=message.conversation_id)
    assert conversation.customer_ref == "" and conversation.anonymised_at is not None


@pytest.mark.parametrize("how", ["erasure", "retention"])
def test_an_erased_e_mail_handed_over_again_stays_erased(
    db: None, django_capture_on_commit_callbacks: Any, how: str
) -> None:
    """The mailbox keeps its copy: read again (an IMAP folder whose UIDVALIDITY changed), the
    e-mail is not stored again, nothing of it is kept, and nobody answers it. The customer's
    next e-mail is theirs as usual."""
    raw = build("My card was charged twice for order 1042.", subject="Charged twice")
    first = receive_email(raw, door="imap")
    assert first.status == "PENDING" and first.conversation_id is not None
    with django_capture_on_commit_callbacks(execute=True):
        if how == "erasure":
            customer_data.do_erase("anna.keller@gmail.example", Actor.agent())
        else:
            old = timezone.now() - timedelta(days=40)
            Conversation.objects.filter(pk=first.conversation_id).update(updated_at=old)
            customer_data.anonymise_expired(30, Actor.agent())
    messages = Message.objects.count()

    again = receive_email(raw, door="imap")

    assert (again.status, again.ignored_reason, again.duplicate) == ("IGNORED", "erased", True)
    assert again.conversation_id is None and again.draft_id is None
    assert Message.objects.count() == messages
    # The API door answers it as a duplicate with no ids, never a 500.
    response = key_client("ingest").post(f"{API}/inbound/email", raw, content_type="message/rfc822")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["ignored_reason"], body["duplicate"], body["conversation_id"]) == (
        "erased",
        True,
        None,
    )
    assert Message.objects.count() == messages
    row = InboundEmail.objects.get(pk=again.inbound_id)
    assert (row.status, row.raw, row.from_address, row.message_id_header) == (
        "erased",
        b"",
        "",
        "",
    )
    later = receive_email(build("Any news?", subject="Charged twice"), door="imap")
    assert later.status == "PENDING" and Message.objects.count() == messages + 1


def test_retention_deletes_the_files_of_expired_conversations(
    db: None, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    message = _receive({"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"})
    attachment = message.attachments.get()
    old = timezone.now() - timedelta(days=40)
    Conversation.objects.filter(pk=message.conversation_id).update(updated_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        counts = customer_data.anonymise_expired(30, Actor.agent())

    assert counts["support.Attachment"] == 1
    assert not _file(attachment, settings).exists()
    assert not InboundEmail.objects.filter(message=message).exists()
