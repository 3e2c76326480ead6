"""The Dramatiq broker, a real worker process and Redis are wired end to end."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dramatiq
import psutil
import redis
from django.conf import settings
from dramatiq.brokers.redis import RedisBroker

from resolver.actors import PING_PREFIX, ping
from resolver.embedded import EmbeddedRedis
from resolver.heartbeat import KEY_PREFIX, beats_under, live_workers, worker_id, worker_key
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
        "apply_retention",
        "calibrate_learned_articles",
        "deliver_reply",
        "deliver_webhook",
        "execute_action",
        "forget_idempotency_keys",
        "housekeeping",
        "observe_agent_reply",
        "observe_relabel",
        "observe_sent_draft",
        "ping",
        "poll_mailbox",
        "process_message",
        "reindex_document",
        "reweigh_proposals",
        "summarise_conversation",
        "sweep_autonomy",
        "sweep_outbox",
        "update_autonomy",
    ]
    assert all(actor.broker is dramatiq.get_broker() for actor in actors)


def test_worker_processes_a_message_and_beats(
    live_worker: subprocess.Popen, redis_client: redis.Redis
) -> None:
    token = uuid.uuid4().hex
    ping.send(token)
    assert wait_for(lambda: redis_client.get(f"{PING_PREFIX}{token}") == b"pong", 20)
    assert live_workers(redis_client) >= 1


def test_a_started_worker_is_warm_when_a_process_under_it_beats(
    redis_client: redis.Redis,
) -> None:
    """start_worker waits for the heartbeat of a process under the one it started (Dramatiq
    forks its worker processes), not for any answer to a ping: a worker started earlier would
    answer it while this one still loads its models."""
    forks = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'input()'])"
    started = subprocess.Popen([sys.executable, "-c", forks], stdin=subprocess.PIPE)
    keys = [worker_key(worker_id(os.getpid()))]
    try:
        assert wait_for(lambda: psutil.Process(started.pid).children(), 10)
        forked = psutil.Process(started.pid).children()[0]
        assert not beats_under(redis_client, started.pid)
        redis_client.set(keys[0], "1", ex=30)  # a worker that is not under it (this process)
        assert not beats_under(redis_client, started.pid)
        keys.append(worker_key(worker_id(forked.pid)))
        redis_client.set(keys[1], "1", ex=30)
        assert beats_under(redis_client, started.pid)
    finally:
        redis_client.delete(*keys)
        started.communicate(b"\n", timeout=10)


def test_a_worker_beats_until_its_runs_have_drained_not_only_until_shutdown_starts(
    redis_client: redis.Redis,
) -> None:
    """Dramatiq lets in-flight runs finish after SIGTERM (between before_ and
    after_worker_shutdown): a heartbeat gone at the start made such a run's claim look like a
    dead worker's, to be taken over and run twice."""
    from resolver.broker import WorkerHeartbeat

    class Broker:
        def do_fetch(self, queue: str, timeout: int) -> None:
            return None

    heartbeat = WorkerHeartbeat(interval=1)
    heartbeat.after_worker_boot(Broker(), None)
    try:
        assert wait_for(lambda: redis_client.exists(worker_key()), 5)
        # Middleware.before_worker_shutdown is typed for Dramatiq's own broker and worker.
        heartbeat.before_worker_shutdown(Broker(), None)  # type: ignore[arg-type]
        time.sleep(1.5)  # runs are draining: a beat is due meanwhile
        assert redis_client.exists(worker_key())
        heartbeat.after_worker_shutdown(Broker(), None)  # they have finished
        assert not redis_client.exists(worker_key())
    finally:
        if heartbeat.thread is not None:
            heartbeat.thread.stop()


def test_a_worker_beats_only_once_warm_and_a_failed_warm_up_ends_it(
    transactional_db: None, redis_client: redis.Redis
) -> None:
    """/healthz counts heartbeats; a worker whose warm-up fails (here: a triage artifact that
    does not exist) never writes one, consumes nothing, and exits instead of running cold."""
    from resolver.broker import child_environment, worker_command
    from tests.helpers import database_url_for_tests

    env = {**child_environment(), "DATABASE_URL": database_url_for_tests()}
    worker = subprocess.Popen(
        worker_command(1, 1),
        env={**env, "TRIAGE_MODEL": "no-such-model"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    token = uuid.uuid4().hex
    ping.send(token)

    def beats() -> set[bytes]:
        return set(redis_client.scan_iter(match=f"{KEY_PREFIX}*"))

    earlier = beats()  # of workers of earlier tests, if any are still live
    seen: set[bytes] = set()

    def exited() -> bool:
        seen.update(beats() - earlier)
        return worker.poll() is not None

    assert wait_for(exited, 90)
    output = worker.stdout.read() if worker.stdout else ""

    assert seen == set()
    assert worker.returncode != 0
    assert "WarmupFailed: worker warm-up agents.runner.warm_up failed" in output
    assert redis_client.get(f"{PING_PREFIX}{token}") is None


def test_a_worker_whose_redis_is_gone_still_stops_on_sigterm(
    transactional_db: None, tmp_path: Path
) -> None:
    """`make run` stops the worker before Redis, but a Redis that died first (or a stop that
    went wrong) must not leave a worker looping on "Restarting consumer" for good: SIGTERM
    stops it within the grace period the supervisor gives it before SIGKILL."""
    from resolver.broker import child_environment, worker_command
    from resolver.supervisor import STOP_GRACE_SECONDS
    from tests.helpers import database_url_for_tests

    own_redis = EmbeddedRedis(tmp_path)  # a private one this test can stop
    own_redis.start()
    env = {
        **child_environment(),
        "DATABASE_URL": database_url_for_tests(),
        "REDIS_URL": own_redis.url(),
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            worker_command(1, 2), env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        assert wait_for(lambda: "Worker process is ready for action" in log.read_text(), 90)
        own_redis.release()  # the only user: the server stops
        assert wait_for(lambda: "Restarting consumer" in log.read_text(), 30)

        worker.send_signal(signal.SIGTERM)
        stopping = time.monotonic()
        worker.wait(STOP_GRACE_SECONDS)

        assert time.monotonic() - stopping < STOP_GRACE_SECONDS
        assert worker.returncode == 0, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        own_redis.release()
