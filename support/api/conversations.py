"""GET /conversations/{id}: the thread with each customer message's latest draft;
POST /conversations/{id}/resolve: an agent closes it (support.review.resolve)."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Router

from resolver.api.auth import actor_of, scoped
from resolver.api.errors import ERRORS
from resolver.models import Scope
from support import review
from support.api.schemas import ConversationOut
from support.models import (
    Conversation,
    Draft,
    EmailEnvelope,
    Message,
    MessageRole,
    ReplyDelivery,
)

router = Router(tags=["conversations"])


def _message_id_header(message: Message) -> str | None:
    """An e-mail message's Message-ID, the customer's or our reply's (what threads it), as the
    header carries it (RFC 5322's msg-id, in angle brackets: a client copies it into In-Reply-To
    as it is). Stored bare, as the threading looks it up."""
    try:
        return f"<{message.email.message_id_header}>"
    except EmailEnvelope.DoesNotExist:
        return None


def thread(conversation: Conversation) -> list[dict[str, Any]]:
    latest_first = Prefetch(
        "drafts", queryset=Draft.objects.with_actions().order_by("-created_at", "-id")
    )
    messages = (
        Message.objects.filter(conversation=conversation)
        .select_related("delivery", "email")
        .prefetch_related(latest_first, "attachments")
    )
    return [
        {
            "id": message.pk,
            "role": message.role,
            "body": message.body,
            "created_at": message.created_at,
            "draft": next((d.as_wire() for d in message.drafts.all()), None),
            "delivery": delivery.as_wire() if (delivery := _delivery(message)) else None,
            "attachments": [a.as_wire() for a in message.attachments.all()],
            "message_id_header": _message_id_header(message),
            "ignored_reason": message.ignored_reason or None,
            "verified_by": message.verified_by if message.role == MessageRole.CUSTOMER else None,
        }
        for message in messages.order_by("created_at", "id")
    ]


def _delivery(message: Message) -> ReplyDelivery | None:
    try:
        return message.delivery
    except ReplyDelivery.DoesNotExist:
        return None


@router.get(
    "/conversations/{conversation_id}",
    response={200: ConversationOut, **ERRORS},
    auth=scoped(Scope.READ),
)
def read_conversation(request: HttpRequest, conversation_id: uuid.UUID) -> dict[str, Any]:
    return _conversation_out(Conversation.objects.get(pk=conversation_id))


@router.post(
    "/conversations/{conversation_id}/resolve",
    response={200: ConversationOut, **ERRORS},
    auth=scoped(Scope.ACT),
)
def resolve_conversation(request: HttpRequest, conversation_id: uuid.UUID) -> dict[str, Any]:
    """Closes the conversation: its open drafts are closed unanswered; a new customer message
    reopens it. 409 if it is already resolved."""
    return _conversation_out(review.resolve(conversation_id, actor_of(request)))


def _conversation_out(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "customer_ref": conversation.customer_ref or None,
        "channel": conversation.channel,
        "subject": conversation.subject or None,
        "created_at": conversation.created_at,
        "resolved_at": conversation.resolved_at,
        "messages": thread(conversation),
    }
