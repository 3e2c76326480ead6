"""Autonomy under concurrency, on the real database with separate connections: two workers
auto-sending drafts of the same intent while a demotion of that intent commits. The demotion
holds the intent's row FOR UPDATE; the auto-sends (draft lock, then the row FOR SHARE) wait for
it and, once it commits, send nothing. A send that took the row first finishes first, and the
demotion that waited for it stops every later one."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from support import review
from support.autonomy import ladder
from support.autosend import auto_send_if_allowed
from support.inbound import receive_message
from support.models import Draft, DraftStatus, IntentAutonomy, Message, MessageRole
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
