"""Fixtures shared by every app's tests. Every test runs against real PostgreSQL+pgvector and
Redis: the servers named by DATABASE_URL/REDIS_URL, else the embedded ones settings started."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from typing import Any

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
def start_workers(
    transactional_db: None, redis_client: redis.Redis
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts real Dramatiq worker processes on the test database and Redis (each ready to
    consume, with `env` overriding settings variables); all are stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(**env: str) -> subprocess.Popen:
        started.append(start_worker({"DATABASE_URL": database_url_for_tests(), **env}))
        return started[-1]

    yield start
    stop_all(started)


@pytest.fixture
def live_worker(start_workers: Callable[..., subprocess.Popen]) -> subprocess.Popen:
    """One real worker with the default settings."""
    return start_workers()


@pytest.fixture
def small_kb(db: None) -> dict[str, Any]:
    """Five short articles (knowledge/tests/articles.py), embedded for real."""
    from knowledge.ingest import upsert_documents
    from knowledge.models import KBDocument
    from knowledge.tests.articles import ARTICLES

    upsert_documents(ARTICLES)
    return {doc.external_id: doc for doc in KBDocument.objects.all()}


@pytest.fixture
def agent_user(db: None) -> Any:
    """A console user: member of the "agents" group, not staff."""
    from django.contrib.auth.models import User

    from resolver.bootstrap import ensure_agents_group

    user = User.objects.create_user("agnes", password="pw-agnes-123")
    user.groups.add(ensure_agents_group())
    return user
