"""POST /messages (ingest) and POST /messages/{id}/reprocess."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Header, Router, Status

from resolver.api.auth import actor_of, scoped
from resolver.api.errors import ERRORS, ApiError
from resolver.api.idempotency import check_key, once
from resolver.models import Scope
from support import review
from support.api.schemas import Accepted, MessageIn
from support.inbound import receive_message
from support.models import Channel, Conversation, Draft, Message
from support.vocabulary import Verification

router = Router(tags=["messages"])


def _conversation(payload: MessageIn) -> Conversation | None:
    if payload.conversation_id is None:
        return None
    conversation = Conversation.objects.filter(pk=payload.conversation_id).first()
    if conversation is None:
        raise ApiError(404, "no such conversation")
    ref = payload.customer_ref
    if ref and conversation.customer_ref and ref != conversation.customer_ref:
        raise ApiError(409, "the conversation belongs to another customer_ref")
    return conversation


def _verification(payload: MessageIn, conversation: Conversation | None) -> str:
    """A customer_ref sent with an API key is trusted: the integrator authenticated it
    (CONTRACTS.md, "Identity"); so is a message to an API conversation that has one. A message
    the API adds to a widget or e-mail conversation vouches for nobody."""
    if payload.customer_ref:
        return Verification.API_KEY
    if (
        conversation is not None
        and conversation.customer_ref
        and conversation.channel == Channel.API
    ):
        return Verification.API_KEY
    return Verification.NONE


def _check_size(body: str) -> None:
    size = len(body.encode("utf-8"))
    if size > settings.API_MESSAGE_MAX_BYTES:
        limit = settings.API_MESSAGE_MAX_BYTES
        raise ApiError(413, f"the message body is {size} bytes; the limit is {limit}")


def _accepted(message: Message, draft: Draft) -> dict[str, Any]:
    return {
        "id": str(message.pk),
        "conversation_id": str(message.conversation_id),
        "status": draft.status,
        "draft_id": str(draft.pk),
        "trace_id": message.trace_id or draft.trace_id,
    }


@router.post("/messages", response={202: Accepted, **ERRORS}, auth=scoped(Scope.INGEST))
def ingest(
    request: HttpRequest,
    payload: MessageIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Status[dict[str, Any]]:
    """Stores the message and a PENDING draft, then queues the agent run (after commit)."""
    _check_size(payload.body)
    key = check_key(idempotency_key) if idempotency_key else None

    def create() -> tuple[int, dict[str, Any]]:
        conversation = _conversation(payload)
        message, draft = receive_message(
            payload.body,
            conversation=conversation,
            customer_ref=payload.customer_ref or "",
            channel=Channel.API,
            verified_by=_verification(payload, conversation),
        )
        return 202, _accepted(message, draft)

    status, body = once(actor_of(request).owner, key, payload.model_dump(mode="json"), create)
    return Status(status, body)


@router.post(
    "/messages/{message_id}/reprocess", response={202: Accepted, **ERRORS}, auth=scoped(Scope.ACT)
)
def reprocess(request: HttpRequest, message_id: uuid.UUID) -> Status[dict[str, Any]]:
    """Runs the agent again for a customer message; its open drafts are closed as superseded."""
    draft = review.reprocess(message_id, actor_of(request))
    return Status(202, _accepted(draft.message, draft))
