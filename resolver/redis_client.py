"""One Redis client per process for our own keys (heartbeats, rate limits, pings)."""

from __future__ import annotations

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis:
    # Short timeouts: /healthz must answer quickly when Redis is gone.
    return redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2, health_check_interval=30
    )
