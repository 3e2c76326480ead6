"""Entities in customer text that drafts and the facts tool use: order and invoice numbers (their
shape is support/order_numbers.py's, shared with the documents a customer sends)."""

from __future__ import annotations

from dataclasses import dataclass

from support.order_numbers import order_and_invoice_numbers


@dataclass(frozen=True)
class Entities:
    order_numbers: tuple[str, ...] = ()
    invoice_numbers: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, list[str]]:
        return {
            "order_numbers": list(self.order_numbers),
            "invoice_numbers": list(self.invoice_numbers),
        }


def extract_entities(*texts: str) -> Entities:
    """Numbers in order of first mention across texts (current message first)."""
    orders, invoices = order_and_invoice_numbers(*texts)
    return Entities(tuple(orders), tuple(invoices))
