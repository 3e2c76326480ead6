"""Pydantic schemas of the public API (shapes fixed by CONTRACTS.md; extra fields are additions)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field

from support.models import Draft, DraftStatus, EscalationReason, Sentiment, Urgency


def _storable(value: str) -> str:
    """Text PostgreSQL can store: no NUL characters, no lone surrogates (from JSON escapes)."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode (no unpaired surrogates)") from None
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_storable)]
Body = Annotated[str, AfterValidator(_storable), AfterValidator(_not_blank)]
Ref = Annotated[str, Field(max_length=200), AfterValidator(_storable)]


class MessageIn(Schema):
    conversation_id: uuid.UUID | None = None
    customer_ref: Ref | None = None
    body: Body


class Accepted(Schema):
    id: uuid.UUID = Field(description="The customer message's id.")
    conversation_id: uuid.UUID
    status: Literal["PENDING"]
    draft_id: uuid.UUID


class Citation(Schema):
    kb_id: int
    title: str
    snippet: str


class Guard(Schema):
    grounded: bool
    tone: bool
    policy: bool
    reasons: list[str]


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

    @staticmethod
    def of(draft: Draft) -> dict[str, Any]:
        return {
            "id": draft.pk,
            "message_id": draft.message_id,
            "conversation_id": draft.conversation_id,
            "status": draft.status,
            "escalation_reason": draft.escalation_reason or None,
            "intent": draft.intent or None,
            "category": draft.category or None,
            "sentiment": draft.sentiment or None,
            "urgency": draft.urgency or None,
            "answer": draft.answer,
            "citations": [
                {key: c.get(key) for key in ("kb_id", "title", "snippet")} for c in draft.citations
            ],
            "suggested_action": draft.suggested_action or None,
            "confidence": draft.confidence,
            "guard": draft.guard,
            "model": draft.model,
            "prompt_version": draft.prompt_version,
            "tokens": draft.tokens,
            "cost": float(draft.cost),
            "latency_ms": draft.latency_ms,
            "created_at": draft.created_at,
            "reviewed_at": draft.reviewed_at,
            "sent_text": draft.sent_text if draft.status == DraftStatus.SENT else None,
            "reject_reason": draft.reject_reason or None,
        }


class DraftPage(Schema):
    items: list[DraftOut]
    next_cursor: str | None


class ApproveIn(Schema):
    edited: Annotated[str, Field(max_length=32 * 1024), AfterValidator(_storable)] | None = None


class RejectIn(Schema):
    reason: Annotated[str, Field(max_length=2000), AfterValidator(_storable)] | None = None


class MessageOut(Schema):
    id: uuid.UUID
    role: Literal["CUSTOMER", "AGENT", "SYSTEM"]
    body: str
    created_at: datetime
    draft: DraftOut | None


class ConversationOut(Schema):
    id: uuid.UUID
    status: Literal["OPEN", "ESCALATED", "RESOLVED"]
    customer_ref: str | None
    channel: str
    created_at: datetime
    messages: list[MessageOut]
