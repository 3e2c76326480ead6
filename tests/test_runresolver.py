"""`make run` (manage.py runresolver) end to end, on the test database and Redis: it becomes
healthy, a worker killed with SIGKILL is restarted and drafts again, Ctrl-C stops everything it
started; a worker that cannot boot stops the start with the last lines of its log."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from django.conf import settings

from resolver.actors import PING_PREFIX, ping
from resolver.heartbeat import KEY_PREFIX
from resolver.polling import wait_for
from support.inbound import receive_message
from support.models import Draft, DraftStatus
from tests.helpers import database_url_for_tests, free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


class Run:
    """A `manage.py runresolver` process; its output lines are collected as they come."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "runresolver", "--port", str(free_port())],
            cwd=ROOT,
            env={
                **os.environ,
                "RESOLVER_DATA_DIR": str(data_dir),
                "DATABASE_URL": database_url_for_tests(),
                "REDIS_URL": settings.REDIS_URL,
                **env,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for_line(self, predicate: Callable[[str], bool], seconds: float) -> str | None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if predicate(line):
                return line
        return None

    def descendants(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def worker_processes(self) -> list[psutil.Process]:
        """Dramatiq's forked worker processes (grandchildren: their parent is Dramatiq's main)."""
        found = []
        for process in self.descendants():
            try:
                parent = process.parent()
                if (
                    "dramatiq" in " ".join(process.cmdline())
                    and parent
                    and "dramatiq" in " ".join(parent.cmdline())
                ):
                    found.append(process)
            except psutil.NoSuchProcess:
                continue
        return found


@pytest.fixture
def run_in(
    tmp_path: Path, transactional_db: None, redis_client: redis.Redis
) -> Iterator[Callable[..., Run]]:
    # Heartbeats of workers an earlier test killed live on for their TTL and would make
    # /healthz green before this run's worker is up.
    for key in redis_client.scan_iter(match=f"{KEY_PREFIX}*"):
        redis_client.delete(key)
    runs: list[Run] = []

    def start(**env: str) -> Run:
        runs.append(Run(tmp_path, **env))
        return runs[-1]

    yield start
    for run in runs:
        if run.process.poll() is None:
            run.process.kill()
            for process in run.descendants():
                process.kill()


def answered_ping(client: redis.Redis, seconds: float) -> bool:
    token = uuid.uuid4().hex
    ping.send(token)
    return wait_for(lambda: client.get(f"{PING_PREFIX}{token}") is not None, seconds)


def test_make_run_restarts_a_killed_worker_and_stops_cleanly(
    run_in: Callable[..., Run], small_kb: dict[str, Any], redis_client: redis.Redis
) -> None:
    run = run_in()
    assert run.wait_for_line(lambda line: "Resolver is running at" in line, 180), run.seen
    started = run.descendants()
    (worker,) = run.worker_processes()

    worker.kill()

    said = run.wait_for_line(lambda line: line.startswith("the worker exited"), 30)
    assert said == "the worker exited with code 1; restarting it in 0 s (restart 1)"
    assert run.wait_for_line(lambda line: line.startswith("last lines of "), 5)
    assert answered_ping(redis_client, 60), "the restarted worker does not consume"
    _, draft = receive_message("how do I return an item?")
    assert wait_for(lambda: Draft.objects.get(pk=draft.pk).status != DraftStatus.PENDING, 30)

    run.process.send_signal(signal.SIGINT)  # Ctrl-C
    run.process.wait(60)
    everything = [*started, *run.descendants()]
    assert wait_for(
        lambda: not any(p.is_running() and p.status() != "zombie" for p in everything), 20
    )


def test_a_worker_that_cannot_boot_stops_the_start_with_its_log(
    run_in: Callable[..., Run], small_kb: dict[str, Any]
) -> None:
    run = run_in(TRIAGE_MODEL="no-such-model")

    said = run.wait_for_line(lambda line: line.startswith("the worker "), 180)

    assert said is not None and said.endswith(" while Resolver was starting"), "\n".join(run.seen)
    assert run.wait_for_line(
        lambda line: line.startswith("last lines of ") and "worker.log" in line, 5
    )
    assert run.wait_for_line(lambda line: "no-such-model.joblib" in line, 5)
    assert run.process.wait(30) == 1
    assert run.wait_for_line(lambda line: "CommandError: the worker did not start" in line, 5)
