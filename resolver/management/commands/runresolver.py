"""`make run`: self-check, bootstrap (migrate, demo data, admin), then the ASGI server and one
Dramatiq worker, supervised (resolver/supervisor.py), until Ctrl-C. One run per data dir
(resolver/run_lock.py): a live one is refused, what a dead one left running is stopped first."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from resolver import embedded
from resolver.broker import child_environment, worker_command
from resolver.dbcheck import check_or_exit
from resolver.processes import die_with_parent, raise_on_stop_signal
from resolver.run_lock import RunLock, RunLockHeld, describe
from resolver.supervisor import ChildProcess, Supervisor, Unit, WatchedServer

HOST = "127.0.0.1"
# How long `make run` waits for /healthz (a first start loads models and the demo KB before).
HEALTHY_WITHIN_SECONDS = 240


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def health(url: str) -> tuple[int, dict[str, Any]]:
    """/healthz's status and body; (0, {}) while nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            try:
                return error.code, json.loads(error.read())
            except ValueError:
                return error.code, {}
    except (urllib.error.URLError, OSError, ValueError):
        return 0, {}


class Command(BaseCommand):
    help = "Run Resolver: web server (ASGI) and one worker, on embedded or configured services."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--threads", type=int, default=settings.WORKER_THREADS)

    def handle(self, *args: Any, **options: Any) -> None:
        # From the start: a stop signal during the start-up must still stop what has started.
        raise_on_stop_signal(on_repeat=self._still_stopping)
        lock = RunLock(Path(settings.RESOLVER_DATA_DIR))
        try:
            self._claim(lock)
            port = options["port"]
            if not port_is_free(HOST, port):
                raise CommandError(f"port {port} is already in use; set PORT to another one")
            checked = check_or_exit(settings.DATABASE_URL, settings.RESOLVER_DATA_DIR)
            self.stderr.write(
                f"Database ok: PostgreSQL {checked.postgres}, pgvector {checked.pgvector}"
            )
            self._serve(port, options["threads"], self._bootstrap(), lock)
        finally:
            lock.release()

    def _claim(self, lock: RunLock) -> None:
        """The data dir for this run: refused while another run lives; what a dead one left
        running (its web server holding the port, its worker taking this run's messages) is
        stopped first. Before the port check, which a left-over web server would fail."""
        try:
            lock.acquire()
        except RunLockHeld as exc:
            raise CommandError(str(exc)) from None
        if leftovers := lock.leftovers():
            self.stderr.write(
                f"An earlier run on {lock.data_dir} left {describe(leftovers)} running; "
                "stopping them"
            )
            lock.clean_up()
        lock.record([])  # this supervisor, at once: a run refused meanwhile names the right pid

    def _still_stopping(self) -> None:
        # A second Ctrl-C must not cut the stop short (it used to, and left the worker running).
        self.stderr.write(
            "Still stopping: the web server and the worker first, then Redis and PostgreSQL..."
        )

    def _bootstrap(self) -> str:
        """Runs `manage.py bootstrap` in a child; returns its last line (how to log in)."""
        argv = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bootstrap"]
        done = subprocess.run(
            argv,
            env=child_environment(),
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=die_with_parent(),
        )
        if done.returncode != 0:
            raise CommandError("bootstrap (migrate, demo data, admin) failed; see above")
        lines = done.stdout.strip().splitlines()
        for line in lines[:-1]:
            self.stdout.write(line)
        return lines[-1] if lines else ""

    def _units(self, port: int, threads: int) -> tuple[list[ChildProcess], list[Unit]]:
        env = child_environment()
        logs = Path(settings.RESOLVER_DATA_DIR) / "log"
        for old in ("web.log", "worker.log"):
            (logs / old).unlink(missing_ok=True)
        web_argv = [sys.executable, "-m", "uvicorn", "resolver.asgi:application"]
        web_argv += ["--host", HOST, "--port", str(port), "--lifespan", "off", "--no-access-log"]
        web_argv += ["--ws-max-size", str(settings.WEBSOCKET_MAX_FRAME_BYTES)]
        children = [
            ChildProcess("web", web_argv, env, logs / "web.log"),
            ChildProcess("worker", worker_command(1, threads), env, logs / "worker.log"),
        ]
        # In the order of start (settings started the servers): the supervisor stops in reverse.
        units: list[Unit] = [*self._embedded_servers(), *children]
        return children, units

    def _embedded_servers(self) -> list[Unit]:
        """The embedded servers this run uses (none when DATABASE_URL/REDIS_URL name others),
        PostgreSQL first as settings starts them. Their `release` is what atexit would run;
        the supervisor runs it once the children are stopped (atexit then finds nothing to do)."""
        data_dir = Path(settings.RESOLVER_DATA_DIR)
        servers: list[Unit] = []
        postgres = embedded.EmbeddedPostgres(data_dir)
        if postgres.serves(settings.DATABASE_URL):
            servers.append(
                WatchedServer(
                    "PostgreSQL", postgres.log, postgres.running, postgres.start, postgres.release
                )
            )
        redis = embedded.EmbeddedRedis(data_dir)
        if redis.serves(settings.REDIS_URL):
            servers.append(
                WatchedServer("Redis", redis.log, redis.running, redis.start, redis.release)
            )
        return servers

    def _serve(self, port: int, threads: int, login: str, lock: RunLock) -> None:
        children, units = self._units(port, threads)
        supervisor = Supervisor(units, say=self.stderr.write)
        try:
            for child in children:
                child.start()
            lock.record(children)
            self._wait_until_healthy(f"http://{HOST}:{port}/healthz", supervisor)
            self._banner(port, login)
            while True:
                supervisor.tick()
                lock.record(children)  # a restarted child has a new pid
                time.sleep(0.5)
        except KeyboardInterrupt:
            self.stderr.write("\nStopping Resolver...")
        finally:
            supervisor.stop()

    def _wait_until_healthy(self, url: str, supervisor: Supervisor) -> None:
        """Returns once /healthz answers 200. A unit that dies meanwhile stops the start with
        its log's last lines; so does a stack still unhealthy after HEALTHY_WITHIN_SECONDS."""
        deadline = time.monotonic() + HEALTHY_WITHIN_SECONDS
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if dead := supervisor.dead():
                for unit in dead:
                    supervisor.report(unit, " while Resolver was starting")
                raise CommandError(f"the {dead[0].name} did not start; see its log above")
            status, body = health(url)
            if status == 200:
                return
            time.sleep(0.5)
        failing = {k: v for k, v in body.get("checks", {}).items() if not v.get("ok")}
        raise CommandError(
            f"Resolver was not healthy within {HEALTHY_WITHIN_SECONDS} s; failing checks: "
            f"{json.dumps(failing) if failing else 'the web server did not answer ' + url}"
        )

    def _banner(self, port: int, login: str) -> None:
        base = f"http://{HOST}:{port}"
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Resolver is running at {base}/",
                    f"  Agent console: {base}/console/",
                    f"  Admin:         {base}/admin/",
                    f"  Health:        {base}/healthz",
                    f"  {login}",
                    f"  Logs:          {Path(settings.RESOLVER_DATA_DIR) / 'log'}",
                    "Press Ctrl-C to stop (web server, worker and embedded services).",
                    "",
                ]
            )
        )
