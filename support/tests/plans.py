"""The plans of the queries a piece of code makes, for tests that hold queries to an index."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

EXPLAINABLE = re.compile(r"^\s*(SELECT|UPDATE|DELETE|WITH)\b", re.IGNORECASE)


def explained(run: Callable[[], Any]) -> list[tuple[str, dict[str, Any]]]:
    """(sql, plan) of each query `run` makes, EXPLAINed with sequential scans priced out: on the
    few rows of a test a sequential scan is often cheapest, and it would hide whether an index
    can answer the query at all."""
    with CaptureQueriesContext(connection) as captured:
        run()
    plans = []
    with connection.cursor() as cursor:
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
