"""Faults injected into real services. Redis stopped in the middle of an ingest and started again
(its own Redis, a real uvicorn and a real worker on the test database): a message the API
accepted is drafted once Redis is back, without a human, and drafted once. PostgreSQL stopped
under load (its own PostgreSQL): 503s, never a 500, and the web process recovers by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from conftest import AsgiServer
from resolver.broker import child_environment, worker_command
from resolver.embedded import EmbeddedPostgres, EmbeddedRedis
from resolver.heartbeat import live_workers
from resolver.models import ApiKey
from resolver.polling import wait_for
from resolver.processes import stop_all
from support.models import AuditAction, AuditLog, Draft, DraftStatus
from tests.helpers import database_url_for_tests

pytestmark = pytest.mark.slow
# The issue's target: every message accepted during the outage is drafted within this long of
# Redis answering again.
DRAFTED_WITHIN_SECONDS = 60


class OwnRedis:
    """A Redis of this test's alone (append-only, like the embedded one), to stop and start."""

    def __init__(self, data_dir: Path) -> None:
        self.server = EmbeddedRedis(data_dir)
        self.url = self.server.url()

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        pid = self.server._pid()
        assert pid is not None
        os.kill(pid, signal.SIGTERM)
        assert wait_for(lambda: not self.server.running(), 20), "Redis did not stop"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    if server.server.running():
        server.stop()


def _start_worker(redis_url: str) -> subprocess.Popen[bytes]:
    env = {**child_environment(), "DATABASE_URL": database_url_for_tests(), "REDIS_URL": redis_url}
    return subprocess.Popen(worker_command(processes=1, threads=2), env=env)


def _post(client: httpx.Client, n: int) -> int:
    response = client.post("/api/v1/messages", json={"body": f"where is my order {n}?"})
    return response.status_code


def test_messages_accepted_while_redis_is_down_are_drafted_once_it_is_back(
    transactional_db: None, own_redis: OwnRedis
) -> None:
    _, raw = ApiKey.issue("faults", ["ingest"])
    web = AsgiServer(REDIS_URL=own_redis.url)
    web.start()
    worker = _start_worker(own_redis.url)
    try:
        assert wait_for(lambda: live_workers(own_redis.client()) > 0, 90), "no worker"
        with httpx.Client(
            base_url=web.url, headers={"Authorization": f"Bearer {raw}"}, timeout=30
        ) as client:
            before = [_post(client, n) for n in range(10)]
            own_redis.stop()
            during = [_post(client, n) for n in range(10, 30)]
            waiting = Draft.objects.filter(status=DraftStatus.PENDING, enqueued_at=None).count()
            own_redis.start()
            back = time.monotonic()
        assert before == [202] * 10 and during == [202] * 20
        assert waiting >= 20  # accepted while Redis was down: never queued

        assert wait_for(
            lambda: not Draft.objects.filter(status=DraftStatus.PENDING).exists(),
            DRAFTED_WITHIN_SECONDS,
            interval=0.5,
        ), f"still pending {DRAFTED_WITHIN_SECONDS} s after Redis came back"
        print(f"all drafted {time.monotonic() - back:.1f} s after Redis came back")
        assert Draft.objects.count() == 30  # one draft per message, none lost
        finished = AuditLog.objects.filter(
            action__in=[AuditAction.SUGGESTED, AuditAction.ESCALATED], actor_type="AGENT"
        )
        assert finished.count() == 30  # each drafted once
    finally:
        stop_all([worker])
        web.stop()


def _manage(database_url: str, *args: str) -> str:
    env = {**child_environment(), "DATABASE_URL": database_url}
    result = subprocess.run(
        [sys.executable, "manage.py", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_postgresql_restarted_under_load_gives_503s_then_recovers(tmp_path: Path) -> None:
    """Its own PostgreSQL, stopped while the API is being written to: every request meanwhile
    is a 503 (JSON, Retry-After), none a 500; once PostgreSQL is back the same web process
    accepts messages again."""
    database = EmbeddedPostgres(tmp_path)
    database.start()
    url = database.url()
    _manage(url, "migrate", "--no-input")
    raw = _manage(url, "create_api_key", "faults", "--scopes", "ingest")
    web = AsgiServer(DATABASE_URL=url)
    web.start()
    statuses: list[int] = []
    try:
        with httpx.Client(
            base_url=web.url, headers={"Authorization": f"Bearer {raw}"}, timeout=30
        ) as client:
            statuses += [_post(client, n) for n in range(5)]
            assert statuses == [202] * 5
            database.stop_now()
            down = [client.post("/api/v1/messages", json={"body": "hi"}) for _ in range(5)]
            statuses += [r.status_code for r in down]
            database.start()
            assert wait_for(lambda: _post(client, 99) == 202, 60, interval=0.5)
            after = [_post(client, n) for n in range(5)]
        assert [r.status_code for r in down] == [503] * 5, [r.text for r in down]
        assert down[0].json()["code"] == "unavailable" and down[0].headers["Retry-After"] == "5"
        assert after == [202] * 5
    finally:
        web.stop()
        database.release()
