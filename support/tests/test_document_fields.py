"""The fields found in a document's text and their comparison with a customer's orders
(support/documents/fields.py, compare.py): pure functions, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from support.documents.compare import OrderRecord, claimed_total, mismatches
from support.documents.fields import Amount, amounts, dates, find_fields, to_decimal

INVOICE = """Northwind Shop - Invoice no. 778
Order NW-10001, placed 2 November 2026
Customer: anna.keller@gmail.example
1 x Kettle          EUR 39.00
1 x Toaster         EUR 20.00
Subtotal            EUR 59.00
Shipping            EUR 0.00
Total               EUR 59.00
Tracking number: 1Z999AA10123456784
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€12.50", [("12.50", "EUR")]),
        ("12,50 EUR", [("12.50", "EUR")]),
        ("USD 1,234.00", [("1234.00", "USD")]),
        ("$5", [("5", "USD")]),
        ("1.234,56 €", [("1234.56", "EUR")]),
        ("£3.99 and CHF 10", [("3.99", "GBP"), ("10", "CHF")]),
        ("order 1042 of 3 items", []),  # numbers without a currency are no amounts
    ],
)
def test_amounts_with_their_currency(text: str, expected: list[tuple[str, str]]) -> None:
    assert [(str(a.value), a.currency) for a in amounts(text)] == expected


def test_decimal_separators() -> None:
    assert to_decimal("1,234") == Decimal("1234")  # three digits after a comma group thousands
    assert to_decimal("12,5") == Decimal("12.5")
    assert to_decimal("1 234,56") == Decimal("1234.56")


def test_dates_are_iso_when_unambiguous() -> None:
    found = dates("Placed 2026-11-02, shipped Nov 3, 2026, due 4th December 2026, paid 05/11/2026")
    assert found == ["2026-11-02", "2026-12-04", "2026-11-03", "05/11/2026"]
    assert dates("2026-02-31") == []  # not a day


def test_an_invoice_s_fields() -> None:
    fields = find_fields(INVOICE)
    assert fields["order_numbers"] == ["NW-10001"]
    assert fields["invoice_numbers"] == ["778"]
    assert fields["totals"] == ["EUR 59.00"]  # the total line, not the subtotal's
    assert "EUR 39.00" in fields["amounts"] and "EUR 20.00" in fields["amounts"]
    assert fields["dates"] == ["2026-11-02"]
    assert fields["email_addresses"] == ["anna.keller@gmail.example"]
    assert fields["tracking_numbers"] == ["1Z999AA10123456784"]


def test_an_invoice_number_is_not_an_order_number() -> None:
    """ "INV-2026-001" also has the shop-style "INV-2026" shape: it is the invoice's."""
    fields = find_fields("Invoice INV-2026-001 for your purchase")
    assert fields["invoice_numbers"] == ["INV-2026-001"]
    assert "order_numbers" not in fields


def test_nothing_found_is_an_empty_dict() -> None:
    assert find_fields("Thanks for your help!") == {}


ORDERS = {"NW-10001": OrderRecord("NW-10001", Decimal("49.00"), "EUR")}


def test_an_invoice_total_that_differs_from_the_order_s() -> None:
    assert mismatches(find_fields(INVOICE), ORDERS) == [
        {"field": "amount", "document": "EUR 59.00", "record": "EUR 49.00", "order": "NW-10001"}
    ]


def test_a_matching_invoice_has_no_mismatch() -> None:
    matching = {"NW-10001": OrderRecord("NW-10001", Decimal("59"), "EUR")}
    assert mismatches(find_fields(INVOICE), matching) == []


def test_another_currency_is_a_mismatch_of_its_own() -> None:
    dollars = {"NW-10001": OrderRecord("NW-10001", Decimal("59.00"), "USD")}
    assert mismatches(find_fields(INVOICE), dollars) == [
        {"field": "currency", "document": "EUR", "record": "USD", "order": "NW-10001"}
    ]


def test_an_order_number_that_is_not_the_customer_s_reveals_nothing() -> None:
    """Not found, another customer's, or a sender nobody verified: the same mismatch, record
    None (whose it is never appears)."""
    fields = find_fields("Order NW-20001\nTotal: EUR 10.00")
    expected = [{"field": "order_number", "document": "NW-20001", "record": None}]
    assert mismatches(fields, ORDERS) == expected
    assert mismatches(fields, {}) == expected


def test_the_claimed_total() -> None:
    assert claimed_total({"amounts": ["EUR 5.00"]}) == Amount(Decimal("5.00"), "EUR")
    assert claimed_total({"amounts": ["EUR 5.00", "EUR 7.00"]}) is None  # which one? none
    assert claimed_total({"totals": ["EUR 5.00", "EUR 9.00"]}) == Amount(Decimal("9.00"), "EUR")


@pytest.mark.parametrize(
    "text",
    [
        "Order NW-10001\nTotal: EUR 500.00\nTotal paid: EUR 49.00\nAmount due: EUR 500.00",
        "Order NW-10001\n"
        + "".join(f"Total for item {n}: EUR {n}.00\n" for n in range(1, 25))
        + "Total: EUR 500.00",
    ],
    ids=["repeated-total", "past-twenty-totals"],
)
def test_the_last_total_is_the_one_claimed(text: str) -> None:
    """The first occurrence was kept, and the first 20 totals: a document whose grand total
    disagreed with the order was read as agreeing (no mismatch, auto-send not blocked)."""
    fields = find_fields(text)
    assert claimed_total(fields) == Amount(Decimal("500.00"), "EUR")
    assert mismatches(fields, ORDERS)[0]["document"] == "EUR 500.00"
