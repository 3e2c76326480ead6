"""The platform's periodic actor and the actors other code sends messages to by name."""

from __future__ import annotations

import importlib
import time
import uuid
from datetime import timedelta
from typing import Any

import dramatiq
import redis
from django.conf import settings
from django.utils import timezone

from resolver.actors import forget_idempotency_keys
from resolver.broker import PERIODIC_ACTORS
from resolver.models import IdempotencyRecord
from resolver.periodic import LOCK_PREFIX
from support.inbound import AGENT_RUN_ACTOR, AGENT_RUN_QUEUE
from support.observers import (
    LEARNING_QUEUE,
    OBSERVE_DRAFT_ACTOR,
    OBSERVE_RELABEL_ACTOR,
    OBSERVE_REPLY_ACTOR,
    REWEIGH_ACTOR,
)
from support.webhooks import DELIVER_ACTOR, DELIVERY_QUEUE


def _record(key: str, age: timedelta) -> None:
    IdempotencyRecord.objects.create(
        owner="key:1", key=key, request_hash="", response={}, status_code=202
    )
    IdempotencyRecord.objects.filter(key=key).update(created_at=timezone.now() - age)


def test_idempotency_records_past_retention_are_forgotten_once_per_interval(
    db: None, redis_client: redis.Redis
) -> None:
    redis_client.delete(f"{LOCK_PREFIX}forget_idempotency_keys")
    _record("old", timedelta(days=8))
    _record("recent", timedelta(days=6))
    forget_idempotency_keys()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    # Another worker's tick within the interval does nothing (the Redis lock is held).
    _record("old-2", timedelta(days=9))
    forget_idempotency_keys()
    assert IdempotencyRecord.objects.filter(key="old-2").exists()


def _actors() -> dict[str, dramatiq.Actor]:
    return {
        value.actor_name: value
        for name in settings.DRAMATIQ_ACTOR_MODULES
        for value in vars(importlib.import_module(name)).values()
        if isinstance(value, dramatiq.Actor)
    }


def test_actors_sent_to_by_name_exist_on_the_queue_named() -> None:
    actors = _actors()
    named = [
        (AGENT_RUN_ACTOR, AGENT_RUN_QUEUE),
        (DELIVER_ACTOR, DELIVERY_QUEUE),
        (OBSERVE_DRAFT_ACTOR, LEARNING_QUEUE),
        (OBSERVE_REPLY_ACTOR, LEARNING_QUEUE),
        (OBSERVE_RELABEL_ACTOR, LEARNING_QUEUE),
        (REWEIGH_ACTOR, LEARNING_QUEUE),
    ]
    for name, queue in named:
        assert actors[name].queue_name == queue
    assert set(PERIODIC_ACTORS) <= actors.keys()


def test_periodic_sends_each_actor_at_its_own_interval() -> None:
    """The outbox sweep runs more often than housekeeping: one loop, an interval per actor."""
    from resolver.periodic import Periodic

    sent: list[str] = []

    class Broker:
        def get_actor(self, name: str) -> object:
            return type("A", (), {"send": staticmethod(lambda: sent.append(name))})()

    names = {f"often-{uuid.uuid4().hex}": 1, f"rarely-{uuid.uuid4().hex}": 2}
    often, rarely = names
    periodic = Periodic(names)
    periodic.after_worker_boot(Broker(), None)
    time.sleep(4.5)
    periodic.before_worker_shutdown(Broker(), None)
    assert sent.count(often) == 4 and sent.count(rarely) == 2


def test_a_job_runs_although_its_workers_restart_more_often_than_its_interval() -> None:
    """Counted from a process's boot, a job due every 2 s never came due in workers that live
    1.5 s each (an hourly retention sweep in a fleet deployed every 50 minutes)."""
    from resolver.periodic import Periodic

    sent: list[str] = []

    class Broker:
        def get_actor(self, name: str) -> object:
            return type("A", (), {"send": staticmethod(lambda: sent.append(name))})()

    names = {f"often-{uuid.uuid4().hex}": 1, f"rarely-{uuid.uuid4().hex}": 2}
    rarely = list(names)[1]
    for _ in range(4):  # four workers in turn, none alive for a whole interval
        periodic = Periodic(names)
        periodic.after_worker_boot(Broker(), None)
        time.sleep(1.5)
        periodic.before_worker_shutdown(Broker(), None)
    # Sends are at least the interval less half a tick apart (1.5 s here): 2 to 4 in 6 s.
    assert 2 <= sent.count(rarely) <= 4


def test_a_dead_letter_keeps_no_personal_data(db: None) -> None:
    """An exception's message and traceback may quote a customer: the row admins read passes the
    recognisers (ids, the actor and the exception type stay)."""
    import dramatiq
    from dramatiq.broker import MessageProxy

    from resolver.broker import DeadLetters
    from resolver.models import DeadLetter

    trace = 'Traceback (most recent call last):\nValueError: "mail ana.lopez@example.org"'
    message = MessageProxy(
        dramatiq.Message(
            queue_name="drafts",
            actor_name="process_message",
            args=("d-1",),
            kwargs={},
            options={"traceback": trace, "retries": 3},
        )
    )
    message.fail()
    error = ValueError("card 4111 1111 1111 1111 for ana.lopez@example.org")
    DeadLetters().after_process_message(None, message, exception=error)

    letter = DeadLetter.objects.get()
    assert letter.error == "ValueError: card [CARD_1] for [EMAIL_1]"
    assert "ana.lopez" not in letter.traceback and "[EMAIL_1]" in letter.traceback
    assert (letter.args, letter.retries) == (["d-1"], 2)


def test_a_run_that_failed_for_good_escalates_its_draft(db: None) -> None:
    """A dead-lettered run left its draft PENDING, shown as "The assistant is drafting a
    reply…" for ever: it is escalated run_failed, so a person answers it (or reprocesses)."""
    from resolver.broker import DeadLetters
    from support.models import AuditLog, Conversation, Draft, DraftStatus

    message, draft, failed = _dead_lettered_run("reset my password please")

    draft = Draft.objects.get(pk=draft.pk)
    assert (draft.status, draft.escalation_reason) == (DraftStatus.ESCALATED, "run_failed")
    assert "ConnectionError" in draft.suggested_action
    assert Conversation.objects.get(pk=draft.conversation_id).status == "ESCALATED"
    assert AuditLog.objects.filter(draft=draft, action="escalated").exists()
    # Another letter for the same message (a replay that failed again) changes nothing.
    DeadLetters().after_process_message(None, failed, exception=ConnectionError("refused"))
    assert Draft.objects.filter(message=message).count() == 1


def test_a_failed_run_does_not_escalate_a_draft_another_run_holds(db: None) -> None:
    """A retry or a reprocess that claimed the draft meanwhile records its own outcome."""
    from django.utils import timezone

    from support.agent_runs import escalate_failed_run
    from support.inbound import receive_message
    from support.models import Draft, DraftStatus

    message, draft = receive_message("reset my password please", enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(run_started_at=timezone.now(), run_by="w-2")
    assert escalate_failed_run(message.pk, "ConnectionError") is None
    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.PENDING


def _dead_lettered_run(body: str) -> tuple[Any, Any, Any]:
    """A stored message whose run failed for good: its dead letter written, its draft escalated
    run_failed (resolver/broker.py:DeadLetters)."""
    import dramatiq
    from dramatiq.broker import MessageProxy

    from resolver.broker import DeadLetters
    from support.inbound import receive_message

    message, draft = receive_message(body, enqueue=False)
    failed = MessageProxy(
        dramatiq.Message(
            queue_name="drafts",
            actor_name="process_message",
            args=(str(message.pk), "event-1"),
            kwargs={},
            options={"retries": 4},
        )
    )
    failed.fail()
    DeadLetters().after_process_message(None, failed, exception=ConnectionError("refused"))
    return message, draft, failed


def test_admin_replay_of_a_failed_run_reprocesses_its_message(
    admin_client: Any, admin_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """Sent again as it was, the run found no PENDING draft (the failure escalated it) and did
    nothing: admin's Replay said "Replayed 1" and the customer still had no draft."""
    from resolver.models import DeadLetter
    from support.models import AuditLog, Draft, DraftStatus

    message, failed_draft, _ = _dead_lettered_run("reset my password please")
    letter = DeadLetter.objects.get(actor_name="process_message")
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(
            "/admin/resolver/deadletter/",
            {"action": "replay", "_selected_action": [letter.pk]},
            follow=True,
        )
    assert "Replayed 1 message(s)." in response.content.decode()
    fresh = Draft.objects.get(message=message, status=DraftStatus.PENDING)
    assert Draft.objects.get(pk=failed_draft.pk).status != DraftStatus.ESCALATED  # superseded
    reprocessed = AuditLog.objects.get(draft=fresh, action="reprocessed")
    assert reprocessed.user_id == admin_user.pk
    assert DeadLetter.objects.get(pk=letter.pk).replayed_at is not None


def test_admin_replay_leaves_a_message_a_person_answered(admin_client: Any) -> None:
    from resolver.models import DeadLetter
    from support.models import Draft, DraftStatus

    message, failed_draft, _ = _dead_lettered_run("where is my parcel")
    Draft.objects.filter(pk=failed_draft.pk).update(status=DraftStatus.SENT)
    letter = DeadLetter.objects.get(actor_name="process_message")
    response = admin_client.post(
        "/admin/resolver/deadletter/",
        {"action": "replay", "_selected_action": [letter.pk]},
        follow=True,
    )
    assert "Replayed 0 message(s), 1 with nothing left to replay." in response.content.decode()
    assert list(Draft.objects.filter(message=message).values_list("status", flat=True)) == [
        DraftStatus.SENT
    ]
