"""Every e-mail that reached one of the inbound doors, kept as it arrived
(support/email/receive.py): the raw RFC 5322 bytes, which door, what became of it. An e-mail that
could not be parsed or stored waits here, quarantined with its error, until an admin reprocesses
it; the e-mails after it are not held up."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone


class InboundStatus(models.TextChoices):
    STORED = "stored", "Stored (drafted)"
    IGNORED = "ignored", "Stored, not drafted"  # the message's ignored_reason says why
    DUPLICATE = "duplicate", "Duplicate"  # its Message-ID came in before: `message` is that one
    QUARANTINED = "quarantined", "Quarantined"  # failed to parse or store: `error`, reprocessable
    # Handed over again after its words were erased (ErasedEmail): nothing of it is kept.
    ERASED = "erased", "Erased before: not stored again"


WITHOUT_MESSAGE = (InboundStatus.QUARANTINED, InboundStatus.ERASED)


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
            # did not, nor one erased before.
            models.CheckConstraint(
                condition=models.Q(status__in=WITHOUT_MESSAGE, message__isnull=True)
                | (~models.Q(status__in=WITHOUT_MESSAGE) & models.Q(message__isnull=False)),
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


def erased_digest(message_id: str) -> str:
    """A keyed hash of a Message-ID (SECRET_KEY): it tells the same e-mail again, and names
    nobody (a Message-ID often holds its sender's address or domain)."""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, message_id.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


class ErasedEmailQuerySet(models.QuerySet["ErasedEmail"]):
    def record(self, message_ids: Iterable[str]) -> None:
        """Remembers these e-mails as erased (again: nothing changes)."""
        digests = {erased_digest(message_id) for message_id in message_ids if message_id}
        self.bulk_create([self.model(digest=digest) for digest in digests], ignore_conflicts=True)

    def holds(self, message_id: str) -> bool:
        return bool(message_id) and self.filter(digest=erased_digest(message_id)).exists()


class ErasedEmail(models.Model):
    """An e-mail whose words were erased (the customer's erasure, or retention), by its
    Message-ID's keyed hash. The mailbox keeps its copy: an IMAP folder read again from the start
    (its UIDVALIDITY changed: a restored or migrated mailbox), or an ESP's late retry, hands it
    over again, and without this it came back as a new conversation of the erased customer,
    drafted and answered. A new e-mail of theirs has a new Message-ID and is stored as usual."""

    digest = models.CharField(max_length=64, primary_key=True)
    erased_at = models.DateTimeField(default=timezone.now)

    objects = ErasedEmailQuerySet.as_manager()

    def __str__(self) -> str:
        return self.digest[:12]
