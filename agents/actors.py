"""The agent worker: message.created → graph → draft row."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from agents.events import InvalidEvent, validate_event
from agents.models import ProcessedEvent
from agents.persistence import AlreadyProcessed
from agents.runner import claim_draft, release_draft, run_for_draft

logger = logging.getLogger(__name__)

QUEUE = "drafts"


@dramatiq.actor(
    queue_name=QUEUE,
    max_retries=3,
    min_backoff=500,
    max_backoff=10_000,
    time_limit=60_000,
    # A malformed event cannot get better by retrying: straight to the dead letters.
    throws=(InvalidEvent,),
)
def process_message(message_id: str, event_id: str, event: dict[str, Any] | None = None) -> None:
    """Idempotent: a redelivered event (same event_id) or a draft already handled is a no-op.
    Errors propagate so Dramatiq retries with backoff; after the last retry the message is
    recorded as a DeadLetter (resolver.broker.DeadLetters) and the draft stays PENDING."""
    if event is not None:
        event = validate_event(event)
        if event["type"] != "message.created" or event["event_id"] != event_id:
            raise InvalidEvent(f"expected message.created {event_id}, got {event['type']}")
    if ProcessedEvent.objects.filter(event_id=event_id).exists():
        logger.info("event %s already processed", event_id)
        return
    draft = claim_draft(message_id)
    if draft is None:
        logger.info("message %s: no PENDING draft to claim", message_id)
        return
    try:
        run_for_draft(draft, event_id, trace_id=(event or {}).get("trace_id", ""))
    except AlreadyProcessed as exc:
        logger.info("message %s: %s", message_id, exc)
    except BaseException:
        release_draft(draft)
        raise
