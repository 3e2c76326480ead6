"""Shared fixtures. Every test runs against real PostgreSQL+pgvector and Redis: the servers named by
DATABASE_URL/REDIS_URL, else the embedded ones started once per session by settings."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import redis
from django.db import connection

from resolver.actors import PING_PREFIX
from resolver.broker import child_environment, worker_command
from resolver.processes import stop_all
from resolver.redis_client import get_redis


def database_url_for_tests() -> str:
    """A URL for the test database pytest-django created, for child processes such as workers."""
    conf = connection.settings_dict
    auth = quote(conf["USER"]) + (f":{quote(conf['PASSWORD'])}" if conf["PASSWORD"] else "")
    if conf["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{conf['NAME']}?host={conf['HOST']}"
    return f"postgresql://{auth}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"


@pytest.fixture
def redis_client() -> redis.Redis:
    return get_redis()


def wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def live_worker(transactional_db: None, redis_client: redis.Redis) -> Iterator[subprocess.Popen]:
    """A real Dramatiq worker process on the test database and the test Redis, ready to consume."""
    env = {**child_environment(), "DATABASE_URL": database_url_for_tests()}
    worker = subprocess.Popen(worker_command(processes=1, threads=2), env=env)
    token = uuid.uuid4().hex
    from resolver.actors import ping

    ping.send(token)  # answered once the worker has booted
    try:
        booted = wait_for(lambda: redis_client.get(f"{PING_PREFIX}{token}") is not None, 60)
        assert booted, "the worker did not answer a ping within 60 s"
        yield worker
    finally:
        stop_all([worker])
