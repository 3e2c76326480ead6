"""/healthz reports each dependency; 503 when one is down; never a 500."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.test import Client
from django.test.utils import override_settings

from resolver import health, redis_client
from resolver.embedded import EmbeddedRedis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A second, private Redis server this test can stop; healthz is pointed at it."""
    server = EmbeddedRedis(tmp_path)
    server.start()
    redis_client.get_redis.cache_clear()
    try:
        with override_settings(REDIS_URL=server.url()):
            yield server
    finally:
        server.release()
        redis_client.get_redis.cache_clear()


def test_healthz_ok_with_live_worker(client: Client, live_worker: subprocess.Popen) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["db"]["ok"] is True
    assert body["checks"]["db"]["pgvector"].startswith("0.")
    assert body["checks"]["redis"] == {"ok": True}
    assert body["checks"]["worker"]["ok"] is True
    assert body["checks"]["worker"]["workers"] >= 1


def test_healthz_503_without_worker_heartbeat(
    db: None, client: Client, own_redis: EmbeddedRedis
) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"] == {"ok": True}
    assert checks["worker"] == {"ok": False, "workers": 0, "error": "no Dramatiq worker heartbeat"}


def test_healthz_503_when_redis_is_stopped(
    db: None,
    client: Client,
    own_redis: EmbeddedRedis,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(health, "_last_error", {})
    redis.Redis.from_url(own_redis.url()).set("resolver:heartbeat:worker:fake:1", "1")
    assert client.get("/healthz").status_code == 200  # everything up, including the "worker"

    own_redis.release()  # this process is the only user: the server stops
    assert not own_redis.running()

    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["db"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    # Anyone may ask: the exception's class, not its text (hosts, ports, users), which is
    # logged once.
    assert body["checks"]["redis"]["error"] == "ConnectionError (details in the log)"
    assert body["checks"]["worker"]["ok"] is False
    client.get("/healthz")
    logged = [r.getMessage() for r in caplog.records if " failed: " in r.getMessage()]
    # Once each (the worker check reads Redis too), not once per probe.
    assert sorted(message.split(" failed")[0] for message in logged) == [
        "health check redis",
        "health check worker",
    ]
    assert all(": ConnectionError: " in message for message in logged)


def test_a_503_is_an_answer_not_an_error_in_the_log(
    db: None,
    client: Client,
    own_redis: EmbeddedRedis,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`make run` asks /healthz twice a second while the worker warms up, a probe every few
    seconds through an outage: Django logged every 503 at ERROR. A change of the failing checks
    is a WARNING, a repeat is DEBUG, a recovery is INFO."""
    monkeypatch.setattr(health, "_last_failing", {})  # as in a fresh web process
    caplog.set_level(logging.DEBUG, logger="django.request")
    caplog.set_level(logging.DEBUG, logger="resolver.health")

    for _ in range(3):
        assert client.get("/healthz").status_code == 503  # no worker heartbeat
    redis.Redis.from_url(own_redis.url()).set("resolver:heartbeat:worker:fake:1", "1")
    assert client.get("/healthz").status_code == 200

    said = [
        (r.name, r.levelname, r.getMessage())
        for r in caplog.records
        if r.name in ("django.request", "resolver.health")
    ]
    assert said == [
        ("django.request", "WARNING", "Service Unavailable: /healthz (failing checks: worker)"),
        ("django.request", "DEBUG", "Service Unavailable: /healthz (failing checks: worker)"),
        ("django.request", "DEBUG", "Service Unavailable: /healthz (failing checks: worker)"),
        ("resolver.health", "INFO", "health: all checks pass again (db, outbox, redis, worker)"),
    ]


def test_healthz_rejects_post(db: None, client: Client) -> None:
    assert client.post("/healthz").status_code == 405


def test_healthz_only_checks_what_is_named(
    db: None, client: Client, own_redis: EmbeddedRedis
) -> None:
    """A web pod's readiness asks for its own dependencies: no worker is no reason to stop
    serving the console; `?only=` is the liveness form (the process answers)."""
    ready = client.get("/healthz?only=db,redis")
    assert ready.status_code == 200
    assert sorted(ready.json()["checks"]) == ["db", "redis"]

    assert client.get("/healthz").status_code == 503  # no worker heartbeat
    assert client.get("/healthz?only=").json() == {"status": "ok", "checks": {}}

    refused = client.get("/healthz?only=db,disk")
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_check"


def _stranded(n: int) -> None:
    from support.inbound import receive_message
    from support.models import Draft

    for i in range(n):
        _, draft = receive_message(f"message {i}", enqueue=False)
        Draft.objects.filter(pk=draft.pk).update(enqueued_at=None)


def test_healthz_reports_the_outbox_and_fails_past_its_limits(db: None, client: Client) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from support.models import Draft

    _stranded(2)
    outbox = client.get("/healthz?only=outbox").json()["checks"]["outbox"]
    assert outbox["ok"] is True and outbox["waiting_for_queue"] == 2
    with override_settings(HEALTH_OUTBOX_MAX_WAITING=1):
        response = client.get("/healthz?only=outbox")
    assert response.status_code == 503
    assert response.json()["checks"]["outbox"]["error"] == "2 accepted messages not queued"
    Draft.objects.update(created_at=timezone.now() - timedelta(minutes=10))
    response = client.get("/healthz?only=outbox")
    assert response.status_code == 503
    assert "the oldest pending draft waits 600 s" in response.json()["checks"]["outbox"]["error"]
