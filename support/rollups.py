"""Rollups of drafts per hour and per day (support/models/tally.py: DraftHour, DraftHourHistogram,
CitationHour), kept by PostgreSQL triggers (migrations support 0037, 0041) as the running totals of
support/tallies.py: a draft's contribution to the UTC hour and the UTC day it was created in is
added when it is written, taken back when a rolled-up column changes or it is deleted, in the
writer's transaction. The dashboard's window figures (support/dashboard_figures.py) read a few
hundred rows per day of the window instead of every draft created in it (57k a week at a
million conversations, read several times over).

A window starts at any instant: its whole days come from the daily rows, the whole hours before
them from the hourly rows, and its first, partial hour from the drafts themselves
(draft_created_idx, at most an hour of drafts), so counts, sums and the exact median edit equal
what counting every row gives. Percentiles of durations come from a histogram: within one
bucket's width of the exact value (see BUCKETS_PER_DOUBLING). Days are UTC days: the per-day
series is drawn in UTC days whatever TIME_ZONE is.

`recount()` rebuilds the rollups from the rows (after a bulk load that bypassed the triggers)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

# Durations are bucketed logarithmically, 16 buckets per doubling (migration 0037:
# support_duration_bucket): bucket b holds the values in [2^(b/16), 2^((b+1)/16)), so a
# percentile read from the histogram is within 2^(1/16) - 1 = 4.4 % of the exact one (the value
# is interpolated inside its bucket). Zero and negative durations share ZERO_BUCKET (read as 0).
BUCKETS_PER_DOUBLING = 16
ZERO_BUCKET = -1_000_000
BUCKET_ERROR = 2 ** (1 / BUCKETS_PER_DOUBLING) - 1


class Measure:
    """The histograms' measures (support_draft_measures in migration 0037)."""

    LATENCY_MS = 1  # the run's own latency_ms
    TIME_TO_DRAFT_MS = 2  # completed_at - created_at
    TIME_TO_REVIEW_S = 3  # reviewed_at - completed_at
    TIME_TO_SEND_S = 4  # reviewed_at - created_at, sent drafts
    EDIT_DISTANCE = 5  # sent drafts' edit distance, by exact value


KEY = ("status", "escalation_reason", "intent", "automated", "completed")
SUMS = (
    "drafts",
    "unedited",
    "edited_n",
    "edit_sum",
    "confidence_n",
    "confidence_sum",
    "tokens",
    "cost",
    "cites_learned",
    "closed_unanswered",
)

# The rollup's rows of one span ({unit}: hour or day), counted from the drafts matching {where}
# (recount's, and a window's first partial hour's).
HOUR_ROWS_SQL = """
SELECT date_trunc('{unit}', created_at, 'UTC') AS hour, status, escalation_reason, intent,
    automated, completed_at IS NOT NULL AS completed, count(*) AS drafts,
    count(*) FILTER (WHERE edit_distance = 0) AS unedited, count(edit_distance) AS edited_n,
    coalesce(sum(edit_distance), 0) AS edit_sum, count(confidence) AS confidence_n,
    coalesce(sum(confidence), 0) AS confidence_sum, coalesce(sum(tokens), 0) AS tokens,
    coalesce(sum(cost), 0) AS cost, count(*) FILTER (WHERE cites_learned) AS cites_learned,
    count(*) FILTER (WHERE support_closed_unanswered(status, reject_reason)) AS closed_unanswered
FROM support_draft WHERE {where}
GROUP BY 1, 2, 3, 4, 5, 6
"""
HISTOGRAM_ROWS_SQL = """
SELECT date_trunc('{unit}', d.created_at, 'UTC') AS hour, m.measure, m.bucket, count(*) AS drafts,
    sum(m.value) AS total
FROM support_draft d, support_draft_measures(d) m WHERE {where}
GROUP BY 1, 2, 3
"""
CITATION_ROWS_SQL = """
SELECT date_trunc('{unit}', d.created_at, 'UTC') AS hour, c.kb_id, c.title, count(*) AS citations
FROM support_draft d, support_draft_citations(d) c WHERE {where}
GROUP BY 1, 2, 3
"""
IN_EDGE = "created_at >= %(since)s AND created_at < %(edge)s"
_COLUMNS = ", ".join(("hour", *KEY, *SUMS))


def _union(table: str, columns: str, rows_sql: str) -> str:
    """The window's rows of a rollup: its whole days, the whole hours before them, and the first
    partial hour from the drafts."""
    return (
        f"SELECT {columns} FROM {table} WHERE span = 24 AND hour >= %(day)s"
        f" UNION ALL SELECT {columns} FROM {table}"
        " WHERE span = 1 AND hour >= %(edge)s AND hour < %(day)s"
        f" UNION ALL SELECT {columns} FROM ({rows_sql.format(unit='hour', where=IN_EDGE)}) AS edge"
    )


HOURS = _union("support_drafthour", _COLUMNS, HOUR_ROWS_SQL)
WINDOW_SQL = f"""
SELECT {", ".join(KEY)}, {", ".join(f"sum({c})" for c in SUMS)}
FROM ({HOURS}) AS h GROUP BY {", ".join(KEY)} HAVING sum(drafts) <> 0
"""
PER_HOUR_SQL = f"""
SELECT hour, escalation_reason = '' AS plain, completed, sum(drafts)
FROM ({HOURS}) AS h GROUP BY 1, 2, 3 HAVING sum(drafts) <> 0
"""
HISTOGRAM_SQL = f"""
SELECT measure, bucket, sum(drafts), sum(total)
FROM ({_union("support_drafthourhistogram", "measure, bucket, drafts, total", HISTOGRAM_ROWS_SQL)})
    AS h
GROUP BY 1, 2 HAVING sum(drafts) <> 0 ORDER BY 1, 2
"""
CITATIONS_SQL = f"""
SELECT kb_id, nullif(max(title), ''), sum(citations)
FROM ({_union("support_citationhour", "kb_id, title, citations", CITATION_ROWS_SQL)}) AS h
GROUP BY 1 HAVING sum(citations) <> 0 ORDER BY 3 DESC, 1 LIMIT %(top)s
"""


def edge_of(since: datetime) -> datetime:
    """The first whole hour at or after `since` (UTC hours: the rollups' keys)."""
    hour = since.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return hour if hour == since else hour + timedelta(hours=1)


def day_edge_of(since: datetime) -> datetime:
    """The first whole UTC day at or after `since`."""
    hour = edge_of(since)
    day = hour.replace(hour=0)
    return day if day == hour else day + timedelta(days=1)


@dataclass
class Window:
    """The rolled-up figures of the drafts created since an instant."""

    groups: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    # Per measure: (bucket, drafts, sum of their values), buckets in order.
    histograms: dict[int, list[tuple[int, int, float]]] = field(default_factory=dict)

    def _matching(self, key: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
        for values, row in self.groups.items():
            named = dict(zip(KEY, values, strict=True))
            if all(v(named[k]) if callable(v) else named[k] == v for k, v in key.items()):
                yield named, row

    def total(self, column: str, **key: Any) -> Any:
        """The sum of a column over the groups matching `key` (a value, or a callable test)."""
        found: Any = Decimal(0) if column == "cost" else 0
        for _, row in self._matching(key):
            found += row[column]
        return found

    def by(self, name: str, column: str = "drafts", **key: Any) -> dict[Any, Any]:
        """The sum of a column per value of one key column, over the groups matching `key`."""
        counts: dict[Any, Any] = defaultdict(int)
        for named, row in self._matching(key):
            counts[named[name]] += row[column]
        return {k: n for k, n in counts.items() if n}

    def percentile(self, measure: int, fraction: float) -> float | None:
        """percentile_cont over the histogram: the values at the two ranks around the fraction,
        interpolated. Exact for edit distances (bucketed by value); for durations each value is
        estimated inside its bucket (the bucket's drafts spread evenly), so the result is
        within BUCKET_ERROR of the exact one."""
        count = self.count(measure)
        if not count:
            return None
        position = fraction * (count - 1)
        low, high = math.floor(position), math.ceil(position)
        below, above = self._estimate(measure, low), self._estimate(measure, high)
        return below + (position - low) * (above - below)

    def _estimate(self, measure: int, rank: int) -> float:
        """The rank-th smallest value (from 0), estimated from its bucket."""
        below = 0
        for bucket, n, total in self.histograms.get(measure, []):
            if rank < below + n:
                if measure == Measure.EDIT_DISTANCE:
                    return float(bucket)
                return _inside(bucket, rank - below, n, total / n)
            below += n
        raise AssertionError("rank beyond the histogram")

    def nth(self, measure: int, index: int) -> int | None:
        """The index-th smallest value of an exactly bucketed measure (edit distance)."""
        below = 0
        for bucket, n, _ in self.histograms.get(measure, []):
            if index < below + n:
                return bucket
            below += n
        return None

    def count(self, measure: int) -> int:
        return sum(n for _, n, _ in self.histograms.get(measure, []))


def _inside(bucket: int, rank: int, n: int, mean: float) -> float:
    """The rank-th of a duration bucket's n values whose mean is known: spread evenly around the
    mean, as widely as the bucket allows (exact when the bucket holds one value)."""
    if n == 1 or bucket == ZERO_BUCKET:
        return mean
    low = 2 ** (bucket / BUCKETS_PER_DOUBLING)
    high = 2 ** ((bucket + 1) / BUCKETS_PER_DOUBLING)
    half = max(0.0, min(mean - low, high - mean))
    return mean - half + 2 * half * (rank + 0.5) / n


def _params(since: datetime) -> dict[str, Any]:
    return {"since": since, "edge": edge_of(since), "day": day_edge_of(since)}


def window(since: datetime) -> Window:
    """The groups and histograms of the drafts created since `since`: two queries over the
    window's hours."""
    figures = Window()
    with connection.cursor() as cursor:
        cursor.execute(WINDOW_SQL, _params(since))
        for row in cursor.fetchall():
            sums = dict(zip(SUMS, row[len(KEY) :], strict=True))
            sums = {
                k: (Decimal(v) if k == "cost" else float(v) if k == "confidence_sum" else int(v))
                for k, v in sums.items()
            }
            figures.groups[tuple(row[: len(KEY)])] = sums
        cursor.execute(HISTOGRAM_SQL, _params(since))
        for measure, bucket, n, total in cursor.fetchall():
            figures.histograms.setdefault(measure, []).append((bucket, int(n), float(total)))
    return figures


def drafts_per_day(since: datetime) -> dict[date, dict[str, int]]:
    """Drafts per UTC day since `since` (the daily rollups are whole UTC days, whatever
    TIME_ZONE is: keyed by the team's date, a day west of UTC showed as the day before): total,
    suggested (the run finished without an escalation reason), escalated (with one)."""
    days: dict[date, dict[str, int]] = defaultdict(
        lambda: {"total": 0, "suggested": 0, "escalated": 0}
    )
    with connection.cursor() as cursor:
        cursor.execute(PER_HOUR_SQL, _params(since))
        for hour, plain, completed, n in cursor.fetchall():
            day = days[hour.astimezone(UTC).date()]
            day["total"] += int(n)
            day["suggested"] += int(n) if plain and completed else 0
            day["escalated"] += 0 if plain else int(n)
    return dict(days)


def top_articles(since: datetime, top: int) -> list[tuple[str, str | None, int]]:
    with connection.cursor() as cursor:
        cursor.execute(CITATIONS_SQL, {**_params(since), "top": top})
        return [(kb_id, title, int(n)) for kb_id, title, n in cursor.fetchall()]


# Every rolled-up row of both spans, counted from the drafts (recount, and the tests' check of
# the triggers).
def _both_spans(rows_sql: str, columns: str) -> str:
    return " UNION ALL ".join(
        f"SELECT {columns}, {span} AS span FROM ({rows_sql.format(unit=unit, where='true')}) AS r"
        for span, unit in ((1, "hour"), (24, "day"))
    )


HOUR_COLUMNS = _COLUMNS
HISTOGRAM_COLUMNS = "hour, measure, bucket, drafts, total"
CITATION_COLUMNS = "hour, kb_id, title, citations"
ALL_HOURS_SQL = _both_spans(HOUR_ROWS_SQL, HOUR_COLUMNS)
ALL_HISTOGRAMS_SQL = _both_spans(HISTOGRAM_ROWS_SQL, HISTOGRAM_COLUMNS)
ALL_CITATIONS_SQL = _both_spans(CITATION_ROWS_SQL, CITATION_COLUMNS)
STORED_SQL = {
    "hours": f"SELECT {_COLUMNS}, span FROM (SELECT hour, span, {', '.join(KEY)},"
    f" {', '.join(f'sum({c}) AS {c}' for c in SUMS)} FROM support_drafthour"
    f" GROUP BY hour, span, {', '.join(KEY)}) AS s WHERE drafts <> 0",
    "histograms": "SELECT hour, measure, bucket, sum(drafts), sum(total), span"
    " FROM support_drafthourhistogram"
    " GROUP BY hour, span, measure, bucket HAVING sum(drafts) <> 0",
    "citations": "SELECT hour, kb_id, title, sum(citations), span FROM support_citationhour"
    " GROUP BY hour, span, kb_id, title HAVING sum(citations) <> 0",
}
COUNTED_SQL = {
    "hours": ALL_HOURS_SQL,
    "histograms": ALL_HISTOGRAMS_SQL,
    "citations": ALL_CITATIONS_SQL,
}


def _rows(sql: str) -> set[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return {
            tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            for row in cursor.fetchall()
        }


def stored() -> dict[str, set[tuple[Any, ...]]]:
    """The rollups as kept, summed over shards (rows that sum to nothing left out)."""
    return {name: _rows(sql) for name, sql in STORED_SQL.items()}


def from_rows() -> dict[str, set[tuple[Any, ...]]]:
    """The same rows counted from every draft (slow on a large history: tests and checks)."""
    return {name: _rows(sql) for name, sql in COUNTED_SQL.items()}


LEARNED_SQL = "support_cites_learned(citations)"


def recount() -> None:
    """Rebuilds the rollups (and each draft's cites_learned) from the rows, under a lock that
    holds writers off meanwhile."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE support_draft IN SHARE MODE")
        cursor.execute(
            f"UPDATE support_draft SET cites_learned = {LEARNED_SQL}"
            f" WHERE cites_learned IS DISTINCT FROM {LEARNED_SQL}"
        )
        for table in ("support_drafthour", "support_drafthourhistogram", "support_citationhour"):
            cursor.execute(f"DELETE FROM {table}")
        # In hour order: a window's rows sit together in the table, as the triggers write them
        # (rows in the order GROUP BY hashes them would be a random read each).
        for table, columns, counted in (
            ("support_drafthour", HOUR_COLUMNS, ALL_HOURS_SQL),
            ("support_drafthourhistogram", HISTOGRAM_COLUMNS, ALL_HISTOGRAMS_SQL),
            ("support_citationhour", CITATION_COLUMNS, ALL_CITATIONS_SQL),
        ):
            cursor.execute(
                f"INSERT INTO {table} ({columns}, span, shard)"
                f" SELECT *, 0 FROM ({counted}) AS counted ORDER BY span, hour"
            )


def bucket_of(value: float) -> int:
    """A duration's bucket, as support_duration_bucket computes it (for tests)."""
    return ZERO_BUCKET if value <= 0 else math.floor(math.log2(value) * BUCKETS_PER_DOUBLING)
