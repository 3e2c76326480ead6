"""Several writes for one round trip: psycopg's pipeline mode on Django's connection."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def pipelined() -> Iterator[None]:
    """Sends the block's statements without waiting for each one's answer: four INSERTs cost
    one round trip to PostgreSQL instead of four. A statement whose result is read (RETURNING an
    id, a fetch) still waits for everything sent before it. An error surfaces at the latest when
    the block ends, as Django's exception (IntegrityError...), and later statements of the block
    are not run: use it for writes whose failure aborts the transaction anyway, inside one."""
    connection.ensure_connection()
    raw = connection.connection
    if raw is None:  # pragma: no cover - ensure_connection() either connects or raises
        raise RuntimeError("no database connection")
    with connection.wrap_database_errors, raw.pipeline():
        yield
