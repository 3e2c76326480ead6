"""The outbox of agent runs: a PENDING draft is written in the same transaction as the customer's
message, so it is the record that a run is owed. The run request goes to the queue after commit;
when that fails (Redis down) or the queued message is lost, the sweep (the `sweep_outbox`
periodic actor) sends it again. A worker claims a draft before running it (agents/runner.py), so
a request sent twice still drafts once.

Replies are owed the same way: a queued ReplyDelivery is written with its AGENT message, and one
due for a while (its enqueue after commit failed, or its delayed retry message was lost) is sent
to the `deliver_reply` actor again (`sweep_replies`); the actor locks the row and skips one that
is sent, so a reply queued twice is sent once."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Min, OuterRef, Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from resolver.models import DeadLetter
from support.inbound import AGENT_RUN_ACTOR, enqueue_message
from support.models import Draft, DraftStatus, Message, ReplyDelivery
from support.models.draft import DRAFT_CLAIM_LEASE
from support.outbound import SENDERS
from support.outbound.deliveries import enqueue

logger = logging.getLogger(__name__)

# Commit and the send after it take milliseconds; a draft this old without `enqueued_at` was not
# queued.
ENQUEUE_GRACE = timedelta(seconds=5)
# Queued this long ago and still unclaimed: the queue lost the message (a Redis without
# persistence restarted, a flushed database). A long backlog gets some runs queued twice, which
# the claim makes harmless.
LOST_AFTER = timedelta(minutes=15)
# Runs sent per sweep: a sweep after a long outage stays short; the next sweep sends the rest.
SWEEP_LIMIT = 1000


def _unclaimed(now: datetime) -> Q:
    return Q(run_started_at__isnull=True) | Q(run_started_at__lt=now - DRAFT_CLAIM_LEASE)


def _dead_lettered() -> Exists:
    """The draft's run failed for good: a dead letter of the agent's actor for its message
    (the actor's first argument), not replayed. A human's Reprocess or replay decides about
    it; the sweep does not re-run it every LOST_AFTER."""
    letters = DeadLetter.objects.filter(
        actor_name=AGENT_RUN_ACTOR, replayed_at__isnull=True
    ).annotate(message_ref=KeyTextTransform("0", "args"))
    return Exists(letters.filter(message_ref=Cast(OuterRef("message_id"), TextField())))


def stranded() -> QuerySet[Draft]:
    """PENDING drafts no worker holds whose run request never reached the queue, or was lost
    there (the first request, or a retry's: a failed run's retry lost in a Redis blip, or a
    dead letter that could not be written while PostgreSQL was down, leaves no other trace);
    not one that failed for good (dead-lettered); oldest first."""
    now = timezone.now()
    never_queued = Q(enqueued_at__isnull=True, created_at__lt=now - ENQUEUE_GRACE)
    lost = Q(enqueued_at__lt=now - LOST_AFTER) & ~Q(_dead_lettered())
    return (
        Draft.objects.filter(status=DraftStatus.PENDING)
        .filter(_unclaimed(now))
        .filter(never_queued | lost)
        .order_by("created_at")
    )


def sweep() -> int:
    """Sends the run of each stranded draft again; returns how many were sent. Raises when
    Redis is down (the next sweep tries again)."""
    drafts = dict(stranded().values_list("message_id", "pk")[:SWEEP_LIMIT])
    for message in Message.objects.filter(pk__in=list(drafts)).order_by("created_at"):
        enqueue_message(message, drafts[message.pk])
    if drafts:
        logger.info("outbox: queued %s stranded agent runs", len(drafts))
    return len(drafts)


# A reply due this long and still queued lost its queue message (a healthy one is taken within
# seconds of being due); the sweep moves its time to now, so it is queued again at most once
# per this while a backlog drains.
REPLY_LOST_AFTER = timedelta(minutes=1)


def sweep_replies() -> int:
    """Queues each reply delivery due for longer than REPLY_LOST_AFTER again; returns how many.
    Rows a worker is sending (locked) are skipped. Raises when Redis is down."""
    with transaction.atomic():
        ids = list(
            ReplyDelivery.objects.due()
            .filter(
                channel__in=list(SENDERS),
                next_attempt_at__lt=timezone.now() - REPLY_LOST_AFTER,
            )
            .select_for_update(skip_locked=True)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:SWEEP_LIMIT]
        )
        ReplyDelivery.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
    for message_id in ids:
        enqueue(message_id)
    if ids:
        logger.info("outbox: queued %s stranded reply deliveries", len(ids))
    return len(ids)


@dataclass(frozen=True)
class Backlog:
    waiting_for_queue: int  # accepted, run not queued yet (Redis down at commit)
    oldest_pending_seconds: float  # the oldest PENDING draft no worker holds; 0 when none


def backlog() -> Backlog:
    now = timezone.now()
    pending = Draft.objects.filter(status=DraftStatus.PENDING)
    oldest = pending.filter(_unclaimed(now)).aggregate(oldest=Min("created_at"))["oldest"]
    return Backlog(
        waiting_for_queue=pending.filter(enqueued_at__isnull=True).count(),
        oldest_pending_seconds=(now - oldest).total_seconds() if oldest else 0.0,
    )


def health() -> dict[str, object]:
    """The /healthz entry "outbox": failing when runs pile up unqueued or the oldest waits too
    long (settings HEALTH_OUTBOX_MAX_WAITING, HEALTH_MAX_PENDING_AGE_SECONDS)."""
    now = backlog()
    problems = []
    if now.waiting_for_queue > settings.HEALTH_OUTBOX_MAX_WAITING:
        problems.append(f"{now.waiting_for_queue} accepted messages not queued")
    if now.oldest_pending_seconds > settings.HEALTH_MAX_PENDING_AGE_SECONDS:
        problems.append(f"the oldest pending draft waits {now.oldest_pending_seconds:.0f} s")
    result: dict[str, object] = {
        "ok": not problems,
        "waiting_for_queue": now.waiting_for_queue,
        "oldest_pending_seconds": round(now.oldest_pending_seconds, 1),
    }
    if problems:
        result["error"] = "; ".join(problems)
    return result
