"""process_message on real Postgres and Redis: in-process for idempotency and claims, and in a
real Dramatiq worker for message in → draft out, redelivery and dead letters."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any, cast

import psutil
import pytest
import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone
from dramatiq import Message

from agents.actors import process_message
from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.models import KBDocument
from resolver.actors import PING_PREFIX, ping
from resolver.events import InvalidEvent
from resolver.heartbeat import worker_key
from resolver.models import DeadLetter, ProcessedEvent
from resolver.polling import wait_for
from resolver.processes import stop_all
from support.agent_runs import DraftClaimed, claim_draft, release_draft
from support.consumers import CONSOLE_GROUP
from support.inbound import message_created, receive_message
from support.models import AuditLog, Draft, DraftStatus
from support.models.draft import DRAFT_CLAIM_LEASE

PASSWORD_ARTICLE = DocumentSpec(
    source="manual",
    external_id="password",
    title="Reset your password",
    content="Open the login page and choose Forgot password to reset it.",
    intent="recover_password",
    category="ACCOUNT",
)


def test_in_process_run_is_idempotent(agent_kb: dict[str, KBDocument]) -> None:
    message, draft = receive_message("how can I cancel my order?", enqueue=False)
    event = message_created(message)
    process_message.fn(str(message.pk), event["event_id"], event=event)
    draft.refresh_from_db()
    assert (draft.status, draft.intent, draft.trace_id, draft.attempts) == (
        DraftStatus.SUGGESTED,
        "cancel_order",
        event["trace_id"],
        1,
    )
    # Reopen the draft so that only the processed-event check can stop a second run.
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.PENDING)
    process_message.fn(str(message.pk), event["event_id"], event=event)  # redelivery
    draft.refresh_from_db()
    assert (draft.status, draft.attempts, draft.run_started_at) == (DraftStatus.PENDING, 1, None)
    assert ProcessedEvent.objects.filter(event_id=event["event_id"]).count() == 1
    assert list(AuditLog.objects.filter(draft=draft).values_list("action", "actor")) == [
        ("suggested", "agent:graph"),
        ("created", "customer"),
    ]


def test_a_claimed_draft_is_not_claimed_twice(db: None) -> None:
    message, _ = receive_message("where is my order", enqueue=False)
    assert claim_draft(message.pk) is not None
    with pytest.raises(DraftClaimed) as busy:
        claim_draft(message.pk)
    assert DRAFT_CLAIM_LEASE - timedelta(seconds=5) < busy.value.retry_in <= DRAFT_CLAIM_LEASE


def test_a_claim_older_than_the_lease_is_taken_over(db: None) -> None:
    """The claim of a worker that died mid-run (SIGKILL) ends with its lease."""
    message, draft = receive_message("where is my order", enqueue=False)
    expired = timezone.now() - DRAFT_CLAIM_LEASE - timedelta(seconds=1)
    Draft.objects.filter(pk=draft.pk).update(run_started_at=expired, attempts=1)

    assert claim_draft(message.pk) == draft
    draft.refresh_from_db()
    assert draft.attempts == 2


def test_a_run_that_outlived_its_lease_releases_nothing_of_the_run_that_took_over(
    db: None,
) -> None:
    message, draft = receive_message("where is my order", enqueue=False)
    slow = claim_draft(message.pk, holder="host:1")
    assert slow is not None
    expired = timezone.now() - DRAFT_CLAIM_LEASE - timedelta(seconds=1)
    Draft.objects.filter(pk=draft.pk).update(run_started_at=expired)
    assert claim_draft(message.pk, holder="host:2") is not None  # its lease ran out

    release_draft(slow)  # the slow run stops short at last

    draft.refresh_from_db()
    assert (draft.run_by, draft.run_started_at is not None) == ("host:2", True)
    with pytest.raises(DraftClaimed):  # no third run beside the one that took over
        claim_draft(message.pk, holder="host:3")


@pytest.mark.parametrize(
    ("age_s", "beating", "taken"),
    [(20, False, True), (20, True, False), (5, False, False)],
    ids=["dead-holder", "live-holder", "young-claim"],
)
def test_a_claim_of_a_worker_without_heartbeat_is_taken_over(
    db: None, redis_client: redis.Redis, age_s: int, beating: bool, taken: bool
) -> None:
    """A worker SIGKILLed mid-run stops beating; once its heartbeat key has expired (a claim
    older than the key's lifetime), the claim is taken over without waiting for the lease."""
    message, draft = receive_message("where is my order", enqueue=False)
    holder = f"ghost-{uuid.uuid4().hex[:8]}:1"
    since = timezone.now() - timedelta(seconds=age_s)
    Draft.objects.filter(pk=draft.pk).update(run_started_at=since, run_by=holder, attempts=1)
    if beating:
        redis_client.set(worker_key(holder), "1", ex=30)

    if taken:
        assert claim_draft(message.pk, holder="me:2") == draft
        draft.refresh_from_db()
        assert (draft.run_by, draft.attempts) == ("me:2", 2)
    else:
        with pytest.raises(DraftClaimed):
            claim_draft(message.pk, holder="me:2")
    redis_client.delete(worker_key(holder))


def test_a_redelivery_of_a_held_draft_looks_again_when_the_claim_ends(
    db: None, redis_client: redis.Redis
) -> None:
    """A dead worker's message comes back while its claim still holds: it is sent again, delayed
    until the lease ends, instead of being acknowledged undrafted."""
    message, draft = receive_message("where is my order", enqueue=False)
    event = message_created(message)
    Draft.objects.filter(pk=draft.pk).update(run_started_at=timezone.now())
    delayed = f"{settings.DRAMATIQ_NAMESPACE}:drafts.DQ.msgs"
    redis_client.delete(delayed)

    process_message.fn(str(message.pk), event["event_id"], event=event)

    queued = [Message.decode(data) for data in cast(list[bytes], redis_client.hvals(delayed))]
    assert [(m.args[0], m.args[1]) for m in queued] == [(str(message.pk), event["event_id"])]
    eta_ms = queued[0].options["eta"] - time.time() * 1000
    assert (DRAFT_CLAIM_LEASE - timedelta(seconds=5)).total_seconds() * 1000 < eta_ms
    draft.refresh_from_db()
    assert (draft.status, draft.attempts) == (DraftStatus.PENDING, 0)


def test_invalid_event_is_refused(db: None) -> None:
    message, _ = receive_message("where is my order", enqueue=False)
    event = {**message_created(message), "schema_version": 3}
    with pytest.raises(InvalidEvent):
        process_message.fn(str(message.pk), event["event_id"], event=event)


def test_a_version_1_event_queued_before_the_upgrade_is_drafted(
    agent_kb: dict[str, KBDocument],
) -> None:
    message, draft = receive_message("how can I cancel my order?", enqueue=False)
    queued = {**message_created(message), "schema_version": 1, "body": message.body}

    process_message.fn(str(message.pk), queued["event_id"], event=queued)

    draft.refresh_from_db()
    assert (draft.status, draft.intent) == (DraftStatus.SUGGESTED, "cancel_order")


def test_the_queued_run_carries_ids_not_the_customers_text(
    db: None, redis_client: redis.Redis, django_capture_on_commit_callbacks: Any
) -> None:
    text = "my card is 4111 1111 1111 1111, where is order 8812?"
    queue = f"{settings.DRAMATIQ_NAMESPACE}:drafts.msgs"
    before = set(cast(dict[bytes, bytes], redis_client.hgetall(queue)))
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = receive_message(text)

    added = {
        key: value
        for key, value in cast(dict[bytes, bytes], redis_client.hgetall(queue)).items()
        if key not in before
    }
    (raw,) = added.values()
    # No worker here: take it off the queue, so no later test's worker drafts it.
    for message_id in (key.decode() for key in added):
        redis_client.hdel(queue, message_id)
        redis_client.lrem(queue.removesuffix(".msgs"), 0, message_id)
    queued = Message.decode(raw)
    assert queued.args[0] == str(message.pk)
    assert "body" not in queued.kwargs["event"]
    assert b"4111" not in raw and b"8812" not in raw


def test_draft_event_reaches_the_console_group_after_commit(
    agent_kb: dict[str, KBDocument], django_capture_on_commit_callbacks: Any
) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(CONSOLE_GROUP, channel)
    message, draft = receive_message("what is the capital of pakistan", enqueue=False)
    event = message_created(message)
    with django_capture_on_commit_callbacks(execute=True):
        process_message.fn(str(message.pk), event["event_id"], event=event)
    received = async_to_sync(asyncio.wait_for)(layer.receive(channel), 5)["payload"]
    assert (received["type"], received["reason"]) == ("draft.escalated", "retrieval_weak")
    assert (received["draft_id"], received["message_id"]) == (str(draft.pk), str(message.pk))


def _settled(draft: Draft) -> bool:
    draft.refresh_from_db()
    return draft.status != DraftStatus.PENDING


@pytest.mark.slow
def test_worker_drafts_once_and_dead_letters_a_failing_node(
    start_workers: Callable[..., subprocess.Popen], redis_client: redis.Redis
) -> None:
    worker = start_workers()
    message, draft = receive_message("I forgot my password")  # enqueued on commit
    assert wait_for(lambda: _settled(draft), 60), "no draft within 60 s"
    # The KB is empty here (transactional test): nothing covers the question.
    assert (draft.status, draft.escalation_reason) == (DraftStatus.ESCALATED, "retrieval_weak")
    event_id = ProcessedEvent.objects.get().event_id
    event = {**message_created(message), "event_id": event_id}
    # Reopen the draft so that only the processed-event check can stop a second run.
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.PENDING)
    process_message.send(str(message.pk), event_id, event=event)  # two redeliveries
    process_message.send(str(message.pk), event_id, event=event)
    token = uuid.uuid4().hex
    ping.send(token)  # queued after them: answered once they have been taken
    assert wait_for(lambda: redis_client.get(f"{PING_PREFIX}{token}") is not None, 30)
    stop_all([worker])  # lets in-flight messages finish
    draft.refresh_from_db()
    assert (draft.status, draft.attempts) == (DraftStatus.PENDING, 1)
    assert AuditLog.objects.filter(draft=draft, action="escalated").count() == 1
    assert ProcessedEvent.objects.count() == 1

    # A provider that cannot be reached makes the draft node fail on every retry.
    start_workers(
        LLM_PROVIDER="openai", LLM_BASE_URL="http://127.0.0.1:9/v1", RETRIEVAL_MIN_SIMILARITY="0"
    )
    upsert_documents([PASSWORD_ARTICLE])
    failing, failing_draft = receive_message("reset my password please")
    assert wait_for(lambda: DeadLetter.objects.exists(), 90), "no dead letter within 90 s"
    letter = DeadLetter.objects.get()
    assert letter.actor_name == "process_message"
    assert letter.args[0] == str(failing.pk)
    assert letter.retries == 3
    # Escalated for a person to answer (or reprocess), not left "drafting…" for ever.
    assert wait_for(lambda: _settled(failing_draft), 30)
    assert (failing_draft.status, failing_draft.escalation_reason) == (
        DraftStatus.ESCALATED,
        "run_failed",
    )
    assert failing_draft.run_started_at is None


@pytest.fixture
def silent_llm() -> Iterator[str]:
    """An LLM endpoint that accepts connections and never answers: a run in it hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    listener.close()


@pytest.mark.slow
def test_a_message_held_by_a_sigkilled_worker_is_drafted_by_the_next(
    start_workers: Callable[..., subprocess.Popen], silent_llm: str
) -> None:
    """The worker dies (SIGKILL) in the middle of a run: its unacknowledged message comes back
    once its broker heartbeat is stale, waits for the dead run's claim to lapse, and is drafted
    once by the next worker; nobody presses Reprocess."""
    doomed = start_workers(
        LLM_PROVIDER="openai", LLM_BASE_URL=silent_llm, LLM_API_KEY="x", LLM_MODEL="x"
    )
    upsert_documents([PASSWORD_ARTICLE])
    message, draft = receive_message("I forgot my password, how do I reset it?")
    assert wait_for(lambda: Draft.objects.get(pk=draft.pk).run_started_at is not None, 60)
    claimed_at = Draft.objects.get(pk=draft.pk).run_started_at
    assert claimed_at is not None
    # Mid-run (the draft node waits for the LLM): the worker process and its Dramatiq parent.
    for process in [*psutil.Process(doomed.pid).children(recursive=True), doomed]:
        process.kill()
    doomed.wait(10)

    start_workers()

    assert wait_for(lambda: _settled(draft), 120), "the held message was never drafted"
    assert (draft.status, draft.attempts) == (DraftStatus.SUGGESTED, 2)
    # Taken over because the dead worker stopped beating, not because its lease ran out.
    assert draft.completed_at is not None
    assert draft.completed_at < claimed_at + DRAFT_CLAIM_LEASE
    assert Draft.objects.filter(message=message).count() == 1
    assert ProcessedEvent.objects.count() == 1
