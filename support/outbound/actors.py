"""The actor that sends a reply's delivery (support/outbound/__init__.py:attempt). Retries are
scheduled here, persisted in the row (next_attempt_at, visible on the message), not by
Dramatiq's retry middleware, so each attempt is counted and a lost retry message is found by the
outbox sweep."""

from __future__ import annotations

import logging

import dramatiq
from django.conf import settings

from support import outbound
from support.outbound.deliveries import DELIVER_REPLY_ACTOR, OUTBOUND_QUEUE

logger = logging.getLogger(__name__)

# EMAIL_TIMEOUT bounds each socket operation of an SMTP conversation (connect, greeting, TLS,
# sender, recipients, data), not the whole: the time limit leaves room for all of them, so a
# slow server fails an attempt (counted, retried) before Dramatiq interrupts it.
TIME_LIMIT_MS = max(120, 8 * settings.EMAIL_TIMEOUT) * 1000


@dramatiq.actor(
    actor_name=DELIVER_REPLY_ACTOR,
    queue_name=OUTBOUND_QUEUE,
    max_retries=0,
    time_limit=TIME_LIMIT_MS,
)
def deliver_reply(message_id: str, retry: bool = False) -> None:
    """Idempotent: a delivery already sent, not due, or being sent by another worker is left
    alone. `retry` (a dead letter replayed): a failed delivery is queued again first."""
    if retry:
        again = outbound.retry(message_id)
        if again is None or again.channel not in outbound.SENDERS:
            return
    delay = outbound.attempt(message_id)
    if delay is None:
        return
    try:
        deliver_reply.send_with_options(args=(message_id,), delay=int(delay.total_seconds() * 1000))
    except Exception:
        # The row says when it is due: the outbox sweep queues it then.
        logger.exception("could not schedule the next attempt at reply %s", message_id)
