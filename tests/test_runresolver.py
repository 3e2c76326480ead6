"""`make run` (manage.py runresolver) end to end, on the test database and Redis: it becomes
healthy, a worker killed with SIGKILL is restarted and drafts again, Ctrl-C stops everything it
started; a worker that cannot boot stops the start with the last lines of its log. Killed with
SIGKILL, or stopped by a SIGTERM / Ctrl-C to make's whole process group, it leaves nothing
running, logs no error on the way, and the data dir takes the next run."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
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
# A log line at ERROR or CRITICAL, in JSON (web, worker processes) or Dramatiq's own format.
ERROR_LINE = re.compile(r'"level": "(ERROR|CRITICAL)"|\[(ERROR|CRITICAL)\]| (ERROR|CRITICAL) ')


class Run:
    """A `manage.py runresolver` process in a process group of its own, started by make as
    `make run` starts it when `make` is given (a Makefile of that one recipe, not the
    project's, which would install first); its output lines are collected as they come."""

    def __init__(self, data_dir: Path, make: Path | None = None, **env: str) -> None:
        self.data_dir = data_dir
        # Every descendant ever seen: what a failed test must not leave running (a worker would
        # take the next tests' messages), though it has no parent left to be found through.
        self.known: set[psutil.Process] = set()
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        argv = [sys.executable, "manage.py", "runresolver", "--port", str(free_port())]
        if make is not None:
            make.write_text(f"run:\n\t{' '.join(argv)}\n")
            argv = ["make", "--no-print-directory", "-f", str(make), "run"]
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            start_new_session=True,
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
        self.lines.put(EOF)

    def read_to_the_end(self, seconds: float) -> list[str]:
        """Every line until the output closes (all writers gone), in `seconds` at most."""
        self.wait_for_line(lambda line: line == EOF, seconds)
        return self.seen

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
            found = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.known.update(found)
        return found

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


EOF = "\x00end of output"


def all_gone(processes: list[psutil.Process]) -> bool:
    try:
        return not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in processes)
    except psutil.NoSuchProcess:
        return all_gone([p for p in processes if psutil.pid_exists(p.pid)])


@pytest.fixture
def run_in(
    tmp_path: Path, transactional_db: None, redis_client: redis.Redis
) -> Iterator[Callable[..., Run]]:
    # Heartbeats of workers an earlier test killed live on for their TTL and would make
    # /healthz green before this run's worker is up.
    for key in redis_client.scan_iter(match=f"{KEY_PREFIX}*"):
        redis_client.delete(key)
    runs: list[Run] = []

    def start(make: bool = False, **env: str) -> Run:
        runs.append(Run(tmp_path / "data", tmp_path / "Makefile" if make else None, **env))
        return runs[-1]

    yield start
    for run in runs:
        run.descendants()
        if run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        for process in run.known:
            with contextlib.suppress(psutil.NoSuchProcess):
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
    assert wait_for(lambda: all_gone(everything), 20)
    stop = run.read_to_the_end(10)
    stop = stop[stop.index("Stopping Resolver...") :]
    # The worker stopped before Redis: no "Consumer encountered a connection error" (CRITICAL).
    assert not [line for line in stop if ERROR_LINE.search(line)], "\n".join(stop)


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


def test_a_sigkilled_make_run_leaves_nothing_behind(
    run_in: Callable[..., Run], small_kb: dict[str, Any]
) -> None:
    """SIGKILL (the OOM killer, `kill -9`) gives `make run` no chance to stop anything: its web
    server and worker, each in a process group of its own, ran on with no parent, the worker
    taking the next run's messages and the web server keeping the port. Killed three times, at
    three points of its life, each run on the data dir the killed one left: nothing outlives
    it, and the next run finds nothing to clean up (the kernel stopped the children)."""
    points_of_life: list[Callable[[Run], bool]] = [
        lambda run: (
            run.wait_for_line(lambda line: "Resolver is running at" in line, 180) is not None
        ),
        # the worker warming up (its worker process forked, loading models)
        lambda run: wait_for(lambda: run.worker_processes(), 180),
        # bootstrap, a child of its own, migrating
        lambda run: (
            run.wait_for_line(lambda line: line == "Migrating the database...", 180) is not None
        ),
    ]
    for attempt, reached in enumerate(points_of_life):
        run = run_in()
        assert reached(run), run.seen
        started = run.descendants()
        assert started, run.seen
        if attempt == 0:
            other = run_in()
            assert other.process.wait(60) == 1
            refused = other.read_to_the_end(10)
            assert any(
                f"another `make run` is using {run.data_dir} (supervisor pid {run.process.pid}; "
                "web pid" in line
                for line in refused
            ), refused

        run.process.kill()
        run.process.wait(10)

        assert wait_for(partial(all_gone, started), 30), [p for p in started if p.is_running()]
        assert not any(line.startswith("An earlier run on") for line in run.seen), run.seen


def test_make_run_stops_cleanly_when_its_process_group_is_told_to(
    run_in: Callable[..., Run], small_kb: dict[str, Any]
) -> None:
    """What systemd, a container runtime or a closed terminal does: a signal to every process of
    `make run`'s group, so make passes its SIGTERM on to the supervisor a second time. That
    second signal cut the stop short, Redis stopped under a worker never told to stop, and the
    worker ran on for good (1 of 3 tries). Each of three stops, by SIGTERM or Ctrl-C, stops
    everything and logs no error; a second Ctrl-C is told the stop goes on."""
    for sent in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
        run = run_in(make=True)
        assert run.wait_for_line(lambda line: "Resolver is running at" in line, 180), run.seen
        started = run.descendants()

        os.killpg(run.process.pid, sent)
        if sent == signal.SIGINT:
            time.sleep(0.3)
            os.killpg(run.process.pid, sent)  # an impatient second Ctrl-C

        run.process.wait(60)
        assert wait_for(partial(all_gone, started), 10), [p for p in started if p.is_running()]
        seen = run.read_to_the_end(10)
        assert "Stopping Resolver..." in seen
        assert not [line for line in seen if ERROR_LINE.search(line) or "Traceback" in line], (
            "\n".join(seen)
        )
        if sent == signal.SIGINT:
            assert any(line.startswith("Still stopping:") for line in seen), seen
