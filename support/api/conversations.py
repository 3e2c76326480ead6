"""GET /conversations/{id}: the thread with each customer message's latest draft."""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Router

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS
from support.api.schemas import ConversationOut, DraftOut
from support.models import Conversation, Draft, Message, Scope

router = Router(tags=["conversations"])


def thread(conversation: Conversation) -> list[dict[str, Any]]:
    latest_first = Prefetch("drafts", queryset=Draft.objects.order_by("-created_at", "-id"))
    messages = Message.objects.filter(conversation=conversation).prefetch_related(latest_first)
    return [
        {
            "id": message.pk,
            "role": message.role,
            "body": message.body,
            "created_at": message.created_at,
            "draft": next((DraftOut.of(d) for d in message.drafts.all()), None),
        }
        for message in messages.order_by("created_at", "id")
    ]


@router.get(
    "/conversations/{conversation_id}",
    response={200: ConversationOut, **ERRORS},
    auth=scoped(Scope.READ),
)
def read_conversation(request: HttpRequest, conversation_id: uuid.UUID) -> dict[str, Any]:
    conversation = Conversation.objects.get(pk=conversation_id)
    return {
        "id": conversation.pk,
        "status": conversation.status,
        "customer_ref": conversation.customer_ref or None,
        "channel": conversation.channel,
        "created_at": conversation.created_at,
        "messages": thread(conversation),
    }
