"""The API channel's transport: the `reply.sent` event ({conversation_id, message_id, draft_id,
channel, body}) to every webhook endpoint subscribed to it, through the webhook outbox
(support/announce.py records the deliveries in the reply's transaction; support/webhooks.py signs,
posts, retries; housekeeping re-queues a lost one).

The event's id is the reply's message id: an event made twice for one reply would be the same
(endpoint, event_id) delivery, which the table refuses, so it fires once per reply whatever
happens later. The reply's ReplyDelivery follows its webhook deliveries (`settle`, after each
attempt): sent once every endpoint has it, failed once one gave up and none is still trying."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from django.db import transaction
from django.db.models import Max

from resolver.events import EventType, make_event
from support.announce import queue_deliveries, record_deliveries
from support.models import (
    Conversation,
    DeliveryStatus,
    Message,
    ReplyDelivery,
    ReplyDeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
)
from support.outbound.deliveries import announce, mark_failed, requeue
from support.webhooks import replay


def reply_event(message: Message, conversation: Conversation) -> dict[str, Any]:
    return make_event(
        EventType.REPLY_SENT,
        event_id=str(message.pk),
        trace_id=message.trace_id or None,
        conversation_id=conversation.pk,
        message_id=message.pk,
        draft_id=(message.metadata or {}).get("draft_id"),
        channel=conversation.channel,
        body=message.body,
    )


def queue(message: Message, conversation: Conversation) -> ReplyDelivery | None:
    """Call inside the transaction that creates the AGENT message. None when no endpoint
    subscribes to `reply.sent`: nothing delivers the reply (the integration reads it with GET
    /conversations/{id})."""
    delivery_ids = record_deliveries(reply_event(message, conversation))
    if not delivery_ids:
        return None
    delivery = ReplyDelivery.objects.create(message=message, channel=conversation.channel)
    transaction.on_commit(partial(queue_deliveries, delivery_ids))
    return delivery


def _hooks(message_id: Any) -> Any:
    return WebhookDelivery.objects.filter(event_type=EventType.REPLY_SENT, event_id=str(message_id))


def _last_error(hooks: list[WebhookDelivery]) -> str:
    attempt = (
        WebhookAttempt.objects.filter(delivery__in=hooks)
        .exclude(status_code__gte=200, status_code__lt=300)
        .order_by("-created_at", "-id")
        .first()
    )
    if attempt is None:
        return ""
    return attempt.error or f"HTTP {attempt.status_code}"


def settle(webhook_delivery_id: int) -> None:
    """After an attempt at a webhook delivery: if it carries a reply, the reply's delivery
    status follows its webhook deliveries (and a change is announced)."""
    event_id = (
        WebhookDelivery.objects.filter(pk=webhook_delivery_id, event_type=EventType.REPLY_SENT)
        .values_list("event_id", flat=True)
        .first()
    )
    if event_id is None:
        return
    with transaction.atomic():
        delivery = (
            ReplyDelivery.objects.select_for_update()
            .select_related("message")
            .filter(pk=uuid.UUID(event_id))
            .first()
        )
        if delivery is None:
            return
        hooks = list(_hooks(event_id))
        statuses = {hook.status for hook in hooks}
        attempts = max(hook.attempts for hook in hooks)
        conversation_id = delivery.message.conversation_id
        if statuses == {DeliveryStatus.DELIVERED}:
            if delivery.status != ReplyDeliveryStatus.SENT:
                delivery.status = ReplyDeliveryStatus.SENT
                delivery.sent_at = _hooks(event_id).aggregate(at=Max("delivered_at"))["at"]
                delivery.attempts, delivery.last_error = attempts, ""
                delivery.save(
                    update_fields=["status", "sent_at", "attempts", "last_error", "updated_at"]
                )
                announce(delivery, conversation_id)
        elif DeliveryStatus.PENDING not in statuses:
            if delivery.status != ReplyDeliveryStatus.FAILED:
                mark_failed(delivery, conversation_id, attempts, _last_error(hooks))
        elif (attempts, error := _last_error(hooks), ReplyDeliveryStatus.QUEUED) != (
            delivery.attempts,
            delivery.last_error,
            delivery.status,
        ):
            # A webhook delivery still pending: the reply is queued (again, when one of its
            # failed deliveries was replayed from the webhook admin).
            delivery.attempts, delivery.last_error = attempts, error
            delivery.status = ReplyDeliveryStatus.QUEUED
            delivery.save(update_fields=["status", "attempts", "last_error", "updated_at"])
            announce(delivery, conversation_id)


def retry(delivery: ReplyDelivery, conversation_id: Any) -> bool:
    """A failed reply's webhook deliveries made due again (same event id: receivers dedupe),
    queued after commit; False (the reply stays failed) when none is left to replay (an
    endpoint removed, an erasure)."""
    ids = replay(_hooks(delivery.pk).filter(status=DeliveryStatus.FAILED))
    if not ids:
        return False
    requeue(delivery, conversation_id)
    transaction.on_commit(partial(queue_deliveries, ids))
    return True
