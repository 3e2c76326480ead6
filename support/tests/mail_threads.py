"""E-mail conversations for the outbound tests, as the inbound side stores them: a customer
message with its EmailEnvelope on an email-channel conversation, and its draft SUGGESTED."""

from __future__ import annotations

import uuid
from typing import Any

from support.inbound import receive_message
from support.models import Channel, Conversation, Draft, EmailEnvelope, Message, MessageRole
from support.tests.conftest import SUGGESTION

OURS = "support@shop.example"
ALIAS = "help@shop.example"


def customer_mail(
    body: str = "Where is my order NW-10001?",
    *,
    sender: str = "alice@example.com",
    subject: str = "Where is my order?",
    conversation: Conversation | None = None,
    message_id: str = "",
    references: list[str] | None = None,
    to: list[str] | None = None,
    cc: list[str] | None = None,
    **draft_fields: Any,
) -> Draft:
    """A customer's e-mail (new conversation, or a reply in `conversation`) and its draft,
    SUGGESTED with SUGGESTION's answer unless `draft_fields` say otherwise."""
    message, draft = receive_message(
        body,
        conversation=conversation,
        customer_ref=sender,
        channel=Channel.EMAIL,
        enqueue=False,
    )
    if conversation is None:
        Conversation.objects.filter(pk=message.conversation_id).update(subject=subject)
    EmailEnvelope.objects.create(
        message=message,
        message_id_header=message_id or f"{uuid.uuid4().hex}@mail.example.com",
        references=references or [],
        subject=subject,
        from_address=sender,
        from_name=sender.split("@")[0].title(),
        to=[OURS] if to is None else to,
        cc=cc or [],
    )
    Draft.objects.filter(pk=draft.pk).update(**{**SUGGESTION, **draft_fields})
    draft.refresh_from_db()
    return draft


def reply_to(draft: Draft) -> Message:
    """The AGENT message that answered `draft`."""
    return Message.objects.get(
        conversation_id=draft.conversation_id,
        role=MessageRole.AGENT,
        metadata__draft_id=str(draft.pk),
    )
