"""Rows every draft reads and an admin rarely edits (the business profile, the enabled guard
rules), kept per process and read again only when they changed (#30).

Each call asks PostgreSQL for a fingerprint of the rows (an md5 of their content, computed in
the database: one small round trip and no model instances) and builds the value again only when
the fingerprint differs from the one it was built from. The fingerprint is of the content itself,
not a timestamp or a counter a writer must remember to bump, so any change (an admin's save, a
QuerySet.update(), a deletion, a rolled-back test) shows in the next draft, as before."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db import connection

T = TypeVar("T")


class Fingerprinted(Generic[T]):
    """`get()`: the value `load()` builds, rebuilt when `fingerprint_sql` (one row, one column)
    answers something else than it did when the value was built."""

    def __init__(self, fingerprint_sql: Callable[[], str], load: Callable[[], T]) -> None:
        # The SQL is built on first use: table names come from models, not loaded at import.
        self._fingerprint_sql = fingerprint_sql
        self._load = load
        self._lock = threading.Lock()
        self._cached: tuple[str | None, T] | None = None

    def fingerprint(self) -> str | None:
        with connection.cursor() as cursor:
            cursor.execute(self._fingerprint_sql())
            row = cursor.fetchone()
        return None if row is None else row[0]

    def get(self) -> T:
        fingerprint = self.fingerprint()
        with self._lock:
            cached = self._cached
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        value = self._load()
        # Kept only if nothing changed while it was read, so a value is never filed under
        # another content's fingerprint (one more query, on a rebuild only).
        if self.fingerprint() == fingerprint:
            with self._lock:
                self._cached = (fingerprint, value)
        return value
