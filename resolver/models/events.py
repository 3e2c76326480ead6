"""Platform rows of the event pipeline, whatever app publishes or consumes: which events were
handled (the dedupe table) and which messages the queue gave up on."""

from __future__ import annotations

from django.db import models


class ProcessedEvent(models.Model):
    """Dedupe table: an event id is inserted once, in the same transaction as its effect, so a
    redelivered event is recognised and has no second effect."""

    event_id = models.CharField(max_length=64, unique=True)
    event_type = models.CharField(max_length=64)
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-processed_at"]
        # The admin's list, newest first (its order ends with the id: deterministic pages).
        indexes = [
            models.Index(fields=["-processed_at", "-id"], name="processedevent_processed_idx")
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class DeadLetter(models.Model):
    """A message whose actor failed on every retry, whatever the actor (written by the broker's
    DeadLetters middleware); kept for inspection and replay from admin."""

    actor_name = models.CharField(max_length=128)
    queue_name = models.CharField(max_length=128)
    message_id = models.CharField(max_length=64, help_text="Dramatiq message id")
    event_id = models.CharField(max_length=64, blank=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    retries = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["actor_name", "-created_at"], name="deadletter_actor_idx")]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.message_id}"
