"""Bookkeeping of the agent worker: which events it has handled (dead letters of every actor
are resolver.models.DeadLetter)."""

from __future__ import annotations

from django.db import models


class ProcessedEvent(models.Model):
    """Dedupe table: an event id is inserted once, in the same transaction as its effect, so a
    redelivered event is recognised and makes no second draft."""

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=64)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
