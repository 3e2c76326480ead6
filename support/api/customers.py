"""A customer's timeline (scope read): GET /customers/{ref}/conversations, their conversations on
every channel, newest first (`Conversation.objects.of_customer`, which the console's side column
uses too).

A customer's data rights (scope privacy, which only superusers' sessions and keys a superuser
made hold): GET /customers/{ref}/export returns everything stored about them, DELETE
/customers/{ref} erases it (support/customer_data.py). Both are audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from resolver.api.auth import actor_of, scoped
from resolver.api.errors import ERRORS, ApiError
from resolver.models import Scope
from support import customer_data
from support.models import Channel, Conversation, ConversationStatus, Customer

router = Router(tags=["customers"])


class TimelineQuery(Schema):
    limit: int = Field(20, ge=1, le=100)


class TimelineItem(Schema):
    id: str
    channel: Channel
    status: ConversationStatus
    subject: str | None
    started_at: datetime
    last_message_at: datetime | None
    # The latest draft's intent (a draft still pending has none yet).
    intent: str | None
    # Written when the conversation resolves (support/memory.py); null until then.
    summary: str | None


class Timeline(Schema):
    items: list[TimelineItem]


def _timeline_item(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": str(conversation.pk),
        "channel": conversation.channel,
        "status": conversation.status,
        "subject": conversation.subject or None,
        "started_at": conversation.created_at,
        "last_message_at": conversation.last_message_at,
        "intent": getattr(conversation, "latest_intent", None) or None,
        "summary": conversation.summary or None,
    }


@router.get(
    "/customers/{ref}/conversations",
    response={200: Timeline, **ERRORS},
    auth=scoped(Scope.READ),
)
def customer_conversations(
    request: HttpRequest, ref: str, query: Query[TimelineQuery]
) -> dict[str, Any]:
    """The customer's conversations, all channels, newest first: those linked to their customer
    record and those an API integration started with the reference; never anonymised ones.
    404 when nothing is known of the reference, as GET /customers/{ref}/export answers (the
    read scope is staff's: telling that a reference is unknown reveals nothing to a customer)."""
    ref = customer_data.check_ref(ref)
    conversations = Conversation.objects.of_customer(ref).with_timeline_facts()
    items = [_timeline_item(c) for c in conversations[: query.limit]]
    if not items and not Customer.objects.filter(ref=ref).exists():
        raise ApiError(404, "no customer or conversation has this reference", "not_found")
    return {"items": items}


class CustomerExport(Schema):
    customer_ref: str
    exported_at: datetime
    # Per model ("support.Message"): its rows in Django's serialised form (model, pk, fields).
    data: dict[str, list[dict[str, Any]]]


class Erased(Schema):
    # Per model: the rows deleted or anonymised (models with none are left out).
    erased: dict[str, int]


@router.get(
    "/customers/{ref}/export",
    response={200: CustomerExport, **ERRORS},
    auth=scoped(Scope.PRIVACY),
)
def export_customer(request: HttpRequest, ref: str) -> dict[str, Any]:
    return customer_data.export(ref, actor_of(request))


@router.delete("/customers/{ref}", response={200: Erased, **ERRORS}, auth=scoped(Scope.PRIVACY))
def erase_customer(request: HttpRequest, ref: str) -> dict[str, Any]:
    return {"erased": customer_data.do_erase(ref, actor_of(request))}
