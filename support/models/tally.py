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
