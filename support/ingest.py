"""Receiving a customer message: persist first (conversation, message, PENDING draft, audit),
then enqueue the agent run after commit. A message is never lost: if the queue is down the
rows exist and the draft stays PENDING for a reprocess."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from support.models import (
    ActorType,
    AuditAction,
    AuditLog,
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    Draft,
    Message,
    MessageRole,
)

logger = logging.getLogger(__name__)


def _conversation(
    conversation: Conversation | None, customer_ref: str, channel: str
) -> Conversation:
    if conversation is not None:
        if conversation.status == ConversationStatus.RESOLVED:
            conversation.status = ConversationStatus.OPEN  # a new question reopens it
            conversation.resolved_at = None
        return conversation
    customer = Customer.objects.filter(ref=customer_ref).first() if customer_ref else None
    return Conversation(customer_ref=customer_ref, customer=customer, channel=channel)


def receive_message(
    body: str,
    *,
    conversation: Conversation | None = None,
    customer_ref: str = "",
    channel: str = Channel.API,
    enqueue: bool = True,
) -> tuple[Message, Draft]:
    # No savepoint when nested (the API's idempotency transaction): a failure here aborts the
    # caller's transaction anyway, and a savepoint is two more round trips per message.
    with transaction.atomic(savepoint=False):
        conversation = _conversation(conversation, customer_ref, channel)
        conversation.last_message_at = timezone.now()
        if conversation._state.adding:
            conversation.save()
        else:
            conversation.save(
                update_fields=["status", "resolved_at", "last_message_at", "updated_at"]
            )
        message = Message.objects.create(
            conversation=conversation, role=MessageRole.CUSTOMER, body=body
        )
        draft = Draft.objects.create(message=message, conversation=conversation)
        AuditLog.objects.create(
            actor_type=ActorType.CUSTOMER,
            actor="customer",
            action=AuditAction.CREATED,
            conversation=conversation,
            message=message,
            draft=draft,
            after={"message_id": str(message.pk), "draft_id": str(draft.pk)},
        )
        if enqueue:
            transaction.on_commit(lambda: enqueue_message(message))
    return message, draft


def enqueue_message(message: Message) -> dict[str, Any]:
    """Sends message.created to the agent worker; returns the event."""
    from agents.actors import process_message
    from agents.events import make_event

    event = make_event(
        "message.created",
        message_id=message.pk,
        conversation_id=message.conversation_id,
        body=message.body,
    )
    process_message.send(str(message.pk), event["event_id"], event=event)
    return event
