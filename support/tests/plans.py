"""The plans of the queries a piece of code makes, for tests that hold queries to an index."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

EXPLAINABLE = re.compile(r"^\s*(SELECT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


# PostgreSQL 18's functions that forget a table's planner statistics: the page and row counts
# (pg_class, written in place, so the clearing outlives the test's rollback) and each column's
# histogram (pg_statistic, transactional: back after the rollback).
CLEAR_STATISTICS = [
    "SELECT pg_clear_relation_stats(schemaname, relname) FROM pg_stat_user_tables"
    " WHERE schemaname = current_schema()",
    "SELECT pg_clear_attribute_stats(schemaname, tablename, attname, inherited) FROM pg_stats"
    " WHERE schemaname = current_schema()",
]


def explained(run: Callable[[], Any]) -> list[tuple[str, dict[str, Any]]]:
    """(sql, plan) of each query `run` makes, EXPLAINed with sequential scans priced out: on the
    few rows of a test a sequential scan is often cheapest, and it would hide whether an index
    can answer the query at all.

    The plans are made without statistics, as on a fresh database. Whatever autovacuum last
    sampled from another test's rows would otherwise steer them: a histogram that puts every
    draft in the dashboard's first partial hour makes a whole-index walk the cheapest way to
    read that hour on a table of a few rows (it failed CI once), which it never is on a year
    of history."""
    with CaptureQueriesContext(connection) as captured:
        run()
    plans = []
    with connection.cursor() as cursor:
        if connection.pg_version >= 180000:  # type: ignore[attr-defined]  # (a DATABASE_URL on 17)
            for sql in CLEAR_STATISTICS:
                cursor.execute(sql)
        cursor.execute("SET enable_seqscan = off")
        try:
            for query in captured.captured_queries:
                sql = query["sql"]
                if EXPLAINABLE.match(sql):
                    cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}")
                    plans.append((sql, cursor.fetchone()[0][0]["Plan"]))
        finally:
            cursor.execute("RESET enable_seqscan")
    return plans
