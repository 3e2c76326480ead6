from __future__ import annotations

import re

from django.test import Client

from support.models import Conversation, Draft, DraftStatus, Message, MessageRole


def test_metrics_exposes_drafts_by_status(db: None, client: Client) -> None:
    conversation = Conversation.objects.create()
    for status in (DraftStatus.SUGGESTED, DraftStatus.SUGGESTED, DraftStatus.ESCALATED):
        message = Message.objects.create(
            conversation=conversation, role=MessageRole.CUSTOMER, body="q"
        )
        Draft.objects.create(message=message, conversation=conversation, status=status)
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'resolver_drafts{status="SUGGESTED"} 2.0' in text
    assert 'resolver_drafts{status="ESCALATED"} 1.0' in text
    # A sample line, not just the HELP/TYPE lines that are always printed.
    assert re.search(r"^resolver_workers_alive \d+\.0$", text, re.MULTILINE)
    assert "resolver_redis_up 1.0" in text


def test_metrics_survive_redis_down(db: None, client: Client, settings: object) -> None:
    from resolver import redis_client

    settings.REDIS_URL = "unix:///nonexistent/redis.sock"  # type: ignore[attr-defined]
    redis_client.get_redis.cache_clear()
    try:
        response = client.get("/metrics")
    finally:
        redis_client.get_redis.cache_clear()
    assert response.status_code == 200
    assert "resolver_redis_up 0.0" in response.content.decode()


def test_metrics_expose_the_outbox_queues_and_escalation_reasons(db: None, client: Client) -> None:
    from support.inbound import receive_message

    _, draft = receive_message("where is my parcel?", enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(enqueued_at=None)
    _, escalated = receive_message("I want a human", enqueue=False)
    Draft.objects.filter(pk=escalated.pk).update(
        status=DraftStatus.ESCALATED, escalation_reason="customer_requested_human"
    )
    text = client.get("/metrics").content.decode()
    assert "resolver_outbox_waiting 1.0" in text
    assert re.search(r"^resolver_oldest_pending_draft_seconds \d+\.\d+", text, re.MULTILINE)
    assert 'resolver_drafts_escalated{reason="customer_requested_human"} 1.0' in text
    assert re.search(r'^resolver_queue_depth\{queue="drafts"\} \d+\.0$', text, re.MULTILINE)
