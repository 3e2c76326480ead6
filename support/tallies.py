"""Running totals over every stored draft, conversation and webhook delivery
(support/models/tally.py), kept by PostgreSQL triggers (migration support 0033): a row's
contribution is added when it is written and taken back when it changes or is deleted, whatever
wrote it (a review, an erasure, a bulk update, the admin), in the writer's transaction. /metrics
and the dashboard's queue read these few rows instead of counting millions at every request.

`recount()` rebuilds them from the rows (after a bulk load that bypassed the triggers);
`from_rows()` computes the same figures from the rows without touching the tallies (the tests
hold the two equal after every action that changes them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

# Seconds from a message to its draft: the histogram's upper bounds, one column each.
TIME_TO_DRAFT_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300)
BUCKET_COLUMNS = ("le_0_5", "le_1", "le_2", "le_5", "le_10", "le_30", "le_60", "le_120", "le_300")
SUMMED = ("drafts", "completed", *BUCKET_COLUMNS, "seconds_to_draft", "tokens", "cost")

# The per-(status, reason) figures of a set of drafts: the tally's columns, from the rows.
DRAFT_ROWS_SQL = f"""
SELECT status, escalation_reason, count(*), count(took),
    {", ".join(f"count(*) FILTER (WHERE took <= {b})" for b in TIME_TO_DRAFT_BUCKETS)},
    coalesce(sum(took), 0), coalesce(sum(tokens), 0), coalesce(sum(cost), 0)
FROM (SELECT *, extract(epoch FROM completed_at - created_at)::double precision AS took
      FROM support_draft) AS d
GROUP BY status, escalation_reason
"""
DRAFT_TALLY_SQL = f"""
SELECT status, escalation_reason, {", ".join(f"sum({c})" for c in SUMMED)}
FROM support_drafttally GROUP BY status, escalation_reason
"""
# Tables counted per status (support_statustally's `kind`).
STATUS_TABLES = ("support_conversation", "support_webhookdelivery")
STATUS_ROWS_SQL = " UNION ALL ".join(
    f"SELECT '{table}', status, count(*) FROM {table} GROUP BY status" for table in STATUS_TABLES
)
STATUS_TALLY_SQL = "SELECT kind, status, sum(rows) FROM support_statustally GROUP BY kind, status"


@dataclass
class Figures:
    """What the tallies hold, summed over shards: per (status, escalation reason), and per
    conversation status. Groups whose drafts all went elsewhere (0) are left out."""

    drafts: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    conversations: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)

    def drafts_by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (status, _), row in self.drafts.items():
            counts[status] = counts.get(status, 0) + row["drafts"]
        return counts

    def escalated_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for (_, reason), row in self.drafts.items():
            if reason:
                counts[reason] = counts.get(reason, 0) + row["drafts"]
        return {reason: n for reason, n in counts.items() if n}

    def total(self, column: str) -> Any:
        return sum(
            (row[column] for row in self.drafts.values()), Decimal(0) if column == "cost" else 0
        )


def _figures(draft_sql: str, status_sql: str) -> Figures:
    figures = Figures()
    with connection.cursor() as cursor:
        cursor.execute(draft_sql)
        for status, reason, *values in cursor.fetchall():
            row = dict(zip(SUMMED, values, strict=True))
            if row["drafts"]:
                row["seconds_to_draft"] = float(row["seconds_to_draft"])
                row["cost"] = Decimal(row["cost"])
                figures.drafts[(status, reason)] = row
        cursor.execute(status_sql)
        for kind, status, n in cursor.fetchall():
            if n:
                counts = figures.conversations if kind == STATUS_TABLES[0] else figures.deliveries
                counts[status] = int(n)
    return figures


def current() -> Figures:
    """The tallies (a few dozen rows, whatever the number of drafts)."""
    return _figures(DRAFT_TALLY_SQL, STATUS_TALLY_SQL)


def from_rows() -> Figures:
    """The same figures counted from every row (slow on a large history: tests and checks)."""
    return _figures(DRAFT_ROWS_SQL, STATUS_ROWS_SQL)


def recount() -> None:
    """Rebuilds the tallies from the rows, under a lock that holds writers off meanwhile."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "LOCK TABLE support_draft, support_conversation, support_webhookdelivery IN SHARE MODE"
        )
        cursor.execute("DELETE FROM support_drafttally")
        cursor.execute("DELETE FROM support_statustally")
        cursor.execute(
            f"INSERT INTO support_drafttally (status, escalation_reason, {', '.join(SUMMED)},"
            f" shard) SELECT *, 0 FROM ({DRAFT_ROWS_SQL}) AS counted"
        )
        cursor.execute(
            "INSERT INTO support_statustally (kind, status, rows, shard)"
            f" SELECT *, 0 FROM ({STATUS_ROWS_SQL}) AS counted"
        )
