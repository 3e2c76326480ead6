"""Fixtures shared by every app's tests. Every test runs against real PostgreSQL+pgvector and
Redis: the servers named by DATABASE_URL/REDIS_URL, else the embedded ones settings started."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest
import redis

from resolver.broker import start_worker
from resolver.processes import stop_all
from resolver.redis_client import get_redis
from tests.helpers import database_url_for_tests


@pytest.fixture
def redis_client() -> redis.Redis:
    return get_redis()


@pytest.fixture
def live_worker(transactional_db: None, redis_client: redis.Redis) -> Iterator[subprocess.Popen]:
    """A real Dramatiq worker process on the test database and Redis, ready to consume."""
    worker = start_worker({"DATABASE_URL": database_url_for_tests()})
    try:
        yield worker
    finally:
        stop_all([worker])
