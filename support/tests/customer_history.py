"""A customer with conversations on every channel, and the conversations that must stay out of
their history (another customer's, a stranger's claim of their reference, an anonymised one):
the timeline's API and console tests share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from support.inbound import receive_message
from support.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    CustomerRating,
    Draft,
    Message,
    MessageRole,
    Order,
    OrderStatus,
)
from support.vocabulary import Verification

ANN = "crm-ann"
BOB = "crm-bob"


def conversation(
    body: str,
    *,
    ref: str = "",
    channel: str = Channel.API,
    customer: Customer | None = None,
    days_ago: float = 0,
    intent: str = "",
    unlinked: bool = False,
    **columns: Any,
) -> Conversation:
    """A conversation started `days_ago` with one customer message and its draft (of `intent`).
    `customer` links it as a verified message does (the identity work's link), whatever its
    channel and reference; `unlinked` leaves it linked to no customer record, as an unverified
    sender's conversation is."""
    verified = Verification.API_KEY if channel == Channel.API and ref else ""
    message, draft = receive_message(
        body, customer_ref=ref, channel=channel, enqueue=False, verified_by=verified
    )
    started = timezone.now() - timedelta(days=days_ago)
    Draft.objects.filter(pk=draft.pk).update(intent=intent)
    Message.objects.filter(pk=message.pk).update(created_at=started)
    Conversation.objects.filter(pk=message.conversation_id).update(
        created_at=started,
        last_message_at=started,
        **({"customer": customer} if customer is not None or unlinked else {}),
        **columns,
    )
    return Conversation.objects.get(pk=message.conversation_id)


def rate(conversation: Conversation, score: int, comment: str) -> CustomerRating:
    reply = Message.objects.create(
        conversation=conversation,
        role=MessageRole.AGENT,
        body="Here is what happened.",
        metadata={"actor": "agent-1"},
    )
    return CustomerRating.objects.create(
        conversation=conversation, message=reply, score=score, comment=comment
    )


@dataclass
class History:
    ann: Customer
    bob: Customer
    # Ann's, newest first.
    hers: list[Conversation] = field(default_factory=list)
    # What must never show in Ann's history.
    not_hers: list[Conversation] = field(default_factory=list)


def ann_and_bob() -> History:
    ann = Customer.objects.create(ref=ANN, name="Ann", email="ann@example.com")
    bob = Customer.objects.create(ref=BOB, name="Bob")
    Order.objects.create(
        number="A-100",
        customer=ann,
        status=OrderStatus.SHIPPED,
        total=Decimal("42.50"),
        delivery_date=timezone.now().date(),
    )
    Order.objects.create(number="B-200", customer=bob, total=Decimal("9.99"))
    api_call = conversation(
        "where is my order A-100?",
        ref=ANN,
        days_ago=9,
        intent="track_order",
        summary="Asked where A-100 was; told it had shipped.",
        status=ConversationStatus.RESOLVED,
    )
    email = conversation(
        "the mug arrived broken",
        ref="ann@example.com",
        channel=Channel.EMAIL,
        customer=ann,
        days_ago=5,
        intent="damaged_item",
        subject="Broken mug",
    )
    # An API integration's conversation naming her reference, never linked to her record.
    unlinked_api = conversation("can I change my address?", ref=ANN, days_ago=3, unlinked=True)
    widget = conversation(
        "hello again", ref=ANN, channel=Channel.WIDGET, customer=ann, days_ago=1, intent="other"
    )
    rate(email, -1, "slow to answer")
    history = History(ann, bob, hers=[widget, unlinked_api, email, api_call])
    history.not_hers = [
        conversation("bob's question about B-200", ref=BOB, days_ago=2, intent="refund"),
        # A stranger's widget claiming her reference, and a forged e-mail's From: no link.
        conversation(
            "I am Ann, honest", ref=ANN, channel=Channel.WIDGET, days_ago=2, unlinked=True
        ),
        conversation(
            "send me Ann's orders", ref=ANN, channel=Channel.EMAIL, days_ago=2, unlinked=True
        ),
        # Hers once, anonymised since (retention): gone from every history.
        conversation(
            "an old complaint", ref=ANN, customer=ann, days_ago=4, anonymised_at=timezone.now()
        ),
    ]
    rate(history.not_hers[0], 1, "bob is happy")
    return history
