"""Start Dramatiq workers for every Resolver actor (same broker settings as the web process)."""

from __future__ import annotations

import subprocess
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from resolver.broker import child_environment, worker_command, worker_stop_seconds
from resolver.processes import (
    STOPPED_BY_SIGNAL,
    die_with_parent,
    raise_on_stop_signal,
    stop_all,
    wait_first_exit,
)


class Command(BaseCommand):
    help = "Start Dramatiq worker processes for Resolver's actors."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--processes", type=int, default=settings.WORKER_PROCESSES)
        parser.add_argument("--threads", type=int, default=settings.WORKER_THREADS)
        parser.add_argument("--queues", nargs="*", help="Only consume these queues.")

    def handle(self, *args: Any, **options: Any) -> None:
        argv = worker_command(options["processes"], options["threads"], options["queues"])
        # A child, not exec: this process keeps its hold on embedded services until the end.
        # It dies with this process (SIGKILL, OOM), not to keep taking messages with no parent.
        worker = subprocess.Popen(argv, env=child_environment(), preexec_fn=die_with_parent())
        raise_on_stop_signal(
            on_repeat=lambda: self.stderr.write("Still stopping the worker: its runs finish first.")
        )
        try:
            wait_first_exit([worker])
        except KeyboardInterrupt:
            pass
        finally:
            # Its runs finish first (Dramatiq's shutdown time-out), then it is killed.
            stop_all([worker], grace_seconds=worker_stop_seconds())
        if worker.returncode not in STOPPED_BY_SIGNAL:
            raise SystemExit(worker.returncode)
