"""How a reply reaches the customer outside Resolver: one row per AGENT message a transport
delivers (an e-mail, the `reply.sent` webhook of an API integration), written in the transaction
that stores the message and sent after commit (support/outbound/)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ReplyDeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"  # every attempt failed: dead-lettered, an agent may retry
    BOUNCED = "bounced", "Bounced"  # sent, then the receiving server returned it


class ReplyDeliveryQuerySet(models.QuerySet["ReplyDelivery"]):
    def due(self) -> ReplyDeliveryQuerySet:
        """Queued deliveries whose next attempt is due (the outbox sweep sends them again)."""
        return self.filter(status=ReplyDeliveryStatus.QUEUED, next_attempt_at__lte=timezone.now())


class ReplyDelivery(models.Model):
    message = models.OneToOneField(
        "support.Message", on_delete=models.CASCADE, primary_key=True, related_name="delivery"
    )
    channel = models.CharField(max_length=16)  # the conversation's, when the reply was written
    status = models.CharField(
        max_length=16, choices=ReplyDeliveryStatus.choices, default=ReplyDeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReplyDeliveryQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ReplyDeliveryStatus.values),
                name="replydelivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="replydelivery_due_idx",
                condition=models.Q(status=ReplyDeliveryStatus.QUEUED),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} delivery of {self.message_id}: {self.status}"

    # For templates, which cannot name the vocabulary.
    @property
    def is_queued(self) -> bool:
        return self.status == ReplyDeliveryStatus.QUEUED

    @property
    def is_sent(self) -> bool:
        return self.status == ReplyDeliveryStatus.SENT

    @property
    def is_failed(self) -> bool:
        return self.status == ReplyDeliveryStatus.FAILED

    @property
    def is_bounced(self) -> bool:
        return self.status == ReplyDeliveryStatus.BOUNCED

    def as_wire(self) -> dict[str, object]:
        """The message's `delivery` object (CONTRACTS.md)."""
        return {
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error or None,
            "sent_at": self.sent_at,
        }
