"""/metrics in Prometheus text format, computed at scrape time from the database and Redis."""

from __future__ import annotations

import redis
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from resolver.heartbeat import live_workers
from resolver.redis_client import get_redis
from support.models import Draft


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    drafts = Gauge("resolver_drafts", "Drafts by status", ["status"], registry=registry)
    for row in Draft.objects.values("status").annotate(n=Count("id")):
        drafts.labels(status=row["status"]).set(row["n"])
    workers = Gauge("resolver_workers_alive", "Workers with a live heartbeat", registry=registry)
    redis_up = Gauge("resolver_redis_up", "1 if Redis answered this scrape", registry=registry)
    try:
        workers.set(live_workers(get_redis()))
        redis_up.set(1)
    except redis.RedisError:  # a scrape reports Redis down instead of failing
        redis_up.set(0)
    return registry


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
