"""/metrics in Prometheus text format, computed at scrape time from the database and Redis."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from resolver.broker import HEARTBEAT_QUEUE
from resolver.heartbeat import live_workers
from resolver.redis_client import get_redis
from support import outbox
from support.inbound import AGENT_RUN_QUEUE
from support.models import Draft
from support.observers import LEARNING_QUEUE
from support.webhooks import DELIVERY_QUEUE

# Every queue a worker consumes (knowledge: knowledge/actors.py's default queue).
QUEUES = [AGENT_RUN_QUEUE, "knowledge", DELIVERY_QUEUE, LEARNING_QUEUE, HEARTBEAT_QUEUE]


def _database_figures(registry: CollectorRegistry) -> None:
    drafts = Gauge("resolver_drafts", "Drafts by status", ["status"], registry=registry)
    for row in Draft.objects.values("status").annotate(n=Count("id")):
        drafts.labels(status=row["status"]).set(row["n"])
    escalated = Gauge(
        "resolver_drafts_escalated", "Escalated drafts by reason", ["reason"], registry=registry
    )
    reasons = Draft.objects.exclude(escalation_reason="").values("escalation_reason")
    for reason, n in reasons.annotate(n=Count("id")).values_list("escalation_reason", "n"):
        escalated.labels(reason=reason).set(n)
    backlog = outbox.backlog()
    Gauge(
        "resolver_outbox_waiting",
        "Accepted messages whose agent run has not reached the queue",
        registry=registry,
    ).set(backlog.waiting_for_queue)
    Gauge(
        "resolver_oldest_pending_draft_seconds",
        "Age of the oldest PENDING draft no worker holds (0: none)",
        registry=registry,
    ).set(backlog.oldest_pending_seconds)


def _redis_figures(registry: CollectorRegistry) -> None:
    workers = Gauge("resolver_workers_alive", "Workers with a live heartbeat", registry=registry)
    redis_up = Gauge("resolver_redis_up", "1 if Redis answered this scrape", registry=registry)
    depth = Gauge(
        "resolver_queue_depth", "Messages waiting in a queue", ["queue"], registry=registry
    )
    try:
        client = get_redis()
        workers.set(live_workers(client))
        for queue in QUEUES:
            key = f"{settings.DRAMATIQ_NAMESPACE}:{queue}"
            waiting = int(client.llen(key)) + int(client.llen(f"{key}.DQ"))  # type: ignore[arg-type]
            depth.labels(queue=queue).set(waiting)
        redis_up.set(1)
    except redis.RedisError:  # a scrape reports Redis down instead of failing
        redis_up.set(0)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    _database_figures(registry)
    _redis_figures(registry)
    return registry


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
