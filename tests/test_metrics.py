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


def test_metrics_expose_time_to_draft_tokens_deliveries_and_requests(
    db: None, client: Client
) -> None:
    from datetime import timedelta

    from support.inbound import receive_message

    _, draft = receive_message("where is my parcel?", enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.SUGGESTED,
        completed_at=draft.created_at + timedelta(seconds=3),
        tokens=960,
        cost=0.48,
    )
    client.get("/healthz?only=")
    text = client.get("/metrics").content.decode()
    assert 'resolver_time_to_draft_seconds_bucket{le="2.0"} 0.0' in text
    assert 'resolver_time_to_draft_seconds_bucket{le="5.0"} 1.0' in text
    assert "resolver_time_to_draft_seconds_count 1.0" in text
    assert "resolver_llm_tokens 960.0" in text
    assert "resolver_llm_cost_dollars 0.48" in text
    assert re.search(
        r"^resolver_http_request_duration_seconds_count"
        r'\{method="GET",route="healthz",status="200"\} \d+\.0$',
        text,
        re.MULTILINE,
    )


def test_node_timings_of_any_worker_reach_metrics_through_redis(db: None, client: Client) -> None:
    """A worker observes in memory and its heartbeat flushes to Redis; any web pod exports."""
    from resolver.redis_client import get_redis
    from resolver.shared_metrics import KEY_PREFIX, SharedHistogram

    histogram = SharedHistogram("resolver_test_duration_seconds", "test", "node")
    get_redis().delete(KEY_PREFIX + histogram.name)
    for seconds in (0.003, 0.2, 4.0):
        histogram.observe("triage", seconds)
    histogram.flush(get_redis())
    histogram.observe("triage", 0.02)
    histogram.flush(get_redis())  # a second flush adds to the first
    samples = {(s.name, s.labels.get("le")): s.value for s in histogram.family(get_redis()).samples}
    assert samples[("resolver_test_duration_seconds_bucket", "0.005")] == 1
    assert samples[("resolver_test_duration_seconds_bucket", "0.25")] == 3
    assert samples[("resolver_test_duration_seconds_bucket", "+Inf")] == 4
    assert round(samples[("resolver_test_duration_seconds_sum", None)], 3) == 4.223
    assert (
        "# TYPE resolver_node_duration_seconds histogram" in client.get("/metrics").content.decode()
    )


def test_metrics_count_every_queue_an_actor_consumes() -> None:
    """The web process never imports the actors, so resolver/metrics.py names the queues; every
    queue a registered actor takes messages from must be among them (the outbound replies'
    was missing: a backlog of e-mail replies showed nowhere)."""
    import importlib

    import dramatiq
    from django.conf import settings

    from resolver.metrics import QUEUES

    for module in settings.DRAMATIQ_ACTOR_MODULES:
        importlib.import_module(module)
    consumed = {actor.queue_name for actor in dramatiq.get_broker().actors.values()}
    assert "outbound" in consumed
    assert consumed <= set(QUEUES)


def test_metrics_need_the_bearer_token_when_one_is_set(
    db: None, client: Client, settings: object
) -> None:
    settings.METRICS_TOKEN = "s3cret-token"  # type: ignore[attr-defined]
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.json()["code"] == "unauthorized"
    assert refused["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-token").status_code == 401
    allowed = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert allowed.status_code == 200
    assert "resolver_drafts" in allowed.content.decode()
