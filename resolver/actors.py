"""Operational actors that belong to no app."""

from __future__ import annotations

import dramatiq

from resolver.redis_client import get_redis

PING_PREFIX = "resolver:ping:"


@dramatiq.actor(queue_name="ops", max_retries=0, time_limit=10_000)
def ping(token: str) -> None:
    """Answers by writing a key: proves broker, worker and Redis are wired end to end."""
    get_redis().set(f"{PING_PREFIX}{token}", "pong", ex=60)
