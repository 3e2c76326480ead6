"""The outbox of agent runs: which PENDING drafts the sweep sends again (never queued, or lost
in the queue; not one a worker holds), on the real database and Redis. The outage itself:
tests/test_faults.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from resolver.models import DeadLetter
from resolver.redis_client import get_redis
from support import outbox
from support.inbound import AGENT_RUN_ACTOR, AGENT_RUN_QUEUE, receive_message
from support.models import Draft, DraftStatus

pytestmark = pytest.mark.django_db


def _pending(age: timedelta, **fields: object) -> Draft:
    _, draft = receive_message("where is my parcel?", enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(created_at=timezone.now() - age, **fields)
    draft.refresh_from_db()
    return draft


def _dead_letter(draft: Draft, **fields: object) -> DeadLetter:
    """The dead letter resolver.broker.DeadLetters writes when the agent's run of `draft`
    failed its last retry: the actor's arguments, the message id first."""
    return DeadLetter.objects.create(
        actor_name=AGENT_RUN_ACTOR,
        queue_name=AGENT_RUN_QUEUE,
        message_id="dramatiq-message-id",
        args=[str(draft.message_id), "event-id", None],
        error="RuntimeError: the model server went away",
        **fields,
    )


def test_the_sweep_sends_what_never_reached_the_queue_or_was_lost_there() -> None:
    now = timezone.now()
    never_queued = _pending(timedelta(minutes=1), enqueued_at=None)
    lost = _pending(timedelta(hours=1), enqueued_at=now - timedelta(minutes=30))
    _pending(timedelta(seconds=1), enqueued_at=None)  # its enqueue is still under way
    _pending(timedelta(minutes=1), enqueued_at=now - timedelta(seconds=50))  # queued, waiting
    _pending(timedelta(minutes=1), enqueued_at=None, run_started_at=now)  # a worker holds it
    _pending(timedelta(minutes=1), enqueued_at=None, status=DraftStatus.SUGGESTED)
    # Claimed and failed for good (dead-lettered): a human reprocesses it, not the sweep.
    dead = _pending(timedelta(hours=1), enqueued_at=now - timedelta(minutes=30), attempts=4)
    _dead_letter(dead)
    # Claimed, failed once, and its retry lost (a Redis blip as it was queued, or its dead
    # letter not written while PostgreSQL was down): nothing else would ever run it.
    retry_lost = _pending(timedelta(hours=2), enqueued_at=now - timedelta(minutes=30), attempts=1)
    # A dead letter replayed, and the replay lost in turn.
    replayed = _pending(timedelta(hours=3), enqueued_at=now - timedelta(minutes=20), attempts=4)
    _dead_letter(replayed, replayed_at=now - timedelta(minutes=20))
    assert list(outbox.stranded()) == [replayed, retry_lost, lost, never_queued]

    key = f"resolver:{AGENT_RUN_QUEUE}"
    queued_before = int(get_redis().llen(key))  # type: ignore[arg-type]
    assert outbox.sweep() == 4
    assert int(get_redis().llen(key)) == queued_before + 4  # type: ignore[arg-type]
    assert list(outbox.stranded()) == []
    never_queued.refresh_from_db()
    assert never_queued.enqueued_at is not None


def test_backlog_counts_what_waits_for_the_queue() -> None:
    assert outbox.backlog() == outbox.Backlog(0, 0.0)
    _pending(timedelta(minutes=2), enqueued_at=None)
    _pending(timedelta(seconds=10), enqueued_at=timezone.now())
    backlog = outbox.backlog()
    assert backlog.waiting_for_queue == 1
    assert 119 < backlog.oldest_pending_seconds < 130


def test_the_console_says_a_draft_waits_for_the_queue(console: Client) -> None:
    draft = _pending(timedelta(minutes=1), enqueued_at=None)
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert "Waiting for the queue" in page
    Draft.objects.filter(pk=draft.pk).update(enqueued_at=timezone.now())
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert "Waiting for the queue" not in page and "The assistant is drafting" in page
