"""Telling the world a draft changed: the console (channel-layer group) and webhook endpoints.

`announce_draft` is called inside the transaction that changed the draft. It writes the webhook
deliveries there (an outbox: they commit or roll back with the change) and, after commit only,
broadcasts the event and queues the deliveries. Nobody hears of a draft that could still roll
back, and an event is not lost when Redis is briefly down (the delivery rows stay PENDING and
housekeeping queues them again)."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction

from resolver.broker import send_to_actor
from resolver.channel_send import group_send
from resolver.events import EventType, make_event
from support.consumers import CONSOLE_GROUP, widget_group
from support.models import Draft, DraftStatus, Message, WebhookDelivery, WebhookEndpoint
from support.webhooks import DELIVER_ACTOR, DELIVERY_QUEUE

logger = logging.getLogger(__name__)

# The event a draft's status is announced with (none while PENDING).
EVENT_TYPES = {
    DraftStatus.SUGGESTED: EventType.DRAFT_READY,
    DraftStatus.ESCALATED: EventType.DRAFT_ESCALATED,
    DraftStatus.SENT: EventType.DRAFT_SENT,
    DraftStatus.REJECTED: EventType.DRAFT_REJECTED,
}


def draft_event(draft: Draft, closed: str = "") -> dict[str, Any] | None:
    """The event for the draft's current status (None while PENDING), schema-validated;
    `closed` (a CloseReason): the system closed it unanswered, `draft.closed` with the reason,
    where a human's rejection is `draft.rejected`."""
    event_type = EventType.DRAFT_CLOSED if closed else EVENT_TYPES.get(DraftStatus(draft.status))
    if event_type is None:
        return None
    payload: dict[str, Any] = {
        "draft_id": draft.pk,
        "message_id": draft.message_id,
        "conversation_id": draft.conversation_id,
        "status": draft.status,
    }
    if draft.status == DraftStatus.ESCALATED:
        payload["reason"] = draft.escalation_reason or None
    if closed:
        payload["reason"] = closed
    return make_event(event_type, trace_id=draft.trace_id or None, **payload)


def record_deliveries(event: dict[str, Any]) -> list[int]:
    endpoints = WebhookEndpoint.objects.subscribed_to(event["type"])
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            endpoint=endpoint, event_id=event["event_id"], event_type=event["type"], payload=event
        )
        for endpoint in endpoints
    )
    return [delivery.pk for delivery in deliveries]


def announce_draft(
    draft: Draft, *, closed: str = "", to_webhooks: bool = True
) -> dict[str, Any] | None:
    """Call inside the transaction that changed `draft`; returns the event (None if PENDING).
    `to_webhooks=False`: a change of something else than the status (a re-label), which open
    console pages show but webhook endpoints, told of the status once, must not hear again."""
    event = draft_event(draft, closed)
    if event is None:
        return None
    delivery_ids = record_deliveries(event) if to_webhooks else []
    transaction.on_commit(partial(broadcast, event))
    if delivery_ids:
        transaction.on_commit(partial(queue_deliveries, delivery_ids))
    return event


def _group_send(group: str, message: dict[str, Any]) -> bool:
    """Sends on the channel layer; False (logged) if Redis refused. Callers run after commit:
    the change stands, and pages catch up on their next (re)connect or load. One event loop
    and Redis connection per process (resolver/channel_send.py), not one per broadcast."""
    try:
        group_send(group, message)
    except Exception:
        logger.exception("could not send %s to %s", message["payload"]["type"], group)
        return False
    return True


def broadcast(event: dict[str, Any]) -> None:
    if _group_send(CONSOLE_GROUP, {"type": "console.event", "payload": event}):
        logger.info("broadcast %s for %s", event["type"], event_subject(event))


def event_subject(event: dict[str, Any]) -> str:
    """What an event is about, for a log line: its draft, else its message (message.created
    names no draft)."""
    if event.get("draft_id") is not None:
        return f"draft {event['draft_id']}"
    return f"message {event.get('message_id')}"


def announce_reply(message: Message) -> None:
    """Call inside the transaction that created an AGENT message: the customer's widget gets it
    after commit."""
    payload = {"type": "message", "message": message.as_widget_json()}
    transaction.on_commit(partial(tell_widget, message.conversation_id, payload))


def tell_widget(conversation_id: Any, payload: dict[str, Any]) -> None:
    _group_send(widget_group(conversation_id), {"type": "widget.event", "payload": payload})


def queue_deliveries(delivery_ids: list[int]) -> None:
    for delivery_id in delivery_ids:
        try:
            send_to_actor(DELIVER_ACTOR, DELIVERY_QUEUE, delivery_id)
        except Exception:
            # The row stays PENDING: the `housekeeping` actor queues it again.
            logger.exception("could not queue webhook delivery %s", delivery_id)
