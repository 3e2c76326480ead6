"""Faults injected into real services: Redis stopped in the middle of an ingest and started
again (its own Redis, a real uvicorn and a real worker on the test database). A message the API
accepted is drafted once Redis is back, without a human, and drafted once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from conftest import AsgiServer
from resolver.broker import child_environment, worker_command
from resolver.embedded import EmbeddedRedis
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
