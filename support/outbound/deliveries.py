"""What happens to a reply's delivery row (support.models.ReplyDelivery), whatever its transport:
queued for the `deliver_reply` actor after commit, sent, retried with backoff, failed for good
(dead-lettered: a DeadLetter row an admin can replay), and each change told to the console."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from resolver.broker import send_to_actor
from resolver.events import EventType, make_event
from resolver.logs import scrub
from resolver.models import DeadLetter
from support.announce import broadcast
from support.models import ReplyDelivery, ReplyDeliveryStatus

logger = logging.getLogger(__name__)

# The actor that sends a queued reply (support/outbound/actors.py), named so that queueing one
# imports no actor; its queue.
DELIVER_REPLY_ACTOR = "deliver_reply"
OUTBOUND_QUEUE = "outbound"
MAX_BACKOFF = timedelta(hours=1)
ERROR_CHARS = 500
# Why a queued reply was never sent (support/personal_data.py): nothing to retry, its text and
# envelope are gone.
NOT_SENT_ERASED = "not sent: the customer's data was erased"


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """The wait after the `attempts`-th failed attempt: base * 2^(attempts-1), capped."""
    return min(timedelta(seconds=base_seconds * 2 ** (attempts - 1)), MAX_BACKOFF)


def enqueue(message_id: Any) -> None:
    """After commit: the actor sends the reply. Redis down: the row stays queued and due, and
    the outbox sweep (support/outbox.py) queues it again."""
    try:
        send_to_actor(DELIVER_REPLY_ACTOR, OUTBOUND_QUEUE, str(message_id))
    except Exception:
        logger.exception("could not queue the delivery of reply %s", message_id)


def error_text(exc: BaseException) -> str:
    # A server's refusal may name the recipient ("550 <alice@…>: no such user"): scrubbed as a
    # log line is, and erased with the customer's data (support/personal_data.py).
    return scrub(f"{type(exc).__name__}: {exc}")[:ERROR_CHARS]


def announce(delivery: ReplyDelivery, conversation_id: Any) -> None:
    """Call inside the transaction that changed the delivery: open console pages of the
    conversation show the new status after commit."""
    event = make_event(
        EventType.REPLY_DELIVERY,
        message_id=delivery.pk,
        conversation_id=conversation_id,
        status=delivery.status,
    )
    transaction.on_commit(partial(broadcast, event))


def mark_sent(delivery: ReplyDelivery, conversation_id: Any, attempts: int) -> None:
    delivery.status = ReplyDeliveryStatus.SENT
    delivery.attempts = attempts
    delivery.sent_at = timezone.now()
    delivery.last_error = ""
    delivery.save(update_fields=["status", "attempts", "sent_at", "last_error", "updated_at"])
    announce(delivery, conversation_id)


def mark_retry(
    delivery: ReplyDelivery, conversation_id: Any, attempts: int, error: str, delay: timedelta
) -> None:
    delivery.attempts = attempts
    delivery.last_error = error
    delivery.next_attempt_at = timezone.now() + delay
    delivery.save(update_fields=["attempts", "last_error", "next_attempt_at", "updated_at"])
    announce(delivery, conversation_id)


def mark_failed(delivery: ReplyDelivery, conversation_id: Any, attempts: int, error: str) -> None:
    """Failed for good: an agent sees it on the message; an admin replays the dead letter (the
    actor's `retry`), which queues the delivery again with fresh attempts."""
    delivery.status = ReplyDeliveryStatus.FAILED
    delivery.attempts = attempts
    delivery.last_error = error
    delivery.save(update_fields=["status", "attempts", "last_error", "updated_at"])
    DeadLetter.objects.create(
        actor_name=DELIVER_REPLY_ACTOR,
        queue_name=OUTBOUND_QUEUE,
        message_id="",
        args=[str(delivery.pk)],
        kwargs={"retry": True},
        error=error,
        retries=max(0, attempts - 1),
    )
    logger.warning("reply %s not delivered after %s attempts: %s", delivery.pk, attempts, error)
    announce(delivery, conversation_id)


def requeue(delivery: ReplyDelivery, conversation_id: Any) -> None:
    """A failed delivery queued again with fresh attempts (a dead letter replayed)."""
    delivery.status = ReplyDeliveryStatus.QUEUED
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at", "updated_at"])
    announce(delivery, conversation_id)
