"""Order and invoice numbers in a customer's text: the one definition of their shape. The graph's
entities (agents/entities.py) and the fields found in documents (support/documents/fields.py)
both read numbers with these patterns."""

from __future__ import annotations

import re


def numbered(nouns: str) -> re.Pattern[str]:
    """ "<noun> [number|no.|id|#][:#] <token>", e.g. "order #NW-10001", "invoice no. 778".
    The spaces are taken possessively (`*+`): nothing after them starts with a space, and
    three backtracking runs side by side took time cubic in their length ("order" and 4,000
    spaces, a message the widget accepts: 157 s in the worker)."""
    return re.compile(
        rf"\b(?:{nouns})s?\s*+(?:number|no\.?|num|id|#)?\s*+[:#]?\s*+"
        r"(?P<number>#?[A-Z0-9][A-Z0-9-]{2,30})\b",
        re.IGNORECASE,
    )


# The number must hold a digit (checked in `numbers`), so "order status" is no order number.
ORDER = numbered("order|purchase|package|parcel|shipment")
INVOICE = numbered("invoice|bill|receipt")
# A bare "#12345" or a shop-style "NW-10002" names an order too.
HASHED = re.compile(
    r"(?<![\w&])#(?P<number>[A-Z0-9][A-Z0-9-]{2,30})\b|\b(?P<coded>[A-Z]{1,4}-\d{3,12})\b",
    re.IGNORECASE,
)


def numbers(pattern: re.Pattern[str], text: str) -> list[str]:
    """The numbers `pattern` finds in `text`, upper-cased, without "#", in order, once each."""
    found = []
    for match in pattern.finditer(text):
        number = (match.group("number") or match.group("coded")).lstrip("#").upper()
        if any(ch.isdigit() for ch in number) and number not in found:
            found.append(number)
    return found


def order_and_invoice_numbers(*texts: str) -> tuple[list[str], list[str]]:
    """Order numbers and invoice numbers in order of first mention across texts; a number named
    as an invoice's is not an order's."""
    orders: list[str] = []
    invoices: list[str] = []
    for text in texts:
        for number in numbers(INVOICE, text):
            if number not in invoices:
                invoices.append(number)
        for number in numbers(ORDER, text) + numbers(HASHED, text):
            if number not in orders and number not in invoices:
                orders.append(number)
    return orders, invoices
