"""/metrics in Prometheus text format: the database's running totals (support/tallies.py) and
Redis, read at scrape time."""

from __future__ import annotations

import hmac

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Gauge,
    Metric,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from resolver.broker import HEARTBEAT_QUEUE
from resolver.heartbeat import live_workers
from resolver.redis_client import get_redis
from resolver.shared_metrics import ALL as SHARED
from support import outbox, tallies
from support.inbound import AGENT_RUN_QUEUE
from support.observers import LEARNING_QUEUE
from support.outbound.deliveries import OUTBOUND_QUEUE
from support.webhooks import DELIVERY_QUEUE

# Every queue a worker consumes (knowledge: knowledge/actors.py's default queue); the web process
# does not import the actors, so the list is kept here and tests/test_metrics_queues.py checks it
# against every registered actor's queue.
QUEUES = [
    AGENT_RUN_QUEUE,
    "knowledge",
    DELIVERY_QUEUE,
    OUTBOUND_QUEUE,
    LEARNING_QUEUE,
    HEARTBEAT_QUEUE,
]


def _database_figures(registry: CollectorRegistry, figures: tallies.Figures) -> None:
    drafts = Gauge("resolver_drafts", "Drafts by status", ["status"], registry=registry)
    for status, n in figures.drafts_by_status().items():
        drafts.labels(status=status).set(n)
    escalated = Gauge(
        "resolver_drafts_escalated", "Escalated drafts by reason", ["reason"], registry=registry
    )
    for reason, n in figures.escalated_by_reason().items():
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


def _run_figures(registry: CollectorRegistry, figures: tallies.Figures) -> None:
    """Cumulative over the drafts stored: a histogram and sums the tallies keep as every worker
    writes its drafts (support/tallies.py), so one scrape of any web pod covers all workers
    and reads a few dozen rows, not every draft."""
    histogram = HistogramMetricFamily(
        "resolver_time_to_draft_seconds", "From the customer's message to its finished draft"
    )
    cumulative = [
        (str(float(bound)), figures.total(column))
        for bound, column in zip(tallies.TIME_TO_DRAFT_BUCKETS, tallies.BUCKET_COLUMNS, strict=True)
    ]
    histogram.add_metric(
        [],
        [*cumulative, ("+Inf", figures.total("completed"))],
        figures.total("seconds_to_draft"),
    )
    # Gauges, not counters: sums over the stored drafts go down when drafts are erased or
    # expire (a counter would read that as a reset). Rates: delta() over a window.
    tokens = GaugeMetricFamily("resolver_llm_tokens", "LLM tokens used by the stored drafts")
    tokens.add_metric([], figures.total("tokens"))
    cost = GaugeMetricFamily(
        "resolver_llm_cost_dollars", "LLM cost of the stored drafts (configured price)"
    )
    cost.add_metric([], float(figures.total("cost")))
    deliveries = GaugeMetricFamily(
        "resolver_webhook_deliveries", "Webhook deliveries by outcome", labels=["status"]
    )
    for status, n in figures.deliveries.items():
        deliveries.add_metric([status], n)
    for family in (histogram, tokens, cost, deliveries):
        registry.register(_Fixed(family))


class _Fixed:
    """A collector that yields one metric family computed beforehand."""

    def __init__(self, family: Metric) -> None:
        self.family = family

    def collect(self) -> list[Metric]:
        return [self.family]


def _redis_figures(registry: CollectorRegistry) -> None:
    workers = Gauge("resolver_workers_alive", "Workers with a live heartbeat", registry=registry)
    redis_up = Gauge("resolver_redis_up", "1 if Redis answered this scrape", registry=registry)
    depth = Gauge(
        "resolver_queue_depth", "Messages waiting in a queue", ["queue"], registry=registry
    )
    try:
        client = get_redis()
        workers.set(live_workers(client))
        for histogram in SHARED:
            registry.register(_Fixed(histogram.family(client)))
        for queue in QUEUES:
            key = f"{settings.DRAMATIQ_NAMESPACE}:{queue}"
            waiting = int(client.llen(key)) + int(client.llen(f"{key}.DQ"))  # type: ignore[arg-type]
            depth.labels(queue=queue).set(waiting)
        redis_up.set(1)
    except redis.RedisError:  # a scrape reports Redis down instead of failing
        redis_up.set(0)


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    figures = tallies.current()
    _database_figures(registry, figures)
    _run_figures(registry, figures)
    _redis_figures(registry)
    return registry


def _authorised(request: HttpRequest) -> bool:
    """No METRICS_TOKEN: open, as a local `make run` and compose are. With one: the bearer
    token, compared in constant time."""
    if not settings.METRICS_TOKEN:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = settings.METRICS_TOKEN.encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """What this scrape computed from PostgreSQL and Redis, and this process's request figures
    (resolver/request_metrics.py)."""
    if not _authorised(request):
        response = JsonResponse(
            {"detail": "a bearer token is required for /metrics", "code": "unauthorized"},
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body = generate_latest(_registry()) + generate_latest(REGISTRY)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
