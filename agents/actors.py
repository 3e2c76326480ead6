"""The agent worker: message.created → graph → draft row."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq

from agents.memory import summarise
from agents.runner import run_for_draft
from resolver.events import EventType, InvalidEvent, validate_event
from resolver.heartbeat import worker_id
from resolver.logs import log_context
from resolver.models import ProcessedEvent
from support.agent_runs import AlreadyRecorded, DraftClaimed, claim_draft, release_draft
from support.inbound import AGENT_RUN_ACTOR, AGENT_RUN_QUEUE
from support.memory import SUMMARISE_ACTOR, SUMMARISE_QUEUE, write_summary
from support.models.draft import AGENT_RUN_TIME_LIMIT

logger = logging.getLogger(__name__)


@dramatiq.actor(
    actor_name=AGENT_RUN_ACTOR,
    queue_name=AGENT_RUN_QUEUE,
    max_retries=3,
    min_backoff=500,
    max_backoff=10_000,
    time_limit=int(AGENT_RUN_TIME_LIMIT.total_seconds() * 1000),
    # A malformed event cannot get better by retrying: straight to the dead letters.
    throws=(InvalidEvent,),
)
def process_message(message_id: str, event_id: str, event: dict[str, Any] | None = None) -> None:
    """Idempotent: a redelivered event (same event_id) or a draft already handled is a no-op.
    Errors propagate so Dramatiq retries with backoff; after the last retry the message is
    recorded as a DeadLetter (resolver.broker.DeadLetters) and the draft stays PENDING."""
    if event is not None:
        event = validate_event(event)
        if event["type"] != EventType.MESSAGE_CREATED or event["event_id"] != event_id:
            raise InvalidEvent(f"expected message.created {event_id}, got {event['type']}")
    if ProcessedEvent.objects.filter(event_id=event_id).exists():
        logger.info("event %s already processed", event_id)
        return
    try:
        draft = claim_draft(message_id, holder=worker_id())
    except DraftClaimed as busy:
        # A redelivery (say, of a message whose worker was SIGKILLed mid-run): look again once
        # the claim is free, instead of acknowledging a message that was never drafted.
        logger.info("message %s: %s; looking again then", message_id, busy)
        delay = int(busy.retry_in.total_seconds() * 1000)
        process_message.send_with_options(args=(message_id, event_id, event), delay=delay)
        return
    if draft is None:
        logger.info("message %s: no PENDING draft to claim", message_id)
        return
    try:
        with log_context(
            message_id=message_id, draft_id=draft.pk, conversation_id=draft.conversation_id
        ):
            run_for_draft(draft, event_id, trace_id=(event or {}).get("trace_id", ""))
    except AlreadyRecorded as exc:
        logger.info("message %s: %s", message_id, exc)
    except BaseException:
        release_draft(draft)
        raise


@dramatiq.actor(actor_name=SUMMARISE_ACTOR, queue_name=SUMMARISE_QUEUE, max_retries=3)
def summarise_conversation(conversation_id: str) -> None:
    """A conversation was resolved (support/review.py:resolve): its summary, for later drafts
    for the same verified customer (support/memory.py). Idempotent: it writes the summary of
    the conversation as it is, and nothing once it was reopened, anonymised or erased."""
    summary = summarise(conversation_id)
    if not summary or not write_summary(conversation_id, summary):
        logger.info(
            "conversation %s: not resolved any more, or erased: no summary", conversation_id
        )
