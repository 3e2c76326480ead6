"""Pydantic schemas of the public API (shapes fixed by CONTRACTS.md; extra fields are additions)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import Field

from resolver.api.types import Body, Ref, Text
from support.models import (
    Channel,
    ConversationStatus,
    DraftStatus,
    EscalationReason,
    IgnoredReason,
    MessageRole,
    RejectCategory,
    ReplyDeliveryStatus,
    Sentiment,
    Urgency,
)
from support.vocabulary import ActionStatus, DocumentStatus, MissingFact, Verification


class MessageIn(Schema):
    conversation_id: uuid.UUID | None = None
    customer_ref: Ref | None = None
    body: Body


class Accepted(Schema):
    id: uuid.UUID = Field(description="The customer message's id.")
    conversation_id: uuid.UUID
    status: Literal[DraftStatus.PENDING]
    draft_id: uuid.UUID
    trace_id: str = Field(
        # Default "": an Idempotency-Key replay serves the stored answer, and answers stored
        # before trace ids (an install upgraded within the keys' retention) have none.
        "",
        description="W3C trace id of this request (the caller's traceparent, if sent): the same "
        "on the draft and every event of the message.",
    )


class Citation(Schema):
    kb_id: int
    title: str
    snippet: str


class Guard(Schema):
    grounded: bool
    tone: bool
    policy: bool
    reasons: list[str]


class Mismatch(Schema):
    field: str  # order_number, amount, currency, email, tracking_number, date
    document: str  # what the document says
    record: str | None  # what our records say (None: no such record for this customer)
    order: str | None = None  # the customer's order compared (amount, currency)


class DocumentRead(Schema):
    attachment_id: uuid.UUID
    filename: str = ""
    status: DocumentStatus
    fields: dict[str, list[str]]
    mismatches: list[Mismatch]


class DraftContext(Schema):
    earlier_conversations: list[uuid.UUID]
    documents: list[DocumentRead]
    missing: list[MissingFact] = Field(
        default_factory=list, description="Facts the message lacks for its intent."
    )


class ActionOut(Schema):
    """An operational move proposed with a draft (support/actions/)."""

    id: uuid.UUID
    name: str = Field(description="One of GET /actions.")
    arguments: dict[str, Any]
    status: ActionStatus
    result: Any = Field(description="What the backend answered when it ran.")
    error: str | None = Field(None, description="Why it failed, or why it was rejected.")
    decided_by: str | None = Field(description="The user who approved or rejected it.")
    decided_at: datetime | None


class DraftOut(Schema):
    id: uuid.UUID
    message_id: uuid.UUID
    conversation_id: uuid.UUID
    # The vocabulary is the models' TextChoices (support/models/draft.py), never a copy.
    status: DraftStatus
    escalation_reason: EscalationReason | None
    intent: str | None
    category: str | None
    sentiment: Sentiment | None
    urgency: Urgency | None
    language: str | None = Field(
        description="The customer message's language (ISO 639-1, or 'und': too short or "
        "unclear to tell); null until the draft is triaged."
    )
    answer: str
    citations: list[Citation]
    suggested_action: str | None
    confidence: float | None
    guard: Guard
    model: str
    prompt_version: str
    tokens: int
    cost: float
    latency_ms: int | None
    created_at: datetime
    # Additions: what a human did with it.
    reviewed_at: datetime | None
    sent_text: str | None
    reject_reason: str | None
    reject_category: RejectCategory | None
    trace_id: str | None = Field(
        description="W3C trace id of the request that brought the message (one trace per message)."
    )
    context: DraftContext
    actions: list[ActionOut] = Field(default_factory=list)
    answer_digest: str = Field(
        description="Names the answer's text: pass it back as `basis` when approving with"
        " `edited`, so an approval made on an answer rewritten since is refused (409)."
    )


class DraftPage(Schema):
    items: list[DraftOut]
    next_cursor: str | None


class ApproveIn(Schema):
    edited: Annotated[Text, Field(max_length=32 * 1024)] | None = None
    # The answer_digest of the answer `edited` was made from (an addition).
    basis: Annotated[Text, Field(max_length=64)] | None = None


class CorrectIn(Schema):
    text: Annotated[Text, Field(min_length=1, max_length=32 * 1024)]


class CorrectedOut(Schema):
    draft_id: uuid.UUID
    message_id: uuid.UUID
    body: str


class RejectIn(Schema):
    reason: Annotated[Text, Field(max_length=2000)] | None = None
    category: RejectCategory | None = None


class ActionApproveIn(Schema):
    # The arguments as the agent corrected them; absent = as proposed.
    arguments: dict[str, Any] | None = None


class ActionRejectIn(Schema):
    reason: Annotated[Text, Field(max_length=2000)] | None = None


class DeliveryOut(Schema):
    """How an AGENT message reached the customer (ReplyDelivery.as_wire)."""

    status: ReplyDeliveryStatus = Field(
        description="queued → sent | failed (every attempt failed) | bounced (sent, then returned)"
    )
    attempts: int
    last_error: str | None
    sent_at: datetime | None


class AttachmentOut(Schema):
    id: uuid.UUID = Field(description="GET /attachments/{id} downloads it.")
    filename: str
    content_type: str = Field(description="Sniffed from the bytes, not the sender's claim.")
    size: int


class MessageOut(Schema):
    id: uuid.UUID
    role: MessageRole
    body: str
    created_at: datetime
    draft: DraftOut | None
    # Additions (2026-12-05).
    delivery: DeliveryOut | None = Field(
        None,
        description="An AGENT message a transport delivers (e-mail, the reply.sent webhook); "
        "null for the widget's and for messages of customers.",
    )
    attachments: list[AttachmentOut] = Field(default_factory=list)
    message_id_header: str | None = Field(
        None,
        description="An e-mail message (the customer's or our reply): its RFC 5322 Message-ID.",
    )
    ignored_reason: IgnoredReason | None = Field(
        None, description="A customer message stored but never drafted, and why."
    )
    verified_by: Verification | None = Field(
        None,
        description='A customer message: how its sender was verified ("" = unverified: a '
        "claim, no customer's orders or history reach its draft); null for other messages.",
    )


class ConversationOut(Schema):
    id: uuid.UUID
    status: ConversationStatus
    customer_ref: str | None
    channel: Channel
    subject: str | None = Field(description="E-mail conversations: the first message's subject.")
    created_at: datetime
    resolved_at: datetime | None
    messages: list[MessageOut]
