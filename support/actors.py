"""Webhook delivery, housekeeping and the learning loop's observers. Webhook retries are
scheduled by support.webhooks (persisted in the delivery row, visible in admin), not by
Dramatiq's retry middleware, so each attempt is logged."""

from __future__ import annotations

import logging

import dramatiq
from django.conf import settings

from knowledge.actors import requeue_stranded_embeddings
from resolver.audit_actor import Actor
from resolver.periodic import run_once_per
from support import customer_data, learning, outbox, webhooks
from support import housekeeping as chores
from support.actions import decide
from support.autonomy import ladder
from support.email import imap
from support.observers import (
    LEARNING_QUEUE,
    OBSERVE_DRAFT_ACTOR,
    OBSERVE_RELABEL_ACTOR,
    OBSERVE_REPLY_ACTOR,
    REWEIGH_ACTOR,
    UPDATE_AUTONOMY_ACTOR,
)
from support.outbound import webhook as reply_webhook

logger = logging.getLogger(__name__)


@dramatiq.actor(
    actor_name=webhooks.DELIVER_ACTOR,
    queue_name=webhooks.DELIVERY_QUEUE,
    max_retries=0,
    time_limit=60_000,
)
def deliver_webhook(delivery_id: int) -> None:
    delay = webhooks.attempt(delivery_id)
    if delay is not None:
        deliver_webhook.send_with_options(
            args=(delivery_id,), delay=int(delay.total_seconds() * 1000)
        )
    reply_webhook.settle(delivery_id)  # a `reply.sent` delivery: the reply's status follows it


@dramatiq.actor(
    actor_name=decide.EXECUTE_ACTOR,
    queue_name=decide.EXECUTE_QUEUE,
    max_retries=0,
    time_limit=120_000,
)
def execute_action(action_id: str) -> None:
    """One more try at an approved action the store (ACTIONS_BACKEND=http) did not answer, or
    answered with a 5xx; the next is scheduled by support.actions.decide, with backoff."""
    delay = decide.attempt(action_id)
    if delay is not None:
        decide.queue_attempt(action_id, delay)


@dramatiq.actor(queue_name=webhooks.DELIVERY_QUEUE, max_retries=0, time_limit=120_000)
def housekeeping() -> None:
    """Sent by every worker every HOUSEKEEPING_SECONDS; runs once per interval cluster-wide."""
    if run_once_per("housekeeping", settings.HOUSEKEEPING_SECONDS):
        logger.info(
            "housekeeping: %s, expired proposals: %s", chores.run(), learning.expire_stale()
        )


@dramatiq.actor(queue_name=webhooks.DELIVERY_QUEUE, max_retries=0, time_limit=120_000)
def sweep_outbox() -> None:
    """Sent by every worker every OUTBOX_SWEEP_SECONDS; runs once per interval cluster-wide:
    agent runs, KB re-embeds and reply deliveries whose queue message a Redis outage lost are
    sent again."""
    if run_once_per("sweep_outbox", settings.OUTBOX_SWEEP_SECONDS):
        runs, embeds = outbox.sweep(), requeue_stranded_embeddings()
        replies = outbox.sweep_replies()
        if runs or embeds or replies:
            logger.info(
                "outbox: re-queued %s agent runs, %s re-embeds, %s replies", runs, embeds, replies
            )
        if actions := decide.requeue_stranded():  # approved actions whose retry was lost
            logger.info("outbox: re-queued %s approved actions", actions)


@dramatiq.actor(queue_name=webhooks.DELIVERY_QUEUE, max_retries=0, time_limit=600_000)
def poll_mailbox() -> None:
    """Sent by every worker every IMAP_POLL_SECONDS; polls the IMAP mailbox once per interval
    cluster-wide when IMAP_HOST is set (support/email/imap.py; a poll that fails is logged and
    noted on its MailboxCursor, and the next one tries again)."""
    if settings.IMAP_HOST and run_once_per("poll_mailbox", settings.IMAP_POLL_SECONDS):
        imap.poll()


@dramatiq.actor(queue_name=webhooks.DELIVERY_QUEUE, max_retries=0, time_limit=600_000)
def apply_retention() -> None:
    """Sent by every worker every RETENTION_SWEEP_SECONDS; runs once per interval cluster-wide
    when RETENTION_DAYS is set: a batch of conversations past it anonymised (the next run takes
    the next batch), old dead letters and webhook response bodies gone."""
    days = settings.RETENTION_DAYS
    if not days or not run_once_per("apply_retention", settings.RETENTION_SWEEP_SECONDS):
        return
    counts = customer_data.anonymise_expired(days, Actor.system("retention"))
    counts |= customer_data.expire_records(days)
    if counts:
        logger.info("retention (%s days): %s", days, counts)


@dramatiq.actor(actor_name=OBSERVE_DRAFT_ACTOR, queue_name=LEARNING_QUEUE, max_retries=3)
def observe_sent_draft(draft_id: str) -> None:
    """A draft an agent sent or rejected (support/learning/__init__.py:observe_draft)."""
    learning.observe_draft(draft_id)


@dramatiq.actor(actor_name=OBSERVE_REPLY_ACTOR, queue_name=LEARNING_QUEUE, max_retries=3)
def observe_agent_reply(message_id: str) -> None:
    """An agent's own message: a human answer if the question had no usable draft."""
    learning.observe_reply(message_id)


@dramatiq.actor(actor_name=OBSERVE_RELABEL_ACTOR, queue_name=LEARNING_QUEUE, max_retries=3)
def observe_relabel(draft_id: str) -> None:
    """A draft whose intent a human corrected: a triage example."""
    learning.observe_relabel(draft_id)


@dramatiq.actor(actor_name=REWEIGH_ACTOR, queue_name=LEARNING_QUEUE, max_retries=3)
def reweigh_proposals(conversation_id: str) -> None:
    """A customer rated a reply: the proposals learning from that conversation move."""
    learning.reweigh(conversation_id)


@dramatiq.actor(actor_name=UPDATE_AUTONOMY_ACTOR, queue_name=LEARNING_QUEUE, max_retries=3)
def update_autonomy(intent: str) -> None:
    """A human reviewed a draft of `intent`: its rung re-weighed on its evidence (idempotent:
    the row is locked, a redelivery finds the same evidence and changes nothing)."""
    ladder.update_for_intent(intent)


@dramatiq.actor(queue_name=LEARNING_QUEUE, max_retries=0, time_limit=300_000)
def sweep_autonomy() -> None:
    """Sent by every worker every HOUSEKEEPING_SECONDS; runs once per interval cluster-wide:
    every intent re-weighed (an update_autonomy message lost, a setting changed)."""
    if run_once_per("sweep_autonomy", settings.HOUSEKEEPING_SECONDS):
        for intent in ladder.intents_to_sweep():
            ladder.update_for_intent(intent)
