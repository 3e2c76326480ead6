"""The database self-check run at start-up of `make run`, every worker and the test session.

pgvector is compiled C inside the PostgreSQL server. A build that needs CPU instructions this
machine lacks (AVX-512, AVX2) loads fine and answers plain SQL, then kills the backend with
SIGILL on the first vector distance or HNSW insert, and PostgreSQL restarts in a loop. So the
check does exactly those things, in a transaction it rolls back, and turns a failure into one
line that names the cause.
"""

from __future__ import annotations

import platform
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import psycopg

from resolver.embedded import EmbeddedPostgres
from resolver.polling import wait_for

# Every statement runs in one transaction that is rolled back: nothing is left behind, not
# even the extension on a database that did not have it yet.
VECTOR_CHECK: tuple[str, ...] = (
    "CREATE EXTENSION IF NOT EXISTS vector",
    "CREATE TEMP TABLE resolver_dbcheck (id int, e vector(3))",
    "CREATE INDEX ON resolver_dbcheck USING hnsw (e vector_cosine_ops)",
    "INSERT INTO resolver_dbcheck SELECT i, ARRAY[i, 1, 2]::real[]::vector"
    " FROM generate_series(1, 50) AS i",
    "SELECT '[1,2,3]'::vector <=> '[3,2,1]'::vector",
    "SELECT id FROM resolver_dbcheck ORDER BY e <=> '[1,1,2]' LIMIT 3",
)
# cosine distance of [1,2,3] and [3,2,1]: 1 - 10/14.
EXPECTED_DISTANCE = 1 - 10 / 14
CRASH_LOG_WAIT_SECONDS = 5
_SIGNAL = re.compile(r"terminated by signal (\d+): ([^\n]+)")
_SIGNAL_NAMES = {4: "SIGILL", 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV"}


class DatabaseCheckFailed(RuntimeError):
    """The database cannot serve Resolver; str() is the one line to show."""


@dataclass(frozen=True)
class CheckResult:
    postgres: str
    pgvector: str


@dataclass(frozen=True)
class ServerLog:
    """Where to look for why a backend died (the embedded server's log), from an offset."""

    path: Path
    offset: int

    @classmethod
    def from_end(cls, path: Path) -> ServerLog:
        return cls(path, path.stat().st_size if path.exists() else 0)

    def since(self) -> str:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                return handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""


def check_vector(
    url: str, *, log: ServerLog | None = None, statements: Sequence[str] = VECTOR_CHECK
) -> CheckResult:
    """Runs the statements on `url`; raises DatabaseCheckFailed with the cause."""
    try:
        conn = psycopg.connect(url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise DatabaseCheckFailed(f"cannot connect to PostgreSQL: {_first_line(exc)}") from None
    with conn:
        try:
            distance = None
            for sql in statements:
                cursor = conn.execute(sql)
                if distance is None and sql.startswith("SELECT") and "<=>" in sql:
                    row = cursor.fetchone()
                    distance = float(row[0]) if row else None
            postgres, pgvector = conn.execute(
                "SELECT current_setting('server_version'),"
                " (SELECT extversion FROM pg_extension WHERE extname = 'vector')"
            ).fetchone() or ("?", "?")
            conn.rollback()
        except psycopg.errors.InsufficientPrivilege:
            raise DatabaseCheckFailed(
                "the pgvector extension is not installed in this database and this user may "
                "not create it: run CREATE EXTENSION vector as a superuser once"
            ) from None
        except psycopg.errors.FeatureNotSupported as exc:
            raise DatabaseCheckFailed(f"pgvector is not usable: {_first_line(exc)}") from None
        except psycopg.errors.UndefinedFile:
            raise DatabaseCheckFailed(
                "this PostgreSQL server has no pgvector extension (install pgvector 0.5 or "
                "newer on it, or unset DATABASE_URL to use the embedded server)"
            ) from None
        except psycopg.OperationalError:
            raise DatabaseCheckFailed(_crash_line(log)) from None
    if distance is None or abs(distance - EXPECTED_DISTANCE) > 1e-6:
        raise DatabaseCheckFailed(
            f"pgvector computed a wrong cosine distance ({distance} instead of "
            f"{EXPECTED_DISTANCE:.6f}): this build is broken on this machine"
        )
    return CheckResult(postgres=str(postgres), pgvector=str(pgvector))


def startup_check(
    database_url: str, data_dir: Path, statements: Sequence[str] = VECTOR_CHECK
) -> CheckResult:
    """The check as `make run`, workers and the test session run it. On the embedded server a
    failure also stops it: PostgreSQL would otherwise restart after every crash, in a loop."""
    server = EmbeddedPostgres(data_dir)
    ours = server.serves(database_url)
    log = ServerLog.from_end(server.log) if ours else None
    try:
        return check_vector(database_url, log=log, statements=statements)
    except DatabaseCheckFailed:
        if ours:
            server.stop_now()
        raise


def _why_it_died(log: ServerLog) -> re.Match[str] | None:
    """The postmaster logs why a backend died just after the client saw its connection drop."""
    wait_for(lambda: _SIGNAL.search(log.since()) is not None, CRASH_LOG_WAIT_SECONDS)
    return _SIGNAL.search(log.since())


def _crash_line(log: ServerLog | None) -> str:
    died = _why_it_died(log) if log is not None else None
    if died is None:
        where = f"see {log.path}" if log is not None else "see the PostgreSQL server's log"
        return (
            "the PostgreSQL backend died during the pgvector check (vector distance / HNSW "
            f"insert); {where}. A SIGILL there means its pgvector build needs CPU "
            "instructions this machine lacks"
        )
    number = int(died.group(1))
    name = _SIGNAL_NAMES.get(number, f"signal {number}")
    if number == 4:
        return (
            f"pgvector crashed with SIGILL: this build needs CPU instructions this machine "
            f"lacks ({cpu_summary()}); set DATABASE_URL to a PostgreSQL with a pgvector built "
            "for this CPU (README, Troubleshooting)"
        )
    return f"pgvector crashed the PostgreSQL backend with {name} ({died.group(2).strip()})"


def cpu_summary() -> str:
    """The CPU and the instruction-set levels that matter for prebuilt pgvector builds."""
    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags = set(value.split())
                break
    except OSError:
        pass
    if not flags:
        return f"{model}, {platform.machine()}"
    present = [name for name in ("avx", "avx2", "fma", "avx512f") if name in flags]
    return f"{model}; has {', '.join(present) or 'none of avx, avx2, fma, avx512f'}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def check_or_exit(database_url: str, data_dir: Path) -> CheckResult:
    """startup_check for processes that cannot go on without it: one line and exit 1."""
    try:
        return startup_check(database_url, data_dir)
    except DatabaseCheckFailed as exc:
        fail(str(exc))


def fail(message: str) -> NoReturn:
    """One clear line on stderr and exit status 1."""
    print(f"resolver: database self-check failed: {message}", file=sys.stderr)
    raise SystemExit(1)
