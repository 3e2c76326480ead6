"""Returning-customer cases (evals/sets/returning_customers.jsonl): a case's customers, orders and
earlier conversations (theirs and other customers': decoys) are written in the real database
inside a transaction that is rolled back after the case; its new message is stored through the
one door function (support.inbound.store_message) and drafted from its rows, as the worker does
(agents/state_builder.py:state_for_message). What the draft used is read from its outcome
(context.earlier_conversations), mapped back to the case's labels."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from support.inbound import store_message
from support.models import (
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    Draft,
    DraftStatus,
    Message,
    MessageRole,
    Order,
    OrderStatus,
)
from support.vocabulary import Verification

ROLES = {"customer": MessageRole.CUSTOMER, "agent": MessageRole.AGENT}
HOURS_BETWEEN_TURNS = 3


@dataclass(frozen=True)
class Stored:
    """The new message, and which customer each earlier conversation belongs to, by id."""

    message: Message
    labels: dict[str, str]  # conversation id → the case's label
    owners: dict[str, str]  # conversation id → its customer's ref
    order_owners: dict[str, str]  # order number → its customer's ref


class _Rollback(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """Everything written in the block is undone when it ends, whatever happens in it."""
    try:
        with transaction.atomic():
            yield
            raise _Rollback
    except _Rollback:
        pass


def _customers(rows: list[dict[str, Any]]) -> tuple[dict[str, Customer], dict[str, str]]:
    customers: dict[str, Customer] = {}
    owners: dict[str, str] = {}
    today = timezone.localdate()
    for row in rows:
        customer = Customer.objects.create(ref=row["ref"], name=row.get("name", ""))
        customers[row["ref"]] = customer
        for order in row.get("orders", []):
            days = order.get("delivery_in_days")  # negative: delivered that many days ago
            placed = order.get("placed_days_ago")
            Order.objects.create(
                number=order["number"],
                customer=customer,
                status=order.get("status", OrderStatus.PROCESSING),
                delivery_date=today + timedelta(days=days) if days is not None else None,
                refund_eligible=bool(order.get("refund_eligible", False)),
                # The actions set's rows (#27): what was paid and refunded, when, where to.
                total=Decimal(str(order.get("total", "0"))),
                refunded=Decimal(str(order.get("refunded", "0"))),
                currency=order.get("currency", settings.DEFAULT_CURRENCY),
                placed_at=timezone.now() - timedelta(days=placed) if placed is not None else None,
                shipping_address=order.get("shipping_address", ""),
            )
            owners[order["number"].upper()] = row["ref"]
    return customers, owners


def _earlier(row: dict[str, Any], customer: Customer) -> Conversation:
    """One past conversation, backdated `days_ago`, with a draft per customer message (its
    intent, and SENT where we replied, else the status the case gives)."""
    started = timezone.now() - timedelta(days=float(row.get("days_ago", 7)))
    status = row.get("status", ConversationStatus.RESOLVED)
    conversation = Conversation.objects.create(
        customer=customer,
        customer_ref=customer.ref,
        channel=row.get("channel", Channel.API),
        status=status,
        summary=row.get("summary", ""),
        subject=row.get("subject", ""),
    )
    when = started
    turns = row["messages"]
    for index, turn in enumerate(turns):
        role = ROLES[turn["role"]]
        message = Message.objects.create(
            conversation=conversation,
            role=role,
            body=turn["text"],
            verified_by=Verification.API_KEY if role == MessageRole.CUSTOMER else "",
        )
        Message.objects.filter(pk=message.pk).update(created_at=when)
        if role == MessageRole.CUSTOMER:
            answered = any(t["role"] == "agent" for t in turns[index + 1 :])
            draft = Draft.objects.create(
                message=message,
                conversation=conversation,
                status=DraftStatus.SENT if answered else row.get("draft", DraftStatus.ESCALATED),
                escalation_reason=row.get("escalation_reason", "") if not answered else "",
                intent=row.get("intent", ""),
                enqueued_at=when,
            )
            Draft.objects.filter(pk=draft.pk).update(created_at=when)
        when += timedelta(hours=HOURS_BETWEEN_TURNS)
    resolved = when if status == ConversationStatus.RESOLVED else None
    Conversation.objects.filter(pk=conversation.pk).update(
        created_at=started, last_message_at=when, resolved_at=resolved
    )
    return conversation


def store_case(scenario: dict[str, Any]) -> Stored:
    """Writes the case's rows (call inside `rolled_back()`) and stores its new message."""
    customers, order_owners = _customers(scenario["customers"])
    labels: dict[str, str] = {}
    owners: dict[str, str] = {}
    for row in scenario["earlier"]:
        conversation = _earlier(row, customers[row["customer"]])
        labels[str(conversation.pk)] = row["label"]
        owners[str(conversation.pk)] = row["customer"]
    new = scenario["message"]
    verified = Verification.API_KEY if new.get("verified", True) else Verification.NONE
    message, _ = store_message(
        new["text"],
        customer_ref=new["customer"],
        channel=new.get("channel", Channel.API),
        enqueue=False,
        verified_by=verified,
    )
    if verified:
        # A verified message links its conversation to the customer (the identity work does
        # this at the door; the case says who the sender is).
        Conversation.objects.filter(pk=message.conversation_id).update(
            customer=customers[new["customer"]]
        )
    stored = Message.objects.select_related("conversation").get(pk=message.pk)
    return Stored(stored, labels, owners, order_owners)


def actions_actual(stored: Stored, outcome: Any) -> dict[str, Any]:
    """What the actions metrics read: the moves the draft proposes, and the problems the
    catalogue's own check finds with each on the case's rows as written (for the sender's
    conversation's customer: none for an unverified one), measured here, not taken from the
    run."""
    from support.actions.catalogue import PolicyContext, check_action

    customer = stored.message.conversation.customer
    context = PolicyContext(customer=customer, now=timezone.now())
    return {
        "actions": [
            {
                "name": action["name"],
                "arguments": action["arguments"],
                "confirmation": action.get("confirmation", ""),
                "catalogue_problems": check_action(action["name"], action["arguments"], context),
            }
            for action in outcome.actions
        ],
        "refused_actions": [r["name"] for r in outcome.facts.get("refused_actions", [])],
    }


def memory_actual(stored: Stored, outcome: Any, state: Any) -> dict[str, Any]:
    """What the case's metrics read: the labels of the earlier conversations the draft used,
    whose they were, and whether the sender was given any memory."""
    sender = stored.message.conversation.customer_ref
    used = [str(i) for i in outcome.context.get("earlier_conversations", [])]
    orders = [o.get("number", "").upper() for o in outcome.facts.get("orders", [])]
    return {
        "earlier_used": [stored.labels.get(i, i) for i in used],
        "other_customer_used": [
            # A conversation outside the case is nobody's the sender may see.
            stored.labels.get(i, i)
            for i in used
            if stored.owners.get(i) != sender
        ],
        "other_customer_orders": [
            number for number in orders if stored.order_owners.get(number, sender) != sender
        ],
        "verified": stored.message.sender_verified,
        "memory_given": len(state.get("earlier", [])),
    }
