"""The Dramatiq broker, a real worker process and Redis are wired end to end."""

from __future__ import annotations

import importlib
import subprocess
import uuid

import dramatiq
import redis
from django.conf import settings
from dramatiq.brokers.redis import RedisBroker

from resolver.actors import PING_PREFIX, ping
from resolver.heartbeat import live_workers
from resolver.polling import wait_for


def test_broker_is_redis_on_configured_url() -> None:
    broker = dramatiq.get_broker()
    assert isinstance(broker, RedisBroker)
    assert broker.namespace == settings.DRAMATIQ_NAMESPACE
    assert ping.broker is broker


def test_every_actor_uses_the_configured_broker() -> None:
    actors = [
        value
        for name in settings.DRAMATIQ_ACTOR_MODULES
        for value in vars(importlib.import_module(name)).values()
        if isinstance(value, dramatiq.Actor)
    ]
    assert sorted(actor.actor_name for actor in actors) == [
        "deliver_webhook",
        "housekeeping",
        "ping",
        "process_message",
        "reindex_document",
    ]
    assert all(actor.broker is dramatiq.get_broker() for actor in actors)


def test_worker_processes_a_message_and_beats(
    live_worker: subprocess.Popen, redis_client: redis.Redis
) -> None:
    token = uuid.uuid4().hex
    ping.send(token)
    assert wait_for(lambda: redis_client.get(f"{PING_PREFIX}{token}") == b"pong", 20)
    assert live_workers(redis_client) >= 1
