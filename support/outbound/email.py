"""The e-mail transport: our reply as a message threaded into the customer's (headers.py), sent
through Django's EMAIL_BACKEND (SMTP by default; an ESP through an anymail backend).

The headers, the Message-ID first, are fixed when the reply is stored (`queue`, in the transaction
that writes the AGENT message) and kept in the reply's EmailEnvelope: every attempt sends the same
message, so a receiving server (and the customer's client) sees a retry as the same mail, and the
inbound side threads the customer's answer to it by its Message-ID."""

from __future__ import annotations

import smtplib
from email.utils import formataddr, parseaddr
from functools import partial
from typing import Any

from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction

from support.email.addresses import new_message_id, own_addresses
from support.models import (
    Conversation,
    Draft,
    EmailEnvelope,
    Message,
    MessageRole,
    ReplyDelivery,
)
from support.outbound.deliveries import enqueue
from support.outbound.headers import Theirs, recipients, references, reply_subject

# Marks mail no person wrote (RFC 3834), so auto-responders do not answer it; Microsoft's
# servers read the second header instead.
AUTO_SUBMITTED = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}


class Undeliverable(Exception):
    """A reply that no attempt can deliver (no recipient, no envelope): failed at once."""


def our_sender() -> tuple[str, str]:
    """(display name, address) of SUPPORT_EMAIL_FROM."""
    name, address = parseaddr(settings.SUPPORT_EMAIL_FROM)
    return name, address.lower()


def answered(conversation_id: Any, answering: Any = None) -> EmailEnvelope | None:
    """The envelope a reply answers: the latest e-mail in the conversation that a person wrote
    (auto-replies and bounces are stored but not answered: Message.ignored_reason), from the
    sender of `answering` when given (the customer message a draft was written for). When
    Anna's Cc'd colleague writes to us alone before her draft is approved, her answer still goes
    to her (with him in Cc), In-Reply-To her latest mail (CONTRACTS.md), not to him alone."""
    theirs = EmailEnvelope.objects.filter(
        message__conversation_id=conversation_id,
        message__role=MessageRole.CUSTOMER,
        message__ignored_reason="",
    )
    if answering is not None:
        sender = theirs.filter(message_id=answering).values_list("from_address", flat=True)
        if address := sender.first():
            theirs = theirs.filter(from_address__iexact=address)
    return theirs.order_by("-message__created_at").first()


def _answering(message: Message) -> Any:
    """The customer message a reply answers: its draft's (None for a free-form reply)."""
    if message.draft_id is None:
        return None
    return Draft.objects.filter(pk=message.draft_id).values_list("message_id", flat=True).first()


def _theirs(conversation: Conversation, answering: Any = None) -> Theirs:
    envelope = answered(conversation.pk, answering)
    if envelope is None:
        # No e-mail of theirs (the conversation began elsewhere): an e-mail customer's reference
        # is their address (CONTRACTS.md), and a new thread under the conversation's subject.
        ref = conversation.customer_ref if "@" in conversation.customer_ref else ""
        return Theirs(message_id="", subject=conversation.subject, from_address=ref)
    return Theirs(
        message_id=envelope.message_id_header,
        references=list(envelope.references or []),
        subject=envelope.subject or conversation.subject,
        from_address=envelope.from_address,
        to=list(envelope.to or []),
        cc=list(envelope.cc or []),
    )


def recipient(conversation: Conversation, answering: Any = None) -> str:
    """Whom a reply in the conversation goes to first ("" when nobody): the sender of the e-mail
    it answers (`answered`). The auto-reply limit counts per this address."""
    to, _ = recipients(_theirs(conversation, answering), own_addresses())
    return to[0] if to else ""


def envelope_for(message: Message, conversation: Conversation) -> EmailEnvelope:
    """Our reply's envelope, written now: a new Message-ID on our domain, In-Reply-To the
    Message-ID of the e-mail it answers, References the thread, "Re: <their subject> [#token]",
    reply-all."""
    theirs = _theirs(conversation, _answering(message))
    name, address = our_sender()
    to, cc = recipients(theirs, own_addresses())
    message_id = new_message_id()
    return EmailEnvelope.objects.create(
        message=message,
        message_id_header=message_id,
        in_reply_to=theirs.message_id,
        references=references(theirs) if theirs.message_id else [],
        subject=reply_subject(theirs.subject, conversation.thread_token),
        from_address=address,
        from_name=name,
        to=to,
        cc=cc,
    )


def queue(message: Message, conversation: Conversation) -> ReplyDelivery:
    """Call inside the transaction that creates the AGENT message: its envelope and its
    delivery row commit with it; the actor sends it after commit."""
    envelope_for(message, conversation)
    delivery = ReplyDelivery.objects.create(message=message, channel=conversation.channel)
    transaction.on_commit(partial(enqueue, message.pk))
    return delivery


def _bracketed(message_id: str) -> str:
    return f"<{message_id}>"


def build(message: Message, envelope: EmailEnvelope) -> EmailMessage:
    """The mail, from the stored envelope (the same on every attempt)."""
    if not envelope.to:
        raise Undeliverable("no recipient: the customer's address is unknown")
    extra = {"Message-ID": _bracketed(envelope.message_id_header)}
    if envelope.in_reply_to:
        extra["In-Reply-To"] = _bracketed(envelope.in_reply_to)
    if envelope.references:
        extra["References"] = " ".join(_bracketed(ref) for ref in envelope.references)
    if message.automated:  # a human's reply carries none
        extra |= AUTO_SUBMITTED
    return EmailMessage(
        subject=envelope.subject,
        body=message.body,
        from_email=formataddr((envelope.from_name, envelope.from_address)),
        to=list(envelope.to),
        cc=list(envelope.cc or []),
        headers=extra,
    )


def send(message: Message) -> None:
    """One attempt; raises what the backend raised (is_permanent tells whether to retry)."""
    envelope = EmailEnvelope.objects.filter(message=message).first()
    if envelope is None:
        raise Undeliverable("the reply has no envelope (erased?)")
    build(message, envelope).send(fail_silently=False)


def is_permanent(exc: BaseException) -> bool:
    """A refusal no retry changes: every recipient refused with a 5xx, the message refused with
    a 5xx, an address the backend cannot send to, nothing to send. Connection failures, 4xx,
    and refusals of our own credentials or sender (an operator fixes them) are retried."""
    if isinstance(exc, Undeliverable | AnymailRecipientsRefused | ValueError):
        return True  # ValueError: a malformed address or header (anymail's invalid address too)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return False
