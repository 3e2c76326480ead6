"""`make run`: migrate, bootstrap, then run the ASGI server and one Dramatiq worker until Ctrl-C."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from resolver.bootstrap import ensure_admin, ensure_agents_group
from resolver.broker import child_environment, worker_command
from resolver.processes import STOPPED_BY_SIGNAL, raise_on_sigterm, stop_all, wait_first_exit

HOST = "127.0.0.1"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def wait_until_healthy(url: str, children: list[subprocess.Popen[bytes]], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if any(child.poll() is not None for child in children):
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


class Command(BaseCommand):
    help = "Run Resolver: web server (ASGI) and one worker, on embedded or configured services."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--threads", type=int, default=settings.WORKER_THREADS)

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"]
        if not port_is_free(HOST, port):
            raise CommandError(f"port {port} is already in use; set PORT to another one")
        self.stderr.write("Migrating the database...")
        call_command("migrate", interactive=False, verbosity=0)
        self.stderr.write("Loading the demo knowledge base (first start only)...")
        call_command("load_demo_kb")
        call_command("load_demo_orders")
        ensure_agents_group()
        login = ensure_admin(settings.RESOLVER_DATA_DIR)
        self._serve(port, options["threads"], login)

    def _serve(self, port: int, threads: int, login: str) -> None:
        env = child_environment()
        web_argv = [sys.executable, "-m", "uvicorn", "resolver.asgi:application"]
        web_argv += ["--host", HOST, "--port", str(port), "--lifespan", "off", "--no-access-log"]
        children = [
            subprocess.Popen(web_argv, env=env),
            subprocess.Popen(worker_command(1, threads), env=env),
        ]
        raise_on_sigterm()
        try:
            if wait_until_healthy(f"http://{HOST}:{port}/healthz", children, seconds=180):
                self._banner(port, login)
            else:
                self.stderr.write(
                    f"Resolver did not become healthy; see http://{HOST}:{port}/healthz"
                )
            exited = wait_first_exit(children)
            name = "web server" if exited is children[0] else "worker"
            self.stderr.write(f"the {name} exited with code {exited.returncode}; stopping")
            if exited.returncode not in STOPPED_BY_SIGNAL:
                raise CommandError(f"the {name} failed")
        except KeyboardInterrupt:
            self.stderr.write("\nStopping Resolver...")
        finally:
            stop_all(children)

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
                    f"  Log in as {login}",
                    "Press Ctrl-C to stop (web server, worker and embedded services).",
                    "",
                ]
            )
        )
