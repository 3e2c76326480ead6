"""The chat widget's API (/api/v1/widget/...): what the panel shows before anything is written
(`config`) and a conversation started with a public widget key, then read and written with the
conversation token. The widget starts its conversation only with the visitor's first message (a
visitor a help article answered leaves none). Customers see only customer and agent messages,
never drafts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from ninja import Header, Router, Schema, Status
from pydantic import Field

from resolver.api.errors import ERRORS, ApiError
from resolver.api.idempotency import check_key, once
from resolver.api.types import Text
from support.api.schemas import Body, Ref
from support.customers import customer_for_ref
from support.inbound import rate_reply, receive_message
from support.models import (
    Channel,
    Conversation,
    CustomerRating,
    DraftStatus,
    Message,
    MessageRole,
    WidgetKey,
)
from support.vocabulary import Verification
from support.widget import tokens
from support.widget.access import TokenAuth, Visitor, visitor_of, widget_key
from support.widget.identity import check_customer_hash

router = Router(tags=["widget"])
# A widget's customer_ref without its valid hash is whatever the host page claims: it is
# namespaced so that it never names a real customer (whose orders the agent would then describe
# to this visitor). With its hash (support/widget/identity.py) it is the customer's own ref.
REF_PREFIX = "widget:"
REF_MAX_CHARS = Conversation._meta.get_field("customer_ref").max_length or 200
# Hex HMAC-SHA256: 64 characters; a longer value is not a hash (and is anonymous, not a 422).
HASH_MAX_CHARS = 128
VISIBLE_ROLES = (MessageRole.CUSTOMER, MessageRole.AGENT)
# Messages a widget page loads: the latest this many.
HISTORY_MAX = 200


class StartIn(Schema):
    customer_ref: Ref | None = None
    # Not validated beyond its type: a wrong or malformed hash starts an anonymous conversation,
    # never an error the page would show its visitor.
    customer_hash: str | None = None


class Session(Schema):
    conversation_id: uuid.UUID
    token: str
    expires_at: datetime


class WidgetConfig(Schema):
    company_name: str
    colour: str
    greeting: str
    max_chars: int


class StartOut(Session, WidgetConfig):
    pass


class WidgetMessageIn(Schema):
    body: Body


class WidgetAccepted(Schema):
    id: uuid.UUID
    conversation_id: uuid.UUID
    status: Literal[DraftStatus.PENDING]
    created_at: datetime


class WidgetMessage(Schema):
    id: uuid.UUID
    role: Literal["customer", "agent"]
    body: str
    created_at: datetime
    automated: bool


class RatingIn(Schema):
    score: Literal[1, -1]
    comment: Annotated[Text, Field(max_length=2000)] | None = None


class RatingOut(Schema):
    id: int
    score: int
    comment: str
    message_id: uuid.UUID


class WidgetRating(Schema):
    message_id: uuid.UUID
    score: int


class WidgetConversation(Schema):
    id: uuid.UUID
    status: str
    waiting: bool  # the last message is the customer's: an agent is on it
    messages: list[WidgetMessage]  # the latest HISTORY_MAX, oldest first
    earlier_omitted: bool = False  # more, older messages exist than are shown
    # The customer's rating of the latest agent reply shown (the one the widget asks about),
    # null when it is not rated: a reloaded widget does not ask again.
    rating: WidgetRating | None = None


def session(
    conversation_id: uuid.UUID, key_id: int, verified: bool = False, verified_at: int | None = None
) -> dict[str, Any]:
    return {
        "conversation_id": conversation_id,
        "token": tokens.issue(conversation_id, key_id, verified, verified_at),
        "expires_at": timezone.now() + tokens.expires_in(),
    }


def start_conversation(ref: str, verified: bool) -> Conversation:
    """A new widget conversation: a verified ref's is the customer's own (linked to their
    Customer row, made under their lock when new); any other is anonymous or namespaced."""
    if not verified:
        return Conversation.objects.create(
            channel=Channel.WIDGET, customer_ref=f"{REF_PREFIX}{ref}" if ref else ""
        )
    with transaction.atomic():
        customer = customer_for_ref(ref)
        return Conversation.objects.create(
            channel=Channel.WIDGET, customer_ref=ref, customer=customer
        )


def _visitor_of_conversation(request: HttpRequest, conversation_id: uuid.UUID) -> Visitor:
    """The token's visitor, when the token is for this conversation (else 403)."""
    visitor = visitor_of(request)
    if visitor.grant.conversation_id != conversation_id:
        raise ApiError(403, "this token is for another conversation", "forbidden")
    return visitor


def _conversation(visitor: Visitor) -> Conversation:
    conversation = Conversation.objects.filter(pk=visitor.grant.conversation_id).first()
    if conversation is None:
        raise ApiError(404, "the conversation no longer exists")
    return conversation


def config_of(key: WidgetKey) -> dict[str, Any]:
    """What the panel shows and checks before a conversation exists: the key's settings."""
    return {
        "company_name": key.company_name,
        "colour": key.colour,
        "greeting": key.greeting,
        "max_chars": settings.WIDGET_MESSAGE_MAX_CHARS,
    }


@router.get("/widget/config", response={200: WidgetConfig, **ERRORS}, auth=None)
def config(request: HttpRequest) -> dict[str, Any]:
    """The key's name, colour, greeting and message limit, read-only: the panel opens with them
    and starts no conversation until the visitor sends a message. The Origin is checked when
    there is one (a same-origin GET, the demo page's, carries none); nothing here is secret."""
    return config_of(widget_key(request, origin_required=False))


@router.post("/widget/conversations", response={201: StartOut, **ERRORS}, auth=None)
def start(request: HttpRequest, payload: StartIn | None = None) -> Status[dict[str, Any]]:
    """Starts a conversation for the key in `X-Widget-Key` (from an origin it allows)."""
    key = widget_key(request)
    ref = payload.customer_ref if payload and payload.customer_ref else ""
    given = (payload.customer_hash or "")[:HASH_MAX_CHARS] if payload else ""
    verified = check_customer_hash(ref, given)
    if not verified and len(REF_PREFIX) + len(ref) > REF_MAX_CHARS:
        # Stored namespaced ("widget:<ref>"): the prefix leaves this much room for the claim.
        room = REF_MAX_CHARS - len(REF_PREFIX)
        raise ApiError(
            422, f"customer_ref: at most {room} characters without a valid customer_hash"
        )
    conversation = start_conversation(ref, verified)
    return Status(201, {**session(conversation.pk, key.pk, verified), **config_of(key)})


@router.post("/widget/token", response={200: Session, **ERRORS}, auth=TokenAuth(refresh=True))
def refresh(request: HttpRequest) -> dict[str, Any]:
    """A fresh token for the same conversation (accepted up to WIDGET_TOKEN_REFRESH_DAYS)."""
    visitor = visitor_of(request)
    grant = visitor.grant  # verified stays verified from when it was checked, not from now
    return session(_conversation(visitor).pk, visitor.key.pk, grant.verified, grant.verified_at)


@router.post("/widget/messages", response={202: WidgetAccepted, **ERRORS}, auth=TokenAuth())
def post_message(
    request: HttpRequest,
    payload: WidgetMessageIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Status[dict[str, Any]]:
    """The same ingest path as POST /messages: persisted, then queued after commit."""
    limit = settings.WIDGET_MESSAGE_MAX_CHARS
    if len(payload.body) > limit:
        raise ApiError(413, f"messages can be at most {limit} characters", "message_too_long")
    visitor = visitor_of(request)
    key = check_key(idempotency_key) if idempotency_key else None

    def create() -> tuple[int, dict[str, Any]]:
        conversation = _conversation(visitor)
        # The token was minted for this conversation's start: verified there, verified here.
        verified_by = Verification.WIDGET_HASH if visitor.grant.verified else Verification.NONE
        message, _ = receive_message(
            payload.body, conversation=conversation, verified_by=verified_by
        )
        accepted = {
            "id": str(message.pk),
            "conversation_id": str(conversation.pk),
            "status": DraftStatus.PENDING,
            "created_at": message.created_at.isoformat(),
        }
        return 202, accepted

    owner = f"widget:{visitor.grant.conversation_id}"
    status, body = once(owner, key, payload.model_dump(mode="json"), create)
    return Status(status, body)


@router.get(
    "/widget/conversations/{conversation_id}",
    response={200: WidgetConversation, **ERRORS},
    auth=TokenAuth(),
)
def read(request: HttpRequest, conversation_id: uuid.UUID) -> dict[str, Any]:
    """What the customer sees of their conversation."""
    conversation = _conversation(_visitor_of_conversation(request, conversation_id))
    # The latest HISTORY_MAX (message_conversation_time_idx backwards), oldest first: a
    # conversation grown without end must not be read and sent whole on every page load.
    visible = Message.objects.filter(conversation=conversation, role__in=VISIBLE_ROLES)
    latest = list(visible.order_by("-created_at", "-id")[: HISTORY_MAX + 1])
    messages = latest[:HISTORY_MAX][::-1]
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "waiting": bool(messages) and messages[-1].role == MessageRole.CUSTOMER,
        "messages": [message.as_widget_json() for message in messages],
        "earlier_omitted": len(latest) > HISTORY_MAX,
        "rating": _rating_of_latest_reply(messages),
    }


def _rating_of_latest_reply(messages: list[Message]) -> dict[str, Any] | None:
    """{"message_id", "score"} of the customer's rating of the latest agent reply among
    `messages`, or None (no reply, or not rated)."""
    replies = [message for message in messages if message.role == MessageRole.AGENT]
    if not replies:
        return None
    rating = CustomerRating.objects.filter(message_id=replies[-1].pk).first()
    return {"message_id": rating.message_id, "score": rating.score} if rating else None


@router.post(
    "/widget/conversations/{conversation_id}/rating",
    response={201: RatingOut, **ERRORS},
    auth=TokenAuth(),
)
def rate(
    request: HttpRequest, conversation_id: uuid.UUID, payload: RatingIn
) -> Status[dict[str, Any]]:
    """Thumbs up or down (and a comment) on the latest agent reply; again: the rating changes."""
    _visitor_of_conversation(request, conversation_id)
    rating = rate_reply(conversation_id, payload.score, payload.comment or "")
    body = {
        "id": rating.pk,
        "score": rating.score,
        "comment": rating.comment,
        "message_id": rating.message_id,
    }
    return Status(201, body)
