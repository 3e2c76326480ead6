"""Fixtures shared by every app's tests. Every test runs against real PostgreSQL+pgvector and
Redis: the servers named by DATABASE_URL/REDIS_URL, else the embedded ones settings started."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest
import redis

from resolver.actors import PING_PREFIX, ping
from resolver.broker import child_environment, worker_command
from resolver.polling import wait_for
from resolver.processes import stop_all
from resolver.redis_client import get_redis
from tests.helpers import database_url_for_tests


@pytest.fixture
def redis_client() -> redis.Redis:
    return get_redis()


@pytest.fixture
def live_worker(transactional_db: None, redis_client: redis.Redis) -> Iterator[subprocess.Popen]:
    """A real Dramatiq worker process on the test database and Redis, ready to consume."""
    env = {**child_environment(), "DATABASE_URL": database_url_for_tests()}
    worker = subprocess.Popen(worker_command(processes=1, threads=2), env=env)
    token = uuid.uuid4().hex
    ping.send(token)  # answered once the worker has booted
    try:
        booted = wait_for(lambda: redis_client.get(f"{PING_PREFIX}{token}") is not None, 60)
        assert booted, "the worker did not answer a ping within 60 s"
        yield worker
    finally:
        stop_all([worker])
