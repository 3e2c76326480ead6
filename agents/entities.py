"""Entities in customer text that drafts and the facts tool use: order and invoice numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass


def _numbered(nouns: str) -> re.Pattern[str]:
    """ "<noun> [number|no.|id|#][:#] <token>", e.g. "order #NW-10001", "invoice no. 778"."""
    return re.compile(
        rf"\b(?:{nouns})s?\s*(?:number|no\.?|num|id|#)?\s*[:#]?\s*"
        r"(?P<number>#?[A-Z0-9][A-Z0-9-]{2,30})\b",
        re.IGNORECASE,
    )


# The number must hold a digit (checked in _numbers), so "order status" is no order number.
_ORDER = _numbered("order|purchase|package|parcel|shipment")
_INVOICE = _numbered("invoice|bill|receipt")
# A bare "#12345" or a shop-style "NW-10002" names an order too.
_HASHED = re.compile(
    r"(?<![\w&])#(?P<number>[A-Z0-9][A-Z0-9-]{2,30})\b|\b(?P<coded>[A-Z]{1,4}-\d{3,12})\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entities:
    order_numbers: tuple[str, ...] = ()
    invoice_numbers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "order_numbers": list(self.order_numbers),
            "invoice_numbers": list(self.invoice_numbers),
        }


def _numbers(pattern: re.Pattern[str], text: str) -> list[str]:
    found = []
    for match in pattern.finditer(text):
        number = (match.group("number") or match.group("coded")).lstrip("#").upper()
        if any(ch.isdigit() for ch in number) and number not in found:
            found.append(number)
    return found


def extract_entities(*texts: str) -> Entities:
    """Numbers in order of first mention across texts (current message first)."""
    orders: list[str] = []
    invoices: list[str] = []
    for text in texts:
        for number in _numbers(_INVOICE, text):
            if number not in invoices:
                invoices.append(number)
        for number in _numbers(_ORDER, text) + _numbers(_HASHED, text):
            if number not in orders and number not in invoices:
                orders.append(number)
    return Entities(tuple(orders), tuple(invoices))
