"""Idempotency keys of API requests (POST /messages today): a retried request gets the first
response back. The `forget_idempotency_keys` actor (resolver.actors) deletes expired rows."""

from __future__ import annotations

from datetime import timedelta

from django.db import models
from django.utils import timezone

# Long enough to cover any client's retry policy.
RETENTION = timedelta(days=7)


class IdempotencyQuerySet(models.QuerySet["IdempotencyRecord"]):
    def expired(self) -> IdempotencyQuerySet:
        return self.filter(created_at__lt=timezone.now() - RETENTION)


class IdempotencyRecord(models.Model):
    # Keys are per caller: two integrations may both send "retry-1" without colliding.
    owner = models.CharField(max_length=120, help_text='"key:<id>" or "user:<id>"')
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    response = models.JSONField()
    status_code = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = IdempotencyQuerySet.as_manager()

    class Meta:
        # The table support created: the model moved, its rows did not (resolver.0003).
        db_table = "support_idempotencyrecord"
        constraints = [
            models.UniqueConstraint(fields=["owner", "key"], name="idempotency_owner_key_unique")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_created_idx")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
