"""The Dramatiq broker: a RedisBroker everywhere (embedded Redis locally, real Redis in prod)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from typing import Any

import dramatiq
from django.conf import settings
from django.db import close_old_connections, connections
from django.utils.module_loading import import_string
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware, MiddlewareError, Retries

from resolver.broker_wake import WakeableRedisBroker
from resolver.heartbeat import HeartbeatThread, beats_under
from resolver.periodic import Periodic
from resolver.processes import terminate_self, watch_parent
from resolver.redis_client import get_redis
from resolver.shared_metrics import flush_all
from resolver.tracing import TracingMiddleware

logger = logging.getLogger(__name__)


class DjangoDbConnections(Middleware):
    """Drop stale DB connections around every message, as Django does around a request."""

    def before_process_message(self, broker: Any, message: Any) -> None:
        close_old_connections()

    def after_process_message(self, broker: Any, message: Any, **kwargs: Any) -> None:
        close_old_connections()

    def before_worker_thread_shutdown(self, broker: Any, thread: Any) -> None:
        connections.close_all()


class WarmupFailed(MiddlewareError):
    """A warmer raised: the worker process stops instead of booting cold or broken."""


_booted_threads: int | None = None


def worker_threads() -> int:
    """How many threads this worker process runs (its `--threads`), WORKER_THREADS outside a
    worker: what shares of them (support/webhooks.py's posting slots) are counted from."""
    return _booted_threads or settings.WORKER_THREADS


class WorkerWarmup(Middleware):
    """Loads what the first message would need (models, compiled graph, a dry run) before the
    worker consumes anything. Runs before WorkerHeartbeat's boot hook, so /healthz counts a
    worker only once it is warm, and the first message is drafted as fast as the rest."""

    def __init__(self, warmers: list[str]) -> None:
        self.warmers = warmers

    def before_worker_boot(self, broker: Any, worker: Any) -> None:
        # An idle consumer polls Redis at least this often (instead of Dramatiq's 1 s): the
        # longest a message waits when its wake (resolver/broker_wake.py) was missed. Set before
        # the consumers exist.
        worker.worker_timeout = CONSUMER_IDLE_POLL_MS
        global _booted_threads
        _booted_threads = int(worker.worker_threads)
        started = time.monotonic()
        for path in self.warmers:
            try:
                import_string(path)()
            except Exception as exc:
                # Dramatiq logs and ignores other middleware failures; a worker that cannot
                # draft must not boot (and count as live), so this one ends the process.
                logger.exception("worker warm-up %s failed", path)
                raise WarmupFailed(f"worker warm-up {path} failed: {exc}") from exc
        close_old_connections()
        logger.info("worker warm in %.1f s", time.monotonic() - started)


class WorkerHeartbeat(Middleware):
    """Starts the liveness heartbeat once a worker process has booted; /healthz reads it."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.thread: HeartbeatThread | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        # The broker heartbeat too: Dramatiq refreshes it only when a consumer talks to Redis,
        # and a worker whose threads are all busy does not, so a long run could be taken for a
        # dead worker's and requeued (see BROKER_HEARTBEAT_TIMEOUT_MS).
        client = get_redis()

        def also() -> None:
            broker.do_fetch(HEARTBEAT_QUEUE, 0)
            flush_all(client)  # this process's node timings, for /metrics on any web pod

        self.thread = HeartbeatThread(client, self.interval, also=also)
        self.thread.start()

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        # After the worker's threads have finished their runs: a run draining after SIGTERM
        # (up to its time limit) is still this process's, and must not look like a dead
        # worker's claim to be taken over beside it.
        if self.thread is not None:
            self.thread.stop()


class ParentWatch(Middleware):
    """A worker process whose Dramatiq main process died (SIGKILL, OOM) is nobody's to stop and
    would go on taking messages, beside its replacement or a later run's workers: it stops itself
    (gracefully, as on SIGTERM) once its parent is gone."""

    def after_process_boot(self, broker: Any) -> None:
        watch_parent(terminate_self)


class DeadLetters(Middleware):
    """A message that failed for good (retries exhausted, or an exception the actor `throws`)
    becomes a DeadLetter row, visible and replayable in admin. Runs after Retries has decided."""

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        if exception is None or not message.failed:
            return
        from resolver.logs import scrub
        from resolver.models import DeadLetter

        DeadLetter.objects.create(
            actor_name=message.actor_name,
            queue_name=message.queue_name,
            message_id=message.message_id,
            event_id=str(message.args[1]) if len(message.args) > 1 else "",
            args=list(message.args),
            kwargs=dict(message.kwargs),
            # An exception's message may quote what it failed on: kept as text for admins,
            # so it is scrubbed as a log line is.
            error=scrub(f"{type(exception).__name__}: {exception}")[:2000],
            traceback=scrub(message.options.get("traceback", "")),
            # Retries counts attempts that failed; the first one was not a retry.
            retries=max(0, message.options.get("retries", 1) - 1),
        )
        # What its actor's app does about a job that failed for good (settings: by dotted path,
        # so the platform imports no app): an agent run's draft is escalated for a person.
        if (handler := settings.DEAD_LETTER_HANDLERS.get(message.actor_name)) and message.args:
            try:
                import_string(handler)(message.args[0], type(exception).__name__)
            except Exception:  # the dead letter is written; a Reprocess still finds the draft
                logger.exception("dead letter handler %s failed", handler)


# A worker that died (SIGKILL, OOM) leaves the messages it had fetched unacked; the broker
# requeues them once the worker's broker heartbeat is older than this. Dramatiq's default is 60 s;
# our heartbeat thread beats every WORKER_HEARTBEAT_SECONDS (5 s), so this is six missed beats.
BROKER_HEARTBEAT_TIMEOUT_MS = 30_000
# The requeueing ("maintenance") runs on this many broker commands per million, and only for the
# queue of the command. Dramatiq's default (1,000) means minutes between runs on an idle cluster;
# an idle consumer polls ten times a second, so this is every few seconds per queue. It is a
# cheap sorted-set scan.
BROKER_MAINTENANCE_CHANCE = 20_000
HEARTBEAT_QUEUE = "ops"
# Sent periodically by each worker, by name (support.actors, resolver.actors), every so many
# seconds (the setting named): housekeeping, the outbox sweep (what a Redis outage left unqueued),
# retention (a no-op unless RETENTION_DAYS is set), the IMAP poll (a no-op unless IMAP_HOST is
# set), the autonomy sweep (every intent's rung re-weighed, support/autonomy/ladder.py).
PERIODIC_ACTORS = {
    "housekeeping": "HOUSEKEEPING_SECONDS",
    "forget_idempotency_keys": "HOUSEKEEPING_SECONDS",
    "sweep_outbox": "OUTBOX_SWEEP_SECONDS",
    "apply_retention": "RETENTION_SWEEP_SECONDS",
    "poll_mailbox": "IMAP_POLL_SECONDS",
    "sweep_autonomy": "HOUSEKEEPING_SECONDS",
}


def periodic_intervals() -> dict[str, int]:
    return {name: getattr(settings, setting) for name, setting in PERIODIC_ACTORS.items()}


CONSUMER_IDLE_POLL_MS = 100


def build_broker(redis_url: str) -> RedisBroker:
    # Its enqueues wake idle consumers (resolver/broker_wake.py): no poll's sleep between a
    # message and the worker that drafts it.
    broker = WakeableRedisBroker(
        url=redis_url,
        namespace=settings.DRAMATIQ_NAMESPACE,
        heartbeat_timeout=BROKER_HEARTBEAT_TIMEOUT_MS,
        maintenance_chance=BROKER_MAINTENANCE_CHANCE,
    )
    broker.add_middleware(ParentWatch())
    broker.add_middleware(TracingMiddleware())
    broker.add_middleware(DjangoDbConnections())
    broker.add_middleware(WorkerWarmup(settings.WORKER_WARMUP))
    broker.add_middleware(WorkerHeartbeat(settings.WORKER_HEARTBEAT_SECONDS))
    broker.add_middleware(Periodic(periodic_intervals()))
    # after_* hooks run in reverse order: placed before Retries, this one sees its verdict.
    broker.add_middleware(DeadLetters(), before=Retries)
    return broker


def setup() -> None:
    dramatiq.set_broker(build_broker(settings.REDIS_URL))


def send_to_actor(actor_name: str, queue_name: str, *args: Any, **kwargs: Any) -> None:
    """Enqueues a message for an actor this process does not import: the web process never
    loads the agent's code and models just to queue a run. The worker's actor definition
    supplies retries and time limits."""
    message: Message[Any] = Message(
        queue_name=queue_name, actor_name=actor_name, args=args, kwargs=kwargs, options={}
    )
    dramatiq.get_broker().enqueue(message)


def _shutdown_seconds() -> int:
    return settings.AGENT_RUN_TIME_LIMIT_SECONDS + 15


def worker_stop_seconds() -> int:
    """How long whoever started Dramatiq waits, after its SIGTERM, before killing what is left:
    longer than Dramatiq's own shutdown time-out, or a run (or a reply being sent) would be cut
    short, to be done again, or sent twice, after a restart."""
    return _shutdown_seconds() + 5


def worker_command(processes: int, threads: int, queues: list[str] | None = None) -> list[str]:
    """The argv that starts Dramatiq workers for every Resolver actor module."""
    argv = [sys.executable, "-m", "dramatiq", "resolver.worker", *settings.DRAMATIQ_ACTOR_MODULES]
    argv += ["--processes", str(processes), "--threads", str(threads)]
    # On SIGTERM, in-flight runs get as long as a run may take (its time limit) to finish.
    shutdown_ms = _shutdown_seconds() * 1000
    argv += ["--worker-shutdown-timeout", str(shutdown_ms)]
    if queues:
        argv += ["--queues", *queues]
    return argv


def start_worker(
    env: dict[str, str] | None = None, threads: int = 2, boot_seconds: float = 60
) -> subprocess.Popen[bytes]:
    """One Dramatiq worker process on this process's services, returned once it beats (its
    models and connections are warm) and a ping has come back; `env` overrides variables for
    the child."""
    from resolver.actors import PING_PREFIX, ping
    from resolver.polling import wait_for
    from resolver.processes import stop_all

    worker = subprocess.Popen(
        worker_command(processes=1, threads=threads), env={**child_environment(), **(env or {})}
    )
    client = get_redis()
    # Its own heartbeat: a worker started earlier answers any ping, and a caller that took that
    # for this one's would run while this one still loads its models (bench/agent.py's two
    # processes were measured with the second one booting through the burst).
    warm = wait_for(
        lambda: worker.poll() is not None or beats_under(client, worker.pid), boot_seconds
    )
    token = uuid.uuid4().hex
    ping.send(token)
    if not (
        warm
        and worker.poll() is None
        and wait_for(lambda: client.get(f"{PING_PREFIX}{token}") is not None, boot_seconds)
    ):
        stop_all([worker])
        raise RuntimeError(f"the worker was not warm and answering within {boot_seconds} s")
    return worker


def child_environment() -> dict[str, str]:
    """Environment for child processes: the resolved URLs, so children reuse this process's
    (possibly embedded) services instead of starting their own."""
    return {**os.environ, "DATABASE_URL": settings.DATABASE_URL, "REDIS_URL": settings.REDIS_URL}
