"""Every e-mail that reached one of the inbound doors, kept as it arrived
(support/email/receive.py): the raw RFC 5322 bytes, which door, what became of it. An e-mail that
could not be parsed or stored waits here, quarantined with its error, until an admin reprocesses
it; the e-mails after it are not held up."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class InboundStatus(models.TextChoices):
    STORED = "stored", "Stored (drafted)"
    IGNORED = "ignored", "Stored, not drafted"  # the message's ignored_reason says why
    DUPLICATE = "duplicate", "Duplicate"  # its Message-ID came in before: `message` is that one
    QUARANTINED = "quarantined", "Quarantined"  # failed to parse or store: `error`, reprocessable


class Door(models.TextChoices):
    """Where an e-mail came in. ESP webhooks are `anymail:<esp>` (anymail:mailgun, …)."""

    API = "api", "POST /api/v1/inbound/email"
    IMAP = "imap", "IMAP polling"
    ANYMAIL = "anymail", "ESP inbound webhook (django-anymail)"


class InboundEmail(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    door = models.CharField(max_length=64)
    # Without angle brackets; a message that had none gets one derived from its content
    # (support/email/parse.py), so a re-delivery is still the same message.
    message_id_header = models.CharField(max_length=998, blank=True)
    # Normalised, when it could be read: finds a quarantined e-mail of a customer (erasure).
    from_address = models.CharField(max_length=320, blank=True)
    # The e-mail as it arrived. Empty for a duplicate: the first delivery's copy is the message.
    raw = models.BinaryField(editable=False)
    size = models.PositiveIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=InboundStatus.choices)
    error = models.TextField(blank=True)
    # What the ESP said about the e-mail (spam score, DKIM/SPF), as its webhook reported it.
    esp_verdict = models.JSONField(default=dict, blank=True)
    message = models.ForeignKey(
        "support.Message",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="inbound_emails",
    )
    attempts = models.PositiveSmallIntegerField(default=1)
    received_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name = "inbound e-mail"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=InboundStatus.values),
                name="inboundemail_status_valid",
            ),
            # A stored, ignored or duplicate e-mail became (or is) a message; a quarantined one
            # did not.
            models.CheckConstraint(
                condition=models.Q(status=InboundStatus.QUARANTINED, message__isnull=True)
                | (~models.Q(status=InboundStatus.QUARANTINED) & models.Q(message__isnull=False)),
                name="inboundemail_message_iff_not_quarantined",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="inboundemail_status_idx"),
            models.Index(fields=["message_id_header"], name="inboundemail_message_id_idx"),
            models.Index(fields=["sha256"], name="inboundemail_sha256_idx"),
            models.Index(fields=["from_address"], name="inboundemail_from_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.door} <{self.message_id_header}> {self.status}"

    @property
    def is_quarantined(self) -> bool:
        return self.status == InboundStatus.QUARANTINED
