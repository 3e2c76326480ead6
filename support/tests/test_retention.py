"""Retention (#18): with RETENTION_DAYS set, conversations resolved or idle longer than that are
anonymised by the periodic actor, dead letters and webhook response bodies expire; recent ones and
the customer's account stay."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from resolver.audit_actor import Actor
from resolver.models import DeadLetter
from resolver.periodic import LOCK_PREFIX
from resolver.redis_client import get_redis
from support import customer_data, review
from support.actors import apply_retention
from support.inbound import receive_message
from support.models import (
    AuditAction,
    AuditLog,
    Conversation,
    Customer,
    Draft,
    Message,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.tests.conftest import MakeDraft
from support.vocabulary import TaskCreator
from tests.helpers import second_connection

LONG_AGO = timezone.now() - timedelta(days=40)


def _age(draft: Draft, **fields: object) -> None:
    Conversation.objects.filter(pk=draft.conversation_id).update(updated_at=LONG_AGO, **fields)


def test_old_conversations_are_anonymised_recent_ones_kept(make_draft: MakeDraft) -> None:
    Customer.objects.create(ref="cust-old", name="Olga Oldham")
    idle = make_draft("my e-mail is olga@example.org, where is it?", customer_ref="cust-old")
    resolved = make_draft("resolved long ago", customer_ref="cust-r")
    review.resolve(resolved.conversation_id, Actor.agent())
    recent = make_draft("asked yesterday", customer_ref="cust-new")
    recently_resolved = make_draft("resolved today", customer_ref="cust-today")
    review.resolve(recently_resolved.conversation_id, Actor.agent())
    _age(idle)
    _age(resolved, resolved_at=LONG_AGO)
    # Resolved today but created long ago: its resolution is what counts.
    Conversation.objects.filter(pk=recently_resolved.conversation_id).update(created_at=LONG_AGO)

    counts = customer_data.anonymise_expired(30, Actor.system("retention"))

    assert counts["support.Conversation"] == 2
    for draft in (idle, resolved):
        conversation = Conversation.objects.get(pk=draft.conversation_id)
        assert conversation.anonymised_at is not None and conversation.customer_ref == ""
        assert Message.objects.get(pk=draft.message_id).body == "[erased]"
        assert AuditLog.objects.filter(
            conversation=conversation, action=AuditAction.ANONYMISED, actor="system:retention"
        ).exists()
    for draft in (recent, recently_resolved):
        assert Message.objects.get(pk=draft.message_id).body != "[erased]"
        assert Conversation.objects.get(pk=draft.conversation_id).anonymised_at is None
    # The customer's account is theirs to erase (do_erase), not retention's.
    assert Customer.objects.filter(ref="cust-old").exists()
    assert customer_data.anonymise_expired(30, Actor.system("retention")) == {}


def test_a_new_message_in_an_anonymised_conversation_expires_too(make_draft: MakeDraft) -> None:
    old = make_draft("first words", customer_ref="cust-back")
    _age(old)
    customer_data.anonymise_expired(30, Actor.system("retention"))
    conversation = Conversation.objects.get(pk=old.conversation_id)
    later, _ = receive_message("back again", conversation=conversation, enqueue=False)
    # Anonymised 50 days ago, written to again 35 days ago, idle since.
    Conversation.objects.filter(pk=conversation.pk).update(
        anonymised_at=timezone.now() - timedelta(days=50),
        last_message_at=timezone.now() - timedelta(days=35),
        updated_at=LONG_AGO,
    )

    customer_data.anonymise_expired(30, Actor.system("retention"))

    assert Message.objects.get(pk=later.pk).body == "[erased]"


def test_a_conversation_with_an_open_follow_up_task_waits_for_it(make_draft: MakeDraft) -> None:
    from support import tasks

    draft = make_draft("call me back next month", customer_ref="cust-task")
    review.resolve(draft.conversation_id, Actor.agent())
    task = tasks.create_task(
        draft.conversation_id,
        "Call back about the warranty",
        created_by=TaskCreator.AGENT,
        actor=Actor.agent(),
    )
    _age(draft, resolved_at=LONG_AGO)

    assert customer_data.anonymise_expired(30, Actor.system("retention")) == {}
    assert Conversation.objects.get(pk=draft.conversation_id).anonymised_at is None

    tasks.complete_task(task.pk, Actor.agent())
    _age(draft)  # completing the task was activity; say it was long ago too
    counts = customer_data.anonymise_expired(30, Actor.system("retention"))
    assert counts["support.Conversation"] == 1 and counts["support.Task"] == 1


def test_dead_letters_and_webhook_bodies_expire(make_draft: MakeDraft) -> None:
    WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    draft = make_draft("hello")
    review.approve(draft.pk, Actor.agent())
    delivery = WebhookDelivery.objects.get(event_type="draft.sent")
    old = WebhookAttempt.objects.create(
        delivery=delivery, number=1, latency_ms=3, status_code=500, response_snippet="echo: hi"
    )
    new = WebhookAttempt.objects.create(
        delivery=delivery, number=2, latency_ms=3, status_code=500, response_snippet="echo: hi"
    )
    WebhookAttempt.objects.filter(pk=old.pk).update(created_at=LONG_AGO)
    letters = [
        DeadLetter.objects.create(actor_name="a", queue_name="q", message_id=str(n))
        for n in range(2)
    ]
    DeadLetter.objects.filter(pk=letters[0].pk).update(created_at=LONG_AGO)

    counts = customer_data.expire_records(30)

    assert counts == {"resolver.DeadLetter": 1, "support.WebhookAttempt": 1}
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.response_snippet, old.status_code) == ("", 500)
    assert new.response_snippet == "echo: hi"
    assert list(DeadLetter.objects.values_list("pk", flat=True)) == [letters[1].pk]


@pytest.mark.parametrize("days", [0, 30])
def test_the_periodic_actor_runs_only_when_retention_is_set(
    make_draft: MakeDraft, days: int
) -> None:
    draft = make_draft("old words")
    _age(draft)
    get_redis().delete(f"{LOCK_PREFIX}apply_retention")

    with override_settings(RETENTION_DAYS=days):
        apply_retention()

    erased = Message.objects.get(pk=draft.message_id).body == "[erased]"
    assert erased is bool(days)


@pytest.mark.django_db(transaction=True)
def test_retention_leaves_a_conversation_whose_draft_is_being_approved(
    make_draft: MakeDraft,
) -> None:
    """An approval holds its draft, then its reply's insert shares the conversation's row;
    retention locking the conversation first and then the drafts deadlocked with it."""
    draft = make_draft("an old question, answered at last", customer_ref="cust-late")
    _age(draft)
    reviewer = second_connection()
    outcome: dict[str, object] = {}

    def sweep() -> None:
        try:
            outcome["counts"] = customer_data.anonymise_batch(30, Actor.system("retention"))
        except Exception as error:  # a deadlock would land here or in the reviewer
            outcome["error"] = error
        finally:
            connection.close()

    try:
        with reviewer.transaction():
            reviewer.execute("SELECT 1 FROM support_draft WHERE id = %s FOR UPDATE", [draft.pk])
            sweeper = threading.Thread(target=sweep)
            sweeper.start()
            sweeper.join(timeout=5)
            # What inserting the reply's message does to its conversation's row.
            reviewer.execute(
                "SELECT 1 FROM support_conversation WHERE id = %s FOR KEY SHARE",
                [draft.conversation_id],
            )
        sweeper.join(timeout=30)
    finally:
        reviewer.close()
    assert outcome == {"counts": {}}  # left for the next run
    assert Conversation.objects.get(pk=draft.conversation_id).anonymised_at is None
    counts = customer_data.anonymise_batch(30, Actor.system("retention"))
    assert counts["support.Conversation"] == 1
