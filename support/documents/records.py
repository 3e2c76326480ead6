"""Whose records a document is compared with: the message's verified customer (nobody for an
unverified sender) and their orders."""

from __future__ import annotations

from support.documents.compare import OrderRecord
from support.models import Customer, Message


def verified_customer(message: Message) -> Customer | None:
    """The customer the message's own sender is verified as; nobody for an unverified one."""
    if not message.sender_verified:
        return None
    conversation = message.conversation
    if conversation.customer is not None:
        return conversation.customer
    ref = conversation.customer_ref
    return Customer.objects.filter(ref=ref).first() if ref else None


def customer_orders(customer: Customer | None) -> dict[str, OrderRecord]:
    if customer is None:
        return {}
    rows = customer.orders.values_list("number", "total", "currency")
    return {
        number.upper(): OrderRecord(number, total, currency) for number, total, currency in rows
    }
