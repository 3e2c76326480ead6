"""Autonomy under concurrency, on the real database with separate connections: two workers
auto-sending drafts of the same intent while a demotion of that intent, "Stop all auto-send" or
an escalation of the conversation commits. The demotion
holds the intent's row FOR UPDATE; the auto-sends (draft lock, then the row FOR SHARE) wait for
it and, once it commits, send nothing. A send that took the row first finishes first, and the
demotion that waited for it stops every later one."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from resolver.audit_actor import Actor
from support import review
from support.autonomy import ladder
from support.autonomy.switch import console_switch_on, set_console_switch
from support.autosend import auto_send_if_allowed
from support.inbound import receive_message
from support.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    IntentAutonomy,
    Message,
    MessageRole,
)
from support.tests.autonomy_fixtures import make_auto, reload
from support.tests.conftest import SUGGESTION
from support.vocabulary import AutonomyMode, DemotionReason

INTENT = str(SUGGESTION["intent"])


def _suggested(n: int) -> Draft:
    _, draft = receive_message(f"where is order NW-{n}?", customer_ref=f"c{n}", enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(**SUGGESTION)
    return reload(draft)


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        return int(cursor.fetchone()[0])


def _until(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _in_thread(target: Any, *args: Any) -> threading.Thread:
    def run() -> None:
        try:
            target(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_nothing_is_sent_alone_after_a_demotion_commits(
    transactional_db: None, settings: Any
) -> None:
    make_auto(INTENT, settings)
    drafts = [_suggested(1), _suggested(2)]
    locked, release = threading.Event(), threading.Event()
    sent: dict[str, bool] = {}

    def demote() -> None:
        with transaction.atomic():
            assert ladder.demote(INTENT, DemotionReason.REJECTED)
            locked.set()
            release.wait(timeout=30)  # the row stays locked until this commits

    def send(draft: Draft) -> None:
        sent[str(draft.pk)] = auto_send_if_allowed(draft)

    demotion = _in_thread(demote)
    assert locked.wait(timeout=10)
    workers = [_in_thread(send, draft) for draft in drafts]
    # Both workers block on the intent's row while the demotion holds it.
    assert _until(lambda: _waiting_on_locks() >= 2), "the auto-sends did not wait"
    assert all(worker.is_alive() for worker in workers) and sent == {}
    release.set()
    for thread in (demotion, *workers):
        thread.join(timeout=30)

    assert sent == {str(d.pk): False for d in drafts}
    assert {reload(d).status for d in drafts} == {DraftStatus.SUGGESTED}
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()
    assert IntentAutonomy.objects.get(intent=INTENT).mode == AutonomyMode.REVIEW


def test_a_send_in_progress_finishes_before_the_demotion_and_none_after(
    transactional_db: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The auto-send holds the row (FOR SHARE) first: the demotion waits for its commit; the
    draft drafted after the demotion commits is not sent."""
    make_auto(INTENT, settings)
    first, later = _suggested(1), _suggested(2)
    sending, release = threading.Event(), threading.Event()
    real_auto_send = review.auto_send

    def slow_auto_send(draft_id: Any, **options: Any) -> Draft:
        sending.set()  # inside the transaction, the row share-locked
        release.wait(timeout=30)
        return real_auto_send(draft_id, **options)

    monkeypatch.setattr(review, "auto_send", slow_auto_send)
    results: list[bool] = []
    sender = _in_thread(lambda: results.append(auto_send_if_allowed(first)))
    assert sending.wait(timeout=10)
    demotion = _in_thread(ladder.demote, INTENT, DemotionReason.THUMBS_DOWN)
    assert _until(lambda: _waiting_on_locks() >= 1), "the demotion did not wait"
    assert IntentAutonomy.objects.get(intent=INTENT).mode == AutonomyMode.AUTO
    release.set()
    sender.join(timeout=30)
    demotion.join(timeout=30)

    assert results == [True] and reload(first).status == DraftStatus.SENT
    assert IntentAutonomy.objects.get(intent=INTENT).demoted_reason == "thumbs_down"
    assert auto_send_if_allowed(later) is False
    assert reload(later).status == DraftStatus.SUGGESTED


def _held_send(monkeypatch: pytest.MonkeyPatch) -> tuple[threading.Event, threading.Event]:
    """review.auto_send paused inside the send transaction, every lock taken, until released."""
    sending, release = threading.Event(), threading.Event()
    real_auto_send = review.auto_send

    def slow_auto_send(draft_id: Any, **options: Any) -> Draft:
        sending.set()
        release.wait(timeout=30)
        return real_auto_send(draft_id, **options)

    monkeypatch.setattr(review, "auto_send", slow_auto_send)
    return sending, release


def test_nothing_is_sent_alone_after_the_kill_switch_commits(
    transactional_db: None, settings: Any
) -> None:
    """ "Stop all auto-send" holds the switch row FOR UPDATE until it commits: the auto-sends
    (the row FOR SHARE, after the draft, conversation and intent locks) wait and send nothing."""
    make_auto(INTENT, settings)
    drafts = [_suggested(1), _suggested(2)]
    locked, release = threading.Event(), threading.Event()
    sent: dict[str, bool] = {}

    def stop_all() -> None:
        with transaction.atomic():
            set_console_switch(False, Actor.system("test"))
            locked.set()
            release.wait(timeout=30)

    def send(draft: Draft) -> None:
        sent[str(draft.pk)] = auto_send_if_allowed(draft)

    switch = _in_thread(stop_all)
    assert locked.wait(timeout=10)
    workers = [_in_thread(send, draft) for draft in drafts]
    assert _until(lambda: _waiting_on_locks() >= 2), "the auto-sends did not wait"
    assert all(worker.is_alive() for worker in workers) and sent == {}
    release.set()
    for thread in (switch, *workers):
        thread.join(timeout=30)

    assert sent == {str(d.pk): False for d in drafts}
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()


def test_a_send_in_progress_finishes_before_the_kill_switch_and_none_after(
    transactional_db: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_auto(INTENT, settings)
    first, later = _suggested(1), _suggested(2)
    sending, release = _held_send(monkeypatch)
    results: list[bool] = []
    sender = _in_thread(lambda: results.append(auto_send_if_allowed(first)))
    assert sending.wait(timeout=10)
    switch = _in_thread(set_console_switch, False, Actor.system("test"))
    assert _until(lambda: _waiting_on_locks() >= 1), "the switch did not wait for the send"
    assert console_switch_on() is True
    release.set()
    sender.join(timeout=30)
    switch.join(timeout=30)

    assert results == [True] and reload(first).status == DraftStatus.SENT
    assert console_switch_on() is False
    assert auto_send_if_allowed(later) is False


def test_an_escalation_waits_for_a_send_in_progress_and_stops_the_next(
    transactional_db: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conversation is locked in the send transaction: an escalation (a plain UPDATE)
    waits for a send in progress; once it commits, the conversation's next draft waits for a
    person."""
    make_auto(INTENT, settings)
    first = _suggested(1)
    conversation = Conversation.objects.get(pk=first.conversation_id)
    _, second = receive_message("and NW-7?", conversation=conversation, enqueue=False)
    assert second.conversation_id == first.conversation_id
    Draft.objects.filter(pk=second.pk).update(**SUGGESTION)
    sending, release = _held_send(monkeypatch)
    results: list[bool] = []
    sender = _in_thread(lambda: results.append(auto_send_if_allowed(first)))
    assert sending.wait(timeout=10)
    escalation = _in_thread(Conversation.objects.escalate, first.conversation_id)
    assert _until(lambda: _waiting_on_locks() >= 1), "the escalation did not wait"
    release.set()
    sender.join(timeout=30)
    escalation.join(timeout=30)

    assert results == [True]
    conversation = Conversation.objects.get(pk=first.conversation_id)
    assert conversation.status == ConversationStatus.ESCALATED
    assert auto_send_if_allowed(reload(second)) is False


def test_nothing_is_sent_alone_once_an_escalation_commits(
    transactional_db: None, settings: Any
) -> None:
    """An escalation in progress holds the conversation: the send waits, then sees it
    escalated and sends nothing."""
    make_auto(INTENT, settings)
    draft = _suggested(1)
    locked, release = threading.Event(), threading.Event()
    sent: list[bool] = []

    def escalate() -> None:
        with transaction.atomic():
            Conversation.objects.escalate(draft.conversation_id)
            locked.set()
            release.wait(timeout=30)

    escalation = _in_thread(escalate)
    assert locked.wait(timeout=10)
    worker = _in_thread(lambda: sent.append(auto_send_if_allowed(draft)))
    assert _until(lambda: _waiting_on_locks() >= 1), "the auto-send did not wait"
    assert worker.is_alive() and sent == []
    release.set()
    escalation.join(timeout=30)
    worker.join(timeout=30)

    assert sent == [False] and reload(draft).status == DraftStatus.SUGGESTED
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()


def _conversation_lockable(pk: Any) -> bool:
    """Whether another transaction could take the conversation's row now (NOWAIT)."""
    from django.db.utils import OperationalError

    try:
        with transaction.atomic():
            Conversation.objects.select_for_update(no_key=True, nowait=True).get(pk=pk)
    except OperationalError:
        return False
    return True


@pytest.mark.parametrize("closing", ["resolve", "erase"])
def test_resolve_and_erase_wait_on_a_draft_before_taking_its_conversation(
    transactional_db: None, closing: str
) -> None:
    """Auto-send locks the draft, then its conversation. Resolving or erasing the conversation
    while a send holds the draft must queue behind that draft without holding the conversation,
    or the two wait on each other (a deadlock PostgreSQL breaks by failing one of them)."""
    from support.customer_data import do_erase

    draft = _suggested(7)
    conversation_id = draft.conversation_id
    locked, release = threading.Event(), threading.Event()

    def send_in_flight() -> None:
        with transaction.atomic():
            Draft.objects.select_for_update().get(pk=draft.pk)
            locked.set()
            release.wait(10)

    holder = _in_thread(send_in_flight)
    assert locked.wait(10)
    actor = Actor.system("test")
    closer = _in_thread(
        (lambda: review.resolve(conversation_id, actor))
        if closing == "resolve"
        else (lambda: do_erase("c7", actor))
    )
    try:
        assert _until(lambda: _waiting_on_locks() >= 1)  # the closer waits on the draft...
        assert _conversation_lockable(conversation_id)  # ...and holds no lock on the conversation
    finally:
        release.set()
        holder.join(10)
        closer.join(10)
    assert not closer.is_alive()
    if closing == "resolve":
        assert Conversation.objects.get(pk=conversation_id).status == ConversationStatus.RESOLVED
    else:
        assert not Message.objects.filter(conversation_id=conversation_id, body__contains="NW-7")
