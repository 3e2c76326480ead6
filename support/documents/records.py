"""Whose records a document is compared with: the message's verified customer (nobody for an
unverified sender) and their orders."""

from __future__ import annotations

from support.documents.compare import OrderRecord
from support.models import Customer


def customer_orders(customer: Customer | None) -> dict[str, OrderRecord]:
    if customer is None:
        return {}
    rows = customer.orders.values_list("number", "total", "currency")
    return {
        number.upper(): OrderRecord(number, total, currency) for number, total, currency in rows
    }
