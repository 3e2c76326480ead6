"""Entities in customer text that drafts and the facts tool use: order and invoice numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# "order #NW-10001", "purchase number 12345", "order id: A1B2C3"; the number must hold a digit.
_ORDER = re.compile(
    r"\b(?:order|purchase|package|parcel|shipment)s?\s*(?:number|no\.?|num|id|#)?\s*[:#]?\s*"
    r"(?P<number>#?[A-Z0-9][A-Z0-9-]{2,30})\b",
    re.IGNORECASE,
)
_INVOICE = re.compile(
    r"\b(?:invoice|bill|receipt)s?\s*(?:number|no\.?|num|id|#)?\s*[:#]?\s*"
    r"(?P<number>#?[A-Z0-9][A-Z0-9-]{2,30})\b",
    re.IGNORECASE,
)
# A bare "#12345" or a shop-style "NW-10002" names an order too.
_HASHED = re.compile(
    r"(?<![\w&])#(?P<number>[A-Z0-9][A-Z0-9-]{2,30})\b|\b(?P<coded>[A-Z]{1,4}-\d{3,12})\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Entities:
    order_numbers: tuple[str, ...] = field(default_factory=tuple)
    invoice_numbers: tuple[str, ...] = field(default_factory=tuple)

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
