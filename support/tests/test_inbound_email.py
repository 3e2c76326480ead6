"""The e-mail channel's receive path (support/email/receive.py) on the real database and Redis:
an e-mail becomes a conversation, a customer message and a PENDING draft queued after commit;
the same e-mail through two doors is one message; mail nobody is to answer is stored undrafted
with its reason; a flooding sender is limited; an e-mail that cannot be stored is quarantined,
never blocks the next one, and can be reprocessed."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from resolver.audit_actor import Actor
from resolver.polling import wait_for
from support.email.addresses import is_our_message_id
from support.email.receive import NotQuarantined, receive_email, reprocess
from support.models import (
    AuditAction,
    AuditLog,
    Channel,
    Conversation,
    Draft,
    DraftStatus,
    EmailEnvelope,
    IgnoredReason,
    InboundEmail,
    InboundStatus,
    Message,
)
from support.tests.email_fixtures import (  # noqa: F401
    email_settings,
    keep_attachments_in,
    unique_sender,
)
from support.tests.emails.build import PDF, SUPPORT, build
from support.vocabulary import ReceiptStatus

pytestmark = pytest.mark.usefixtures("email_settings")


def test_an_email_becomes_a_message_with_a_pending_draft_queued_after_commit(
    db: None, django_capture_on_commit_callbacks: Any
) -> None:
    raw = build(
        "Hi,\n\nWhere is my order 1042? It was due on Monday.\n\nThanks,\nAnna\n",
        sender="Anna Keller <Anna.Keller@GMAIL.Example>",
        to=f"{SUPPORT}, Help <help@shop.example>",
        subject="Where is my order?",
        headers={"Cc": "Bob Keller <Bob@gmail.example>"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        received = receive_email(raw, door="api")

    assert received.status == ReceiptStatus.PENDING and not received.duplicate
    conversation = Conversation.objects.get(pk=str(received.conversation_id))
    assert (conversation.channel, conversation.subject, conversation.customer_ref) == (
        Channel.EMAIL,
        "Where is my order?",
        "anna.keller@gmail.example",
    )
    message = Message.objects.get(pk=str(received.message_id))
    assert message.body == "Hi,\n\nWhere is my order 1042? It was due on Monday."
    envelope = EmailEnvelope.objects.get(message=message)
    assert envelope.to == ["support@shop.example", "help@shop.example"]
    assert envelope.cc == ["bob@gmail.example"]
    assert (envelope.from_address, envelope.from_name) == (
        "anna.keller@gmail.example",
        "Anna Keller",
    )
    inbound = InboundEmail.objects.get(pk=received.inbound_id)
    assert (inbound.status, inbound.door, bytes(inbound.raw)) == (InboundStatus.STORED, "api", raw)
    assert inbound.message_id_header == envelope.message_id_header
    draft = Draft.objects.get(pk=str(received.draft_id))
    # Queued after commit by the same path as every customer message (support/inbound.py).
    assert draft.status == DraftStatus.PENDING and draft.enqueued_at is not None


def test_the_same_email_through_two_doors_is_one_message(db: None) -> None:
    raw = build("Is the blue scarf back in stock?")
    first = receive_email(raw, door="imap")
    second = receive_email(raw, door="anymail:mailgun")

    assert second.duplicate and not first.duplicate
    assert (second.conversation_id, second.message_id, second.draft_id) == (
        first.conversation_id,
        first.message_id,
        first.draft_id,
    )
    assert Message.objects.count() == 1 and Draft.objects.count() == 1
    duplicate = InboundEmail.objects.get(pk=second.inbound_id)
    assert duplicate.status == InboundStatus.DUPLICATE and duplicate.message_id == first.message_id
    assert bytes(duplicate.raw) == b""  # the first delivery's copy is the one kept


def test_an_email_without_a_message_id_is_still_the_same_email_when_redelivered(
    db: None,
) -> None:
    raw = build("My parcel never came.", message_id=None)
    # Another door's copy: its own trace header on top, CRLF line endings.
    relayed = b"Received: from mx.example by imap.example; Tue, 3 Dec 2026 10:16:00 +0000\n" + raw
    first = receive_email(raw, door="api")
    second = receive_email(relayed.replace(b"\n", b"\r\n"), door="imap")

    assert second.duplicate and second.message_id == first.message_id
    header = EmailEnvelope.objects.get().message_id_header
    assert header.startswith("sha256-") and header.endswith("@derived.invalid")


@pytest.mark.parametrize("header", ["Reply-To", "Sender"])
def test_two_visitors_writing_the_same_words_through_a_form_are_two_emails(
    db: None, header: str
) -> None:
    # A contact form sends every visitor's mail From its one address, the same minute, often
    # without a Message-ID: only Reply-To (or Sender) tells them apart.
    def form(visitor: str) -> bytes:
        return build(
            "Message: do you ship to Norway?",
            sender="Contact form <form@forms.example>",
            subject="Contact form",
            message_id=None,
            headers={header: visitor},
        )

    vera = receive_email(form("Vera <vera@visitors.example>"), door="imap")
    olaf = receive_email(form("Olaf <olaf@visitors.example>"), door="imap")

    assert not olaf.duplicate and olaf.message_id != vera.message_id
    assert (vera.status, olaf.status) == (ReceiptStatus.PENDING, ReceiptStatus.PENDING)
    assert EmailEnvelope.objects.count() == 2


def test_the_id_derived_for_mail_without_reply_to_or_sender_is_what_it_was(db: None) -> None:
    # Stored ids must not change: a re-delivery of mail stored before would not be a duplicate.
    raw = build("My parcel never came.", message_id=None)
    assert receive_email(raw, door="api").status == ReceiptStatus.PENDING
    assert EmailEnvelope.objects.get().message_id_header == (
        "sha256-4370524dffdf4eaa9ec3ccb7566609dcd7ce6c39@derived.invalid"
    )


def _report(
    original_id: str,
    action: str = "failed",
    *,
    recipient: str = "gone@gmail.example",
    original_recipient: str = "",
) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix writes it, returning our reply: its
    delivery to `recipient` (`original_recipient` before a forward, if any) failed."""
    original = f"Original-Recipient: rfc822; {original_recipient}\n" if original_recipient else ""
    return f"""From: MAILER-DAEMON@mx.gmail.example (Mail Delivery System)
To: support@shop.example
Subject: Undelivered Mail Returned to Sender
Date: Tue, 3 Dec 2026 10:20:00 +0000
Message-ID: <20261203102000.{action}.{uuid.uuid4().hex}@mx.gmail.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
 boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.gmail.example. I'm sorry to have to inform you that your
message could not be delivered to one or more recipients.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.gmail.example
Arrival-Date: Tue, 3 Dec 2026 10:19:58 +0000

{original}Final-Recipient: rfc822; {recipient}
Action: {action}
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected

--B1
Content-Type: message/rfc822

From: Shop Support <support@shop.example>
To: {original_recipient or recipient}
Subject: Re: Where is my order?
Message-ID: <{original_id}>

Hello, your order ships tomorrow.

--B1--
""".encode()


NOISE = [
    pytest.param(
        {"Auto-Submitted": "auto-replied"}, "", IgnoredReason.AUTO_REPLY, id="auto-submitted"
    ),
    pytest.param({"X-Autoreply": "yes"}, "", IgnoredReason.AUTO_REPLY, id="x-autoreply"),
    pytest.param({"X-Autorespond": "yes"}, "", IgnoredReason.AUTO_REPLY, id="x-autorespond"),
    pytest.param({"Precedence": "bulk"}, "", IgnoredReason.AUTO_REPLY, id="precedence-bulk"),
    pytest.param({"Precedence": "junk"}, "", IgnoredReason.AUTO_REPLY, id="precedence-junk"),
    pytest.param({}, "Automatic reply: Where is my order?", IgnoredReason.AUTO_REPLY, id="ooo-en"),
    pytest.param({}, "Out of Office: Re: order 1042", IgnoredReason.AUTO_REPLY, id="ooo-en-2"),
    pytest.param({}, "Abwesenheitsnotiz: Lieferung", IgnoredReason.AUTO_REPLY, id="ooo-de"),
    pytest.param({}, "Réponse automatique : colis", IgnoredReason.AUTO_REPLY, id="ooo-fr"),
    pytest.param({}, "Respuesta automática: pedido", IgnoredReason.AUTO_REPLY, id="ooo-es"),
    pytest.param({}, "自動応答: ご注文について", IgnoredReason.AUTO_REPLY, id="ooo-ja"),
    pytest.param({}, "不在: Re: ご注文について", IgnoredReason.AUTO_REPLY, id="ooo-ja-away"),
    pytest.param({}, "Jane Doe is out of the office.", IgnoredReason.AUTO_REPLY, id="ooo-notes"),
    pytest.param({}, "[Auto-Reply] Re: order 1042", IgnoredReason.AUTO_REPLY, id="ooo-bracket"),
    pytest.param({}, "OOO", IgnoredReason.AUTO_REPLY, id="ooo-alone"),
    pytest.param({"List-Id": "<news.shop.example>"}, "", IgnoredReason.MAILING_LIST, id="list-id"),
    pytest.param(
        {"List-Unsubscribe": "<mailto:u@x.example>", "Precedence": "bulk"},
        "",
        IgnoredReason.MAILING_LIST,
        id="list-unsubscribe-bulk",
    ),
    pytest.param({"Precedence": "list"}, "", IgnoredReason.MAILING_LIST, id="precedence-list"),
]


@pytest.mark.parametrize(("headers", "subject", "reason"), NOISE)
def test_mail_nobody_is_to_answer_is_stored_without_a_draft(
    db: None, headers: dict[str, str], subject: str, reason: str
) -> None:
    received = receive_email(
        build("I am away until Monday.", subject=subject or "Where is my order?", headers=headers),
        door="imap",
    )

    assert (received.status, received.ignored_reason, received.draft_id) == (
        ReceiptStatus.IGNORED,
        reason,
        None,
    )
    message = Message.objects.get(pk=str(received.message_id))
    assert message.ignored_reason == reason and not Draft.objects.exists()
    assert InboundEmail.objects.get().status == InboundStatus.IGNORED


@pytest.mark.parametrize(
    "subject",
    [
        "Lost luggage on holiday",
        "Order arrived while I was on vacation",
        "Can I pause my subscription while on leave?",
        "Out of office hours phone support?",
        "Auto response missing from your app",
        "不在票が入っていました",  # "I got a missed-delivery slip"
        "Automatic renewal charged twice",
        "Who is out of office? Nobody answers the phone",
        "Abwesenheit bei Zustellung: Paket weg",
        "不在時の再配達について",  # "redelivery when I was not at home"
        "Ooo la la, the dress is lovely but too small",
    ],
)
def test_a_customer_s_subject_with_an_auto_reply_s_words_is_drafted(db: None, subject: str) -> None:
    sender, _ = unique_sender()
    received = receive_email(build(sender=sender, subject=subject), door="imap")
    assert (received.status, received.ignored_reason) == (ReceiptStatus.PENDING, "")
    assert received.draft_id is not None


@pytest.mark.parametrize(
    ("sender", "message_id", "reason"),
    [
        ("Shop Support <Support@Shop.Example>", "", IgnoredReason.OWN_ADDRESS),
        ("Help Desk <help@shop.example>", "", IgnoredReason.OWN_ADDRESS),  # an alias
        ("Anna <anna@gmail.example>", "resolver.1234@shop.example", IgnoredReason.LOOP),
        ("MAILER-DAEMON@mx.example", "", IgnoredReason.BOUNCE),
        ("postmaster@mx.example", "", IgnoredReason.BOUNCE),
    ],
)
def test_our_own_mail_loops_and_bounces_are_not_drafted(
    db: None, sender: str, message_id: str, reason: str
) -> None:
    received = receive_email(build(sender=sender, message_id=message_id), door="imap")
    assert (received.status, received.ignored_reason) == (ReceiptStatus.IGNORED, reason)
    assert not Draft.objects.exists()


@pytest.mark.parametrize(
    "headers",
    [{"Auto-Submitted": "no"}, {"List-Unsubscribe": "<mailto:u@crm.example>"}, {}],
    ids=["auto-submitted-no", "list-unsubscribe-alone", "plain"],
)
def test_a_person_s_mail_is_drafted(db: None, headers: dict[str, str]) -> None:
    received = receive_email(build(headers=headers), door="api")
    assert received.status == ReceiptStatus.PENDING and received.draft_id is not None


def test_a_colleague_writing_from_our_domain_is_drafted(db: None) -> None:
    # Thunderbird, Apple Mail and others name a Message-ID after the sender's own domain: ours.
    received = receive_email(
        build(
            "Forwarding this for a customer: their order 1042 has not arrived.",
            sender="Jane Doe <jane@shop.example>",
            message_id=f"{uuid.uuid4()}@shop.example",
        ),
        door="imap",
    )
    assert (received.status, received.ignored_reason) == (ReceiptStatus.PENDING, "")


def test_a_contact_form_sent_from_our_own_address_is_the_visitor_s_and_answered_to_them(
    db: None,
) -> None:
    # A site's form often sends From the shop's own address, the visitor in Reply-To.
    from support.tests.email_fixtures import our_reply

    form = build(
        "Name: Vera\nMessage: do you ship to Norway?",
        sender=SUPPORT,
        subject="Contact form: shipping",
        headers={"Reply-To": "Vera Visitor <Vera@Visitors.example>"},
    )
    received = receive_email(form, door="imap")
    assert (received.status, received.ignored_reason) == (ReceiptStatus.PENDING, "")
    conversation = Conversation.objects.get(pk=str(received.conversation_id))
    assert conversation.customer_ref == "vera@visitors.example"

    reply = EmailEnvelope.objects.get(message_id_header=our_reply(conversation.pk))
    assert (reply.to, reply.cc) == (["vera@visitors.example"], [])  # never our own address


def test_a_reply_to_naming_the_sender_or_us_changes_nothing(db: None) -> None:
    sender, address = unique_sender()
    for reply_to in (sender, "Help Desk <help@shop.example>"):
        received = receive_email(build(sender=sender, headers={"Reply-To": reply_to}), door="api")
        customer_ref = Conversation.objects.get(pk=str(received.conversation_id)).customer_ref
        assert (received.status, customer_ref) == (ReceiptStatus.PENDING, address)


def test_our_reply_coming_back_with_its_own_message_id_is_a_loop(db: None) -> None:
    from support.tests.email_fixtures import our_reply

    first = receive_email(build("Where is my order?"), door="api")
    reply_id = our_reply(first.conversation_id)
    assert is_our_message_id(reply_id) and reply_id.endswith("@shop.example")
    back = receive_email(
        build("Hello, could you send your order number?", sender=SUPPORT, message_id=reply_id),
        door="imap",
    )
    assert (back.status, back.ignored_reason, back.conversation_id) == (
        ReceiptStatus.IGNORED,
        IgnoredReason.LOOP,
        first.conversation_id,
    )
    assert Message.objects.filter(conversation_id=str(first.conversation_id)).count() == 2


def test_an_auto_reply_to_our_last_reply_leaves_a_resolved_conversation_resolved(
    db: None,
) -> None:
    from support import review
    from support.models import ConversationStatus
    from support.tests.email_fixtures import our_reply

    sender, _ = unique_sender()
    first = receive_email(build("Where is my order?", sender=sender), door="api")
    Draft.objects.filter(pk=str(first.draft_id)).update(status=DraftStatus.REJECTED)
    reply_id = our_reply(first.conversation_id, "It ships today. Anything else?")
    review.resolve(first.conversation_id, Actor.agent())

    away = build(
        "I am away until Monday.",
        sender=sender,
        subject="Automatic reply: Re: Where is my order?",
        headers={"In-Reply-To": f"<{reply_id}>", "Auto-Submitted": "auto-replied"},
    )
    received = receive_email(away, door="imap")
    assert (received.conversation_id, received.ignored_reason) == (
        first.conversation_id,
        IgnoredReason.AUTO_REPLY,
    )
    conversation = Conversation.objects.get(pk=str(first.conversation_id))
    assert conversation.status == ConversationStatus.RESOLVED and conversation.resolved_at

    # The customer writing again does reopen it.
    again = build("It has not arrived.", sender=sender, headers={"In-Reply-To": f"<{reply_id}>"})
    assert receive_email(again, door="imap").conversation_id == first.conversation_id
    assert Conversation.objects.get(pk=str(first.conversation_id)).status == ConversationStatus.OPEN


@pytest.mark.parametrize(
    ("verdict", "files_kept"),
    [({"spam_detected": True}, 1), ({"virus": "fail", "spam_detected": False}, 0)],
    ids=["spam", "virus"],
)
def test_what_the_esp_found_spam_or_infected_is_stored_undrafted(
    db: None, verdict: dict[str, Any], files_kept: int
) -> None:
    from support.models import Attachment

    sender, _ = unique_sender()
    mail = build(
        "Claim your prize now",
        sender=sender,
        attachments=[{"data": b"MZ...", "filename": "prize.exe", "type": "application/x-msdos"}],
    )
    received = receive_email(mail, door="anymail:amazon_ses", esp_verdict=verdict)

    assert (received.status, received.ignored_reason, received.draft_id) == (
        ReceiptStatus.IGNORED,
        IgnoredReason.SPAM,
        None,
    )
    assert Attachment.objects.count() == files_kept  # an infected one's files are not kept
    clean = receive_email(build(sender=sender), door="anymail:amazon_ses", esp_verdict={})
    assert clean.status == ReceiptStatus.PENDING


def test_a_bounce_of_our_reply_marks_its_delivery_bounced(db: None) -> None:
    from support.models import ReplyDelivery, ReplyDeliveryStatus
    from support.tests.email_fixtures import our_reply

    sender, address = unique_sender()
    first = receive_email(build("Where is my order?", sender=sender), door="api")
    reply_id = our_reply(first.conversation_id)
    reply = EmailEnvelope.objects.get(message_id_header=reply_id).message
    # The outbound seam queued it with the reply; say it was sent.
    ReplyDelivery.objects.filter(message=reply).update(status=ReplyDeliveryStatus.SENT)

    delayed = receive_email(_report(reply_id, action="delayed", recipient=address), door="imap")
    assert ReplyDelivery.objects.get(message=reply).status == ReplyDeliveryStatus.SENT
    bounce = receive_email(_report(reply_id, recipient=address), door="imap")

    delivery = ReplyDelivery.objects.get(message=reply)
    assert delivery.status == ReplyDeliveryStatus.BOUNCED
    assert "550 5.1.1" in delivery.last_error
    for report in (delayed, bounce):
        assert (report.status, report.ignored_reason) == (
            ReceiptStatus.IGNORED,
            IgnoredReason.BOUNCE,
        )
        # Shown in the conversation of the reply it returns, not in one of its own.
        assert report.conversation_id == first.conversation_id


def test_a_bounce_returning_only_the_headers_marks_the_delivery_too(db: None) -> None:
    from support.models import ReplyDelivery, ReplyDeliveryStatus
    from support.tests.email_fixtures import our_reply

    first = receive_email(build("Where is my order?"), door="api")
    reply_id = our_reply(first.conversation_id)
    reply = EmailEnvelope.objects.get(message_id_header=reply_id).message
    # The outbound seam queued it with the reply; say it was sent.
    ReplyDelivery.objects.filter(message=reply).update(status=ReplyDeliveryStatus.SENT)
    report = _report(reply_id, recipient="anna.keller@gmail.example").replace(
        b"Content-Type: message/rfc822\n", b"Content-Type: text/rfc822-headers\n"
    )
    receive_email(report, door="imap")
    assert ReplyDelivery.objects.get(message=reply).status == ReplyDeliveryStatus.BOUNCED


def _sent_reply(cc: str = "") -> tuple[Any, str, str]:
    """A customer's e-mail (copying `cc`) and our reply to it, sent: (the reply message, its
    Message-ID, the customer's address)."""
    from support.models import ReplyDelivery, ReplyDeliveryStatus
    from support.tests.email_fixtures import our_reply

    sender, address = unique_sender()
    first = receive_email(
        build("Where is my order?", sender=sender, headers={"Cc": cc} if cc else {}), door="api"
    )
    reply_id = our_reply(first.conversation_id)
    reply = EmailEnvelope.objects.get(message_id_header=reply_id).message
    ReplyDelivery.objects.filter(message=reply).update(status=ReplyDeliveryStatus.SENT)
    return reply, reply_id, address


def test_a_bounce_for_someone_in_cc_leaves_the_reply_to_the_customer_sent(db: None) -> None:
    from support.models import ReplyDelivery, ReplyDeliveryStatus

    reply, reply_id, address = _sent_reply(cc="Old Colleague <left.company@corp.example>")
    assert EmailEnvelope.objects.get(message=reply).cc == ["left.company@corp.example"]

    bounce = receive_email(_report(reply_id, recipient="left.company@corp.example"), door="imap")

    # Stored in the thread as a bounce; the customer got the reply, resending would repeat it.
    assert (bounce.ignored_reason, bounce.conversation_id) == (
        IgnoredReason.BOUNCE,
        reply.conversation_id,
    )
    assert ReplyDelivery.objects.get(message=reply).status == ReplyDeliveryStatus.SENT

    receive_email(_report(reply_id, recipient=address.upper()), door="imap")
    assert ReplyDelivery.objects.get(message=reply).status == ReplyDeliveryStatus.BOUNCED


def test_a_bounce_after_a_forward_names_the_customer_as_original_recipient(db: None) -> None:
    from support.models import ReplyDelivery, ReplyDeliveryStatus

    reply, reply_id, address = _sent_reply()
    report = _report(reply_id, recipient="anna@new-isp.example", original_recipient=address)
    receive_email(report, door="imap")
    assert ReplyDelivery.objects.get(message=reply).status == ReplyDeliveryStatus.BOUNCED


def test_a_bounce_naming_no_recipient_readably_still_marks_the_reply(db: None) -> None:
    from support.models import ReplyDelivery, ReplyDeliveryStatus

    reply, reply_id, _ = _sent_reply()
    prose = f"""From: MAILER-DAEMON@mx.gmail.example
To: support@shop.example
Subject: Mail delivery failed
Message-ID: <prose-bounce-{uuid.uuid4().hex}@mx.gmail.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="P1"

--P1
Content-Type: text/plain

Your message could not be delivered.

--P1
Content-Type: message/rfc822

From: Shop Support <support@shop.example>
Message-ID: <{reply_id}>

Hello.

--P1--
""".encode()
    assert receive_email(prose, door="imap").ignored_reason == IgnoredReason.BOUNCE
    assert ReplyDelivery.objects.get(message=reply).status == ReplyDeliveryStatus.BOUNCED


def test_a_flooding_sender_is_stored_but_no_longer_drafted(db: None, settings: Any) -> None:
    settings.INBOUND_EMAIL_RATE_LIMIT_PER_HOUR = 3
    sender, _ = unique_sender()
    results = [
        receive_email(
            build(f"Message number {i}", sender=sender, subject=f"Flood {i}"), door="imap"
        )
        for i in range(5)
    ]
    assert [r.status for r in results] == [ReceiptStatus.PENDING] * 3 + [ReceiptStatus.IGNORED] * 2
    assert [r.ignored_reason for r in results[3:]] == [IgnoredReason.RATE_LIMITED] * 2
    assert Message.objects.count() == 5 and Draft.objects.count() == 3  # none dropped
    # Another sender is not limited by them.
    other, _ = unique_sender("Bob")
    assert receive_email(build(sender=other), door="imap").status == ReceiptStatus.PENDING


def test_an_email_that_cannot_be_stored_is_quarantined_and_the_next_one_goes_on(
    db: None,
) -> None:
    no_sender = b"To: support@shop.example\nSubject: hello\nMessage-ID: <x1@example.net>\n\nhi\n"
    quarantined = receive_email(no_sender, door="imap")
    again = receive_email(no_sender, door="imap")
    after = receive_email(build("Where is my order?"), door="imap")

    assert quarantined.status == ReceiptStatus.QUARANTINED and quarantined.message_id is None
    assert "no From address" in quarantined.error
    row = InboundEmail.objects.get(pk=quarantined.inbound_id)
    assert (row.status, bytes(row.raw), row.attempts) == (InboundStatus.QUARANTINED, no_sender, 2)
    assert again.inbound_id == row.pk  # the same bytes again: the same row, one more attempt
    assert after.status == ReceiptStatus.PENDING
    with pytest.raises(NotQuarantined):
        reprocess(after.inbound_id, Actor.agent())


@pytest.mark.parametrize("length", [230, 330])
def test_a_sender_address_too_long_to_keep_is_quarantined_with_the_reason(
    db: None, length: int
) -> None:
    address = "a" * (length - len("@gmail.example")) + "@gmail.example"
    raw = build(sender=f"Long <{address}>")
    # Inside a transaction of the door's (IMAP moves its cursor in one): nothing may fail it.
    with transaction.atomic():
        received = receive_email(raw, door="imap")

    assert (received.status, received.message_id) == (ReceiptStatus.QUARANTINED, None)
    row = InboundEmail.objects.get(pk=received.inbound_id)
    assert (row.status, bytes(row.raw)) == (InboundStatus.QUARANTINED, raw)  # nothing lost
    assert f"the sender's address is {length} characters long" in row.error
    assert row.from_address == address[:320]  # cut to its column, never a failed insert
    assert not Conversation.objects.exists()
    # Reprocessing it fails the same way, and says so again.
    assert reprocess(row.pk, Actor.agent()).status == ReceiptStatus.QUARANTINED


def test_a_quarantined_email_is_reprocessed_once_the_cause_is_fixed(
    db: None, settings: Any, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the attachment directory should be")
    keep_attachments_in(settings, blocker / "attachments")
    raw = build(
        "Invoice attached.",
        attachments=[{"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"}],
    )
    quarantined = receive_email(raw, door="anymail:postmark", esp_verdict={"spam_score": 0.1})
    assert quarantined.status == ReceiptStatus.QUARANTINED
    assert not Message.objects.exists() and not list(tmp_path.rglob("*.part"))

    keep_attachments_in(settings, tmp_path / "attachments")
    received = reprocess(quarantined.inbound_id, Actor.agent())

    assert received.status == ReceiptStatus.PENDING
    assert received.inbound_id == quarantined.inbound_id
    row = InboundEmail.objects.get(pk=received.inbound_id)
    assert (row.status, row.attempts, row.error, row.door) == (
        InboundStatus.STORED,
        2,
        "",
        "anymail:postmark",
    )
    assert row.esp_verdict == {"spam_score": 0.1}
    assert Message.objects.get(pk=str(received.message_id)).attachments.count() == 1
    audit = AuditLog.objects.get(action=AuditAction.REPROCESSED)
    assert audit.metadata["inbound_email"] == str(row.pk)
    with pytest.raises(NotQuarantined):
        reprocess(row.pk, Actor.agent())


def test_an_email_too_large_to_import_is_quarantined_with_its_headers_for_good(
    db: None,
) -> None:
    from support.email.receive import NotImported

    head = build("Photos of the damage attached.").split(b"\n\n")[0] + b"\n\n"
    received = receive_email(head, door="imap", too_large=80_000_000)

    assert (received.status, received.draft_id) == (ReceiptStatus.QUARANTINED, None)
    row = InboundEmail.objects.get(pk=received.inbound_id)
    assert (row.size, bytes(row.raw), row.from_address) == (
        80_000_000,
        head,
        "anna.keller@gmail.example",
    )
    assert "80000000 bytes, over INBOUND_EMAIL_MAX_BYTES" in row.error
    with pytest.raises(NotImported):
        reprocess(row.pk, Actor.agent())
    assert not Message.objects.exists()


def test_nul_bytes_and_undecodable_headers_do_not_stop_an_email(db: None) -> None:
    raw = (
        b"From: =?x-nonsense?B?////?= <anna@gmail.example>\n"
        b"To: support@shop.example\nSubject: =?utf-8?B?broken base64?=\n"
        b"Message-ID: <nul-1@gmail.example>\nContent-Type: text/plain; charset=utf-8\n\n"
        b"Where\x00 is my order? Gr\xc3\xb6\xc3\x9fe 44\xff\n"
    )
    received = receive_email(raw, door="imap")
    assert received.status == ReceiptStatus.PENDING
    assert Message.objects.get().body == "Where is my order? Größe 44\ufffd"


def test_raw_8_bit_bytes_in_references_do_not_quarantine_an_email(db: None) -> None:
    # compat32 hands such a header back as a Header object, not text; joining it failed, and
    # Reprocess failed the same way every time.
    raw = (
        b"From: anna@gmail.example\nTo: support@shop.example\nSubject: Order\n"
        b"Message-ID: <refs-8bit@gmail.example>\n"
        b"References: <r\xc3\xa9f-1@gmail.example> <ref-2@gmail.example>\n\n"
        b"Where is my order?\n"
    )
    received = receive_email(raw, door="imap")
    assert received.status == ReceiptStatus.PENDING and received.draft_id is not None


def test_a_customer_forwarding_a_bounce_they_got_is_drafted(db: None) -> None:
    # Forwarded "as attachment": the delivery report is inside their e-mail, not the e-mail.
    forwarded = (
        b"""From: Anna Keller <anna.keller@gmail.example>
To: support@shop.example
Subject: Fwd: Undelivered Mail Returned to Sender
Message-ID: <fwd-bounce-1@mail.gmail.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="F1"

--F1
Content-Type: text/plain; charset=utf-8

I couldn't reach billing@shop.example, see the message I got back. Can you help?

--F1
Content-Type: message/rfc822

"""
        + _report("someone-elses@mx.example")
        + b"""
--F1--
"""
    )
    received = receive_email(forwarded, door="imap")
    assert (received.status, received.ignored_reason) == (ReceiptStatus.PENDING, "")
    assert received.draft_id is not None


def test_an_unknown_door_is_a_programming_error(db: None) -> None:
    with pytest.raises(ValueError, match="unknown inbound door"):
        receive_email(build(), door="smtp")
    with pytest.raises(ValueError):
        receive_email(build(), door="anymail:")


@pytest.mark.slow
def test_a_worker_drafts_an_email_message_like_any_other(
    start_workers: Callable[..., subprocess.Popen],
) -> None:
    """The e-mail door ends in the same queue: a real worker takes the run and decides."""
    start_workers()
    sender, _ = unique_sender()
    received = receive_email(
        build("I forgot my password, how do I reset it?", sender=sender), door="api"
    )
    draft = Draft.objects.get(pk=str(received.draft_id))

    def settled() -> bool:
        draft.refresh_from_db()
        return draft.status != DraftStatus.PENDING

    assert wait_for(settled, 60), "no draft within 60 s"
    assert draft.status in (DraftStatus.SUGGESTED, DraftStatus.ESCALATED)


def test_retention_deletes_quarantined_emails_nobody_reprocessed(db: None) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from support.customer_data import expire_records

    old = receive_email(b"Subject: no sender\n\nold", door="imap")
    recent = receive_email(b"Subject: no sender\n\nrecent", door="imap")
    InboundEmail.objects.filter(pk=old.inbound_id).update(
        received_at=timezone.now() - timedelta(days=40)
    )
    assert expire_records(30)["support.InboundEmail"] == 1
    assert list(InboundEmail.objects.values_list("pk", flat=True)) == [recent.inbound_id]


def test_raw_utf8_headers_keep_their_letters_and_their_customers_apart(db: None) -> None:
    """RFC 6532 mail (SMTPUTF8) carries UTF-8 in its headers unencoded. The parser read each
    such byte as U+FFFD, so josé@ and josè@ were one customer with one history."""
    token = uuid.uuid4().hex[:8]

    def raw(local: str) -> bytes:
        return (
            f"From: José Núñez <{local}.{token}@example.com>\r\n"
            f"To: {SUPPORT}\r\nSubject: Grüße aus München\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@example.com>\r\n\r\nWo ist meine Bestellung?\r\n"
        ).encode()

    acute = receive_email(raw("josé"), door="api")
    grave = receive_email(raw("josè"), door="api")
    assert acute.conversation_id != grave.conversation_id
    first = Conversation.objects.get(pk=str(acute.conversation_id))
    assert first.subject == "Grüße aus München"
    refs = set(
        Conversation.objects.filter(
            pk__in=[str(acute.conversation_id), str(grave.conversation_id)]
        ).values_list("customer_ref", flat=True)
    )
    assert refs == {f"josé.{token}@example.com", f"josè.{token}@example.com"}


def test_a_nul_in_a_charset_label_or_a_returned_message_id_is_read_not_quarantined(
    db: None,
) -> None:
    sender, _ = unique_sender()
    labelled = build("Where is my order?", sender=sender).replace(
        b'charset="utf-8"', b'charset="utf-8\x00"'
    )
    assert b"\x00" in labelled
    assert receive_email(labelled, door="api").status == ReceiptStatus.PENDING
    report = _report("reply.\x00nul@shop.example")
    received = receive_email(report, door="imap")
    assert (received.status, received.ignored_reason) == (
        ReceiptStatus.IGNORED,
        IgnoredReason.BOUNCE,
    )


@pytest.mark.parametrize("score", [float("nan"), float("inf"), float("-inf")])
def test_an_esp_score_json_cannot_hold_is_stored_as_none(db: None, score: float) -> None:
    """anymail reads "X-Spam-Score: nan" as a float; stored as it came, it failed the e-mail's
    row and then its quarantine row, and the ESP got a 503 on every retry until it gave up."""
    from support.models import InboundEmail

    sender, _ = unique_sender()
    verdict = {"spam_detected": False, "spam_score": score, "dkim_pass_domains": ["ex\x00.org"]}
    received = receive_email(build(sender=sender), door="anymail:postmark", esp_verdict=verdict)
    assert received.status == ReceiptStatus.PENDING
    stored = InboundEmail.objects.get(pk=received.inbound_id).esp_verdict
    assert stored["spam_score"] is None
    assert stored["dkim_pass_domains"] == ["ex.org"]


def test_encoded_words_beside_raw_utf8_in_one_header_are_decoded_too() -> None:
    from support.email.parse import parse

    parsed = parse(
        "From: =?utf-8?q?Jos=C3=A9_Garc=C3=ADa?= <josé@example.com>\r\nTo: s@example.com\r\n"
        "Subject: =?utf-8?q?Caf=C3=A9?= déjà vu\r\nMessage-ID: <a@b>\r\n\r\nHallo\r\n".encode()
    )
    assert (parsed.from_name, parsed.from_address) == ("José García", "josé@example.com")
    assert parsed.subject == "Café déjà vu"
