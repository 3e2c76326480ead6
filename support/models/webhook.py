"""Outbound webhooks: endpoints admins register, one delivery per (endpoint, event), and every
attempt at it. Deliveries are written in the transaction that changed the draft (an outbox), so
an event is never announced for a change that rolled back, nor lost if the queue is down."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from resolver.events import WEBHOOK_EVENT_TYPES

SECRET_PREFIX = "whsec_"
WEBHOOK_EVENTS = tuple(event_type.value for event_type in WEBHOOK_EVENT_TYPES)


def new_secret() -> str:
    # The Standard Webhooks secret format: "whsec_" + base64 of 24-64 random bytes.
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def default_events() -> list[str]:
    return list(WEBHOOK_EVENTS)


class WebhookEndpointQuerySet(models.QuerySet["WebhookEndpoint"]):
    def subscribed_to(self, event_type: str) -> WebhookEndpointQuerySet:
        return self.filter(is_active=True, events__contains=[event_type])


class WebhookEndpoint(models.Model):
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(
        default=default_events, help_text=f"Any of: {', '.join(WEBHOOK_EVENTS)}."
    )
    secret = models.CharField(max_length=128, default=new_secret)
    # During a rotation deliveries carry a signature with both secrets, so the receiver can
    # switch to the new one at any time before previous_secret_expires_at.
    previous_secret = models.CharField(max_length=128, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["url"]

    def __str__(self) -> str:
        return self.url

    def signing_secrets(self) -> list[str]:
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires and expires > timezone.now():
            return [self.secret, self.previous_secret]
        return [self.secret]

    def rotate_secret(self, overlap: timedelta | None = None) -> str:
        if overlap is None:
            overlap = timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
        self.previous_secret = self.secret
        self.previous_secret_expires_at = timezone.now() + overlap
        self.secret = new_secret()
        self.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at"])
        return self.secret


class DeliveryStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    DELIVERED = "DELIVERED", "Delivered"
    FAILED = "FAILED", "Failed"


class WebhookDelivery(models.Model):
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The event's event_id, sent as webhook-id: the receiver's dedupe key, same on every retry.
    event_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=32)
    payload = models.JSONField()
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while a worker is sending, so a redelivered queue message does not post twice.
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="webhook_delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due_idx"),
            # The admin's list, newest first (its order ends with the id: deterministic pages).
            models.Index(fields=["-created_at", "-id"], name="webhook_delivery_created_idx"),
            # Erasure and retention find a conversation's deliveries by the id in the payload.
            models.Index(
                KeyTransform("conversation_id", "payload"), name="delivery_conversation_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} · {self.status}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    response_snippet = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self) -> str:
        return f"#{self.number} {self.status_code or self.error}"
