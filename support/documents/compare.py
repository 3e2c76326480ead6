"""A document's fields compared with the customer's orders. The customer is the message's verified
customer, or nobody (an unverified sender's document matches no one's records). Each mismatch is
{"field", "document", "record", "order"?}: an order number that is not this customer's has
record None, whoever's it is (never revealed); an invoice total that differs from its order's
total, or is in another currency."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from support.documents.fields import AMOUNTS, ORDER_NUMBERS, TOTALS, Amount

# Mismatch `field`s (support/api/schemas.py:Mismatch).
ORDER_NUMBER = "order_number"
AMOUNT = "amount"
CURRENCY = "currency"


@dataclass(frozen=True)
class OrderRecord:
    """What we hold of one of the customer's orders, as compared."""

    number: str
    total: Decimal
    currency: str

    @property
    def amount(self) -> Amount:
        return Amount(self.total, self.currency)


def claimed_total(fields: Mapping[str, list[str]]) -> Amount | None:
    """The total a document claims: the last amount on a total line, else its only amount."""
    candidates = fields.get(TOTALS) or []
    if not candidates and len(fields.get(AMOUNTS) or []) == 1:
        candidates = fields[AMOUNTS]
    return Amount.parse(candidates[-1]) if candidates else None


def mismatches(
    fields: Mapping[str, list[str]], orders: Mapping[str, OrderRecord]
) -> list[dict[str, Any]]:
    """`orders`: the customer's, by upper-cased number (empty for nobody)."""
    named = fields.get(ORDER_NUMBERS) or []
    found: list[dict[str, Any]] = [
        {"field": ORDER_NUMBER, "document": number, "record": None}
        for number in named
        if number.upper() not in orders
    ]
    theirs = [orders[number.upper()] for number in named if number.upper() in orders]
    total = claimed_total(fields)
    # One order named: the document's total is that order's. Several: which total is whose is
    # a guess, so none is compared.
    if total is not None and len(theirs) == 1:
        order = theirs[0]
        if total.currency != order.currency:
            found.append(_differs(CURRENCY, total.currency, order.currency, order.number))
        elif total.value != order.total:
            found.append(_differs(AMOUNT, str(total), str(order.amount), order.number))
    return found


def _differs(field: str, document: str, record: str, order: str) -> dict[str, Any]:
    return {"field": field, "document": document, "record": record, "order": order}
