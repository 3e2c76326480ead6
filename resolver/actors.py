"""Operational actors of the platform: a ping through broker, worker and Redis, and the
retention of the platform's own tables."""

from __future__ import annotations

import logging

import dramatiq
from django.conf import settings

from resolver.models import IdempotencyRecord
from resolver.periodic import run_once_per
from resolver.redis_client import get_redis

logger = logging.getLogger(__name__)

PING_PREFIX = "resolver:ping:"


@dramatiq.actor(queue_name="ops", max_retries=0, time_limit=10_000)
def ping(token: str) -> None:
    """Answers by writing a key: proves broker, worker and Redis are wired end to end."""
    get_redis().set(f"{PING_PREFIX}{token}", "pong", ex=60)


@dramatiq.actor(queue_name="ops", max_retries=0, time_limit=120_000)
def forget_idempotency_keys() -> None:
    """Sent by every worker every HOUSEKEEPING_SECONDS (resolver.periodic); runs once per interval
    cluster-wide. Deletes idempotency records past their retention."""
    if run_once_per("forget_idempotency_keys", settings.HOUSEKEEPING_SECONDS):
        expired, _ = IdempotencyRecord.objects.expired().delete()
        logger.info("idempotency records past retention deleted: %s", expired)
