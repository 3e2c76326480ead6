"""Draft events to the console's channel-layer group, validated against the event schema.
Called from transaction.on_commit only: nobody hears of a draft that could still roll back."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from agents.events import make_event
from support.consumers import CONSOLE_GROUP
from support.models import Draft, DraftStatus

logger = logging.getLogger(__name__)

EVENT_TYPES = {
    DraftStatus.SUGGESTED: "draft.ready",
    DraftStatus.ESCALATED: "draft.escalated",
    DraftStatus.SENT: "draft.sent",
    DraftStatus.REJECTED: "draft.rejected",
}


def draft_event(draft: Draft) -> dict[str, Any] | None:
    event_type = EVENT_TYPES.get(DraftStatus(draft.status))
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
    return make_event(event_type, trace_id=draft.trace_id or None, **payload)


def publish_draft(draft_id: Any) -> dict[str, Any] | None:
    """Broadcasts the draft's current state; returns the event (None if nothing to say)."""
    draft = Draft.objects.filter(pk=draft_id).first()
    event = draft_event(draft) if draft else None
    if event is None:
        return None
    layer = get_channel_layer()
    if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
        return event
    async_to_sync(layer.group_send)(CONSOLE_GROUP, {"type": "console.event", "payload": event})
    logger.info("published %s for draft %s", event["type"], draft_id)
    return event
