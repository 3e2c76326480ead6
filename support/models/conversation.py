from __future__ import annotations

import base64
import secrets
import uuid

from django.db import connection, models
from django.db.models.functions import Left
from django.utils import timezone

from support.models.customer import Customer
from support.models.draft import Draft
from support.models.message import Message, MessageRole


class ConversationStatus(models.TextChoices):
    """OPEN → ESCALATED (a draft was escalated) → RESOLVED (support.review.resolve); a customer
    message on a RESOLVED conversation opens it again (not one stored as ignored: an
    out-of-office or a bounce)."""

    OPEN = "OPEN", "Open"
    ESCALATED = "ESCALATED", "Escalated"
    RESOLVED = "RESOLVED", "Resolved"


class Channel(models.TextChoices):
    """Where the customer wrote from, and so how a reply reaches them (support/outbound/): the API
    integration's `reply.sent` webhook, a widget push, an e-mail."""

    API = "api", "API"
    WIDGET = "widget", "Widget"
    EMAIL = "email", "E-mail"


def new_thread_token() -> str:
    # Shown in e-mail subjects as [#token]: 13 base32 characters, 64 random bits (a collision
    # among a million conversations: about 3 in 100 million; the unique constraint refuses one).
    # Not a secret: a token joins a conversation only for its customer or a known participant.
    return base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=").lower()


# How much of a conversation's first customer message a timeline row carries (its preview).
OPENING_CHARS = 300


# The first key of the advisory lock a customer reference takes (the second: its hash).
CUSTOMER_LOCK_SPACE = 1_818_001


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def of_customer(self, ref: str) -> ConversationQuerySet:
        """The conversations of the customer known by `ref`, all channels, newest first (the
        customer's timeline: GET /customers/{ref}/conversations, the console's side column).

        Those linked to their Customer row (a verified sender links it, whatever the channel)
        and those an API integration named by the reference (a key vouched for it). Not a
        widget's or an e-mail's bare `customer_ref`: that is a claim anyone can make, and a
        stranger's conversation must not join a customer's history. Never an anonymised one:
        its customer's words and reference are gone."""
        if not ref:
            return self.none()
        # A scalar subquery, not a join: PostgreSQL runs it once and can then OR two index
        # scans (the customer FK's and conversation_customer_ref_idx).
        customer_id = models.Subquery(Customer.objects.filter(ref=ref).values("pk")[:1])
        named = models.Q(customer_id=customer_id) | models.Q(customer_ref=ref, channel=Channel.API)
        return self.filter(named, anonymised_at__isnull=True).order_by("-created_at", "-id")

    def with_timeline_facts(self) -> ConversationQuerySet:
        """Annotates what a timeline row shows besides the conversation's own columns, in the
        same query (no query per row): `latest_intent` (the intent of its latest draft that has
        one: a draft still pending has none yet) and `opening` (the start of its first customer
        message, the row's preview when it has no subject)."""
        drafts = Draft.objects.filter(conversation=models.OuterRef("pk")).exclude(intent="")
        first = Message.objects.filter(
            conversation=models.OuterRef("pk"), role=MessageRole.CUSTOMER
        ).order_by("created_at", "id")
        return self.annotate(
            latest_intent=models.Subquery(
                drafts.order_by("-created_at", "-id").values("intent")[:1]
            ),
            opening=Left(models.Subquery(first.values("body")[:1]), OPENING_CHARS),
        )

    def lock_customer(self, ref: str) -> None:
        """Serialises, for one customer reference, starting a conversation with erasing their
        data (a transaction-level advisory lock): an erasure sees every conversation committed
        before it, and one started after it is a new customer's."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [CUSTOMER_LOCK_SPACE, ref]
            )

    # Conditional UPDATEs rather than save(): callers may hold a stale copy, and saving its
    # status would undo a change another transaction committed meanwhile.

    def escalate(self, pk: object) -> None:
        """Hands the conversation to humans, unless it was resolved."""
        self.filter(pk=pk).exclude(status=ConversationStatus.RESOLVED).update(
            status=ConversationStatus.ESCALATED, updated_at=timezone.now()
        )

    def touched(self, pk: object, *, reopen: bool = True) -> None:
        """A new customer message: bump last_message_at and reopen it if it was resolved.
        `reopen=False` for a message nobody is to answer (an out-of-office, a bounce): it is
        shown in the conversation but leaves a resolved one resolved, as resolving promised
        "until the customer writes again"."""
        now = timezone.now()
        if not reopen:
            self.filter(pk=pk).update(last_message_at=now, updated_at=now)
            return
        resolved = models.Q(status=ConversationStatus.RESOLVED)
        self.filter(pk=pk).update(
            last_message_at=now,
            updated_at=now,
            status=models.Case(
                models.When(resolved, then=models.Value(ConversationStatus.OPEN)),
                default=models.F("status"),
            ),
            resolved_at=models.Case(
                models.When(resolved, then=None), default=models.F("resolved_at")
            ),
        )


class Conversation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.CharField(
        max_length=16, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.API)
    customer = models.ForeignKey(
        "support.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="conversations",
    )
    # Kept as given by the caller even when no Customer row exists for it.
    customer_ref = models.CharField(max_length=200, blank=True)
    # E-mail: the first message's subject (replies answer "Re: " the latest one's), and the
    # token in our replies' subjects that threads a customer's reply whose headers were lost.
    subject = models.CharField(max_length=500, blank=True)
    thread_token = models.CharField(max_length=16, unique=True, default=new_thread_token)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Set when the customer's data was erased or retention anonymised it (support/customer_data.py):
    # the rows stay for the dashboards, without the customer's words or reference.
    anonymised_at = models.DateTimeField(null=True, blank=True)
    # Written when the conversation resolves (support/memory.py): what a later draft for the
    # same verified customer sees of it; erased with the customer's words.
    summary = models.TextField(blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ConversationStatus.values),
                name="conversation_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=Channel.values), name="conversation_channel_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-updated_at"], name="conversation_status_idx"),
            models.Index(fields=["customer_ref"], name="conversation_customer_ref_idx"),
            # Retention: the conversations idle longest first (support/customer_data.py).
            models.Index(fields=["updated_at"], name="conversation_updated_idx"),
            # The dashboard's deflection rate: the window's widget conversations.
            models.Index(fields=["channel", "created_at"], name="conversation_channel_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_ref or 'anonymous'} · {self.status}"

    @property
    def is_email(self) -> bool:
        return self.channel == Channel.EMAIL

    @property
    def is_resolved(self) -> bool:  # for templates, which cannot name the vocabulary
        return self.status == ConversationStatus.RESOLVED
