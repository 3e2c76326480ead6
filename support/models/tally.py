"""Running totals of drafts, conversations and webhook deliveries, kept by PostgreSQL triggers
(support/tallies.py): what /metrics and the dashboard's queue show over all stored rows, read
from a few dozen rows instead of counted over millions at every scrape."""

from __future__ import annotations

from django.db import models


class DraftTally(models.Model):
    """Drafts per (status, escalation reason), with their time-to-draft histogram (cumulative:
    `le_*` counts the finished drafts that took at most that many seconds), tokens and cost.

    Each database session adds to its own `shard` (its backend pid modulo TALLY_SHARDS), so
    workers finishing drafts at once do not queue on one row; a shard's counts may go negative
    (a draft created in one session and closed in another): only sums over shards mean
    anything."""

    shard = models.SmallIntegerField()
    status = models.CharField(max_length=16)
    escalation_reason = models.CharField(max_length=32, blank=True)
    drafts = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    le_0_5 = models.BigIntegerField(default=0)
    le_1 = models.BigIntegerField(default=0)
    le_2 = models.BigIntegerField(default=0)
    le_5 = models.BigIntegerField(default=0)
    le_10 = models.BigIntegerField(default=0)
    le_30 = models.BigIntegerField(default=0)
    le_60 = models.BigIntegerField(default=0)
    le_120 = models.BigIntegerField(default=0)
    le_300 = models.BigIntegerField(default=0)
    seconds_to_draft = models.FloatField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["shard", "status", "escalation_reason"], name="draft_tally_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.status}/{self.escalation_reason or '-'} #{self.shard}: {self.drafts}"


class StatusTally(models.Model):
    """Rows per status of a table (`kind`: its name, support_conversation or
    support_webhookdelivery), per shard as DraftTally."""

    kind = models.CharField(max_length=64)
    shard = models.SmallIntegerField()
    status = models.CharField(max_length=16)
    rows = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "shard", "status"], name="status_tally_key")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.status} #{self.shard}: {self.rows}"


# Rollups of drafts per hour and per day (support/rollups.py): what the dashboard's window figures
# read instead of every draft created in the window. Each draft counts in the UTC hour and the UTC
# day it was created in (`span` 1 or 24, `hour` the span's start); sharded per session as
# DraftTally (sums over shards mean anything, one shard's row does not).


class DraftHour(models.Model):
    """Drafts created in an hour per (status, escalation reason, intent, automated, finished),
    with the sums the window's averages and totals need."""

    hour = models.DateTimeField(help_text="When the span starts (UTC).")
    span = models.SmallIntegerField(default=1, help_text="Hours: 1, or 24 (a UTC day).")
    shard = models.SmallIntegerField()
    status = models.CharField(max_length=16)
    escalation_reason = models.CharField(max_length=32, blank=True)
    intent = models.CharField(max_length=64, blank=True)
    automated = models.BooleanField()
    completed = models.BooleanField(help_text="The run finished (completed_at set).")
    drafts = models.BigIntegerField(default=0)
    unedited = models.BigIntegerField(default=0, help_text="edit_distance = 0")
    edited_n = models.BigIntegerField(default=0, help_text="edit_distance set")
    edit_sum = models.BigIntegerField(default=0)
    confidence_n = models.BigIntegerField(default=0)
    confidence_sum = models.FloatField(default=0)
    tokens = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=6, default=0)
    cites_learned = models.BigIntegerField(default=0, help_text="Drafts citing a learned article.")
    # A REJECTED draft the system closed unanswered (superseded by a reprocess, its conversation
    # resolved, its customer erased: support/models/draft.py) is nobody's verdict on its answer:
    # the approval rate leaves these out of the rejections (migration 0041).
    closed_unanswered = models.BigIntegerField(
        default=0, help_text="Rejected drafts the system closed unanswered, not a person."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "span",
                    "hour",
                    "shard",
                    "status",
                    "escalation_reason",
                    "intent",
                    "automated",
                    "completed",
                ],
                name="draft_hour_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.status}/{self.intent or '-'} #{self.shard}"


class DraftHourHistogram(models.Model):
    """How many drafts of an hour had a measure in a bucket: the window's percentiles. Durations
    go in logarithmic buckets (support/rollups.py: BUCKETS_PER_DOUBLING) with the sum of their
    values (a bucket holding one draft gives its value exactly), edit distances by their exact
    value (the median edit is exact)."""

    hour = models.DateTimeField(help_text="When the span starts (UTC).")
    span = models.SmallIntegerField(default=1, help_text="Hours: 1, or 24 (a UTC day).")
    shard = models.SmallIntegerField()
    measure = models.SmallIntegerField()
    bucket = models.IntegerField()
    drafts = models.BigIntegerField(default=0)
    total = models.FloatField(default=0, help_text="The sum of the bucket's values.")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["span", "hour", "shard", "measure", "bucket"],
                name="draft_hour_histogram_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h measure {self.measure} [{self.bucket}] #{self.shard}"


class CitationHour(models.Model):
    """Citations of a KB article by the drafts created in an hour (under the title they cited)."""

    hour = models.DateTimeField(help_text="When the span starts (UTC).")
    span = models.SmallIntegerField(default=1, help_text="Hours: 1, or 24 (a UTC day).")
    shard = models.SmallIntegerField()
    kb_id = models.CharField(max_length=64)
    title = models.TextField(blank=True)
    citations = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["span", "hour", "shard", "kb_id", "title"], name="citation_hour_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h KB {self.kb_id} #{self.shard}: {self.citations}"
