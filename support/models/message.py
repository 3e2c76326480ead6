from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from support.vocabulary import Verification

PREVIEW_CHARS = 140
# In an e-mail's `metadata`: how many of its parts were not kept as attachments (more than
# ATTACHMENT_MAX_COUNT; support/email/receive.py). The raw e-mail keeps them.
ATTACHMENTS_NOT_KEPT = "attachments_not_kept"


class MessageRole(models.TextChoices):
    CUSTOMER = "CUSTOMER", "Customer"
    AGENT = "AGENT", "Agent"
    SYSTEM = "SYSTEM", "System"


class IgnoredReason(models.TextChoices):
    """Why a stored customer message is neither drafted nor answered: mail no person wrote to
    us, which answering would only loop (support/email/loops.py)."""

    AUTO_REPLY = "auto_reply", "Automatic reply (out of office, auto-responder)"
    BOUNCE = "bounce", "Bounce or delivery report"
    LOOP = "loop", "Mail loop (our own reply came back)"
    OWN_ADDRESS = "own_address", "Sent from our own address"
    MAILING_LIST = "mailing_list", "Mailing list or bulk mail"
    RATE_LIMITED = "rate_limited", "The sender flooded the inbox"
    SPAM = "spam", "The ESP found spam or a virus in it"
    # Never a stored message's (nothing is stored): what a door hears of an e-mail handed over
    # again after its customer's data was erased (support/email/receive.py, ErasedEmail).
    ERASED = "erased", "Its words were erased: not stored again"


# The reasons a stored message may carry: ERASED never is one (nothing is stored), and leaving it
# out kept migration 0045 from re-checking every message under a lock.
STORED_REASONS = [reason for reason in IgnoredReason.values if reason != IgnoredReason.ERASED]


class Message(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by message_conversation_time_idx (conversation, created_at) below.
    conversation = models.ForeignKey(
        "support.Conversation", on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    role = models.CharField(max_length=16, choices=MessageRole.choices)
    body = models.TextField()
    # The agent who wrote or approved an AGENT message; null for customers and automation.
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    # True when an AGENT message was sent by the auto-send policy without a human.
    automated = models.BooleanField(default=False)
    # The W3C trace id of the request that brought the message: its events, drafts and
    # reprocesses carry it, so one trace shows everything that happened to it.
    trace_id = models.CharField(max_length=32, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    # The draft an AGENT reply sent (support/review.py): a customer's rating of the reply is
    # evidence about that draft (support/autonomy/evidence.py). Not personal data: kept by
    # erasure, unlike `metadata`.
    draft = models.ForeignKey(
        "support.Draft", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # A customer message stored but not drafted, and why ("" for every message that is).
    ignored_reason = models.CharField(max_length=16, choices=IgnoredReason.choices, blank=True)
    # How the sender was verified ("" = unverified: the console marks it; no memory for it).
    verified_by = models.CharField(max_length=16, choices=Verification.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=MessageRole.values), name="message_role_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(body__regex=r"\S"),
                name="message_body_not_blank",
            ),
            models.CheckConstraint(
                condition=models.Q(ignored_reason__in=[*STORED_REASONS, ""]),
                name="message_ignored_reason_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(verified_by__in=Verification.values),
                name="message_verified_by_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["conversation", "created_at"], name="message_conversation_time_idx"
            ),
            # The admin's list, newest first (its order ends with the id: deterministic pages).
            models.Index(fields=["-created_at", "-id"], name="message_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.body[:60]}"

    def as_widget_json(self) -> dict[str, object]:
        """How the chat widget shows this message (JSON-ready)."""
        return {
            "id": str(self.pk),
            "role": self.role.lower(),
            "body": self.body,
            "created_at": self.created_at.isoformat(),
            "automated": self.automated,
        }

    @property
    def attachments_not_kept(self) -> int:
        return int((self.metadata or {}).get(ATTACHMENTS_NOT_KEPT) or 0)

    @property
    def sender_verified(self) -> bool:
        return bool(self.verified_by)

    @property
    def preview(self) -> str:
        """The first non-blank line, for one-line lists such as the console queue."""
        line = next((line.strip() for line in self.body.splitlines() if line.strip()), "")
        return line if len(line) <= PREVIEW_CHARS else line[: PREVIEW_CHARS - 1] + "…"
