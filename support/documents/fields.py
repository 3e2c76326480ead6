"""The fields found in a document's text: order and invoice numbers (support/order_numbers.py's
shapes), amounts with their currency, the total it claims, dates, e-mail addresses and tracking
numbers. Pure: text in, fields out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from support.order_numbers import numbered, order_and_invoice_numbers

# The field kinds, as the Draft's context.documents[].fields names them.
ORDER_NUMBERS = "order_numbers"
INVOICE_NUMBERS = "invoice_numbers"
AMOUNTS = "amounts"
TOTALS = "totals"
DATES = "dates"
EMAIL_ADDRESSES = "email_addresses"
TRACKING_NUMBERS = "tracking_numbers"
# In the order the console lists them (a JSON column does not keep the order of its keys).
KINDS = (
    ORDER_NUMBERS,
    TOTALS,
    AMOUNTS,
    INVOICE_NUMBERS,
    DATES,
    TRACKING_NUMBERS,
    EMAIL_ADDRESSES,
)

MAX_VALUES = 20  # per kind: a price list of a thousand lines is not a thousand facts

SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₽": "RUB", "₩": "KRW"}
CODES = frozenset(
    [
        "EUR",
        "USD",
        "GBP",
        "CHF",
        "JPY",
        "CAD",
        "AUD",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "RON",
        "BGN",
        "TRY",
        "INR",
        "CNY",
        "HKD",
        "SGD",
        "ZAR",
        "MXN",
        "BRL",
        "RUB",
        "KRW",
        "ILS",
        "AED",
    ]
)
_CURRENCY = "|".join([*(re.escape(s) for s in SYMBOLS), *sorted(CODES)])
# A number as written on an invoice: 5, 12.50, 12,50, 1,234.00, 1.234,56, 1 234,56.
# At most five thousands groups (999 trillion): unbounded, "1 111 111 …" was read from every
# group to its end, time quadratic in the run (1.6 s on 20 kB of a text attachment).
_NUMBER = r"\d{1,3}(?:[.,\u00a0 ]\d{3}){0,5}(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(
    rf"(?<![\w.])(?<!\d,)(?:(?P<before>{_CURRENCY})\s?(?P<n1>{_NUMBER})|(?P<n2>{_NUMBER})\s?(?P<after>{_CURRENCY}))(?![\w])"
)
# A line that states what is owed: "Total", "Grand total", "Amount due", "Total due", "Balance".
_TOTAL_LINE = re.compile(
    r"\b(?:grand\s+total|total(?:\s+(?:due|amount|paid|incl\w*))?|amount\s+(?:due|paid)|"
    r"balance\s+due|gesamt\w*|summe|montant\s+total)\b",
    re.IGNORECASE,
)
_SUBTOTAL = re.compile(r"\bsub-?\s?total\b", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63})*\.[A-Za-z]{2,24}\b")
_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_ISO_DATE = re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b")
_DAY_MONTH_YEAR = re.compile(
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?P<month>{_MONTH})\.?,?\s+(?P<y>\d{{4}})\b",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"\b(?P<month>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b",
    re.IGNORECASE,
)
# 02/11/2026, 02.11.2026: day and month cannot be told apart in general, so kept as written.
_NUMERIC_DATE = re.compile(r"\b\d{1,2}[./]\d{1,2}[./]\d{4}\b")
_TRACKING = numbered("tracking|track(?:ing)?\\s+(?:code|id)|sendungsnummer|waybill|consignment")
# Carriers' own shapes: UPS "1Z…", an S10 (UPU) number "RR123456789DE".
_CARRIER = re.compile(r"\b(?:1Z[0-9A-Z]{16}|[A-Z]{2}\d{9}[A-Z]{2})\b")


@dataclass(frozen=True)
class Amount:
    value: Decimal
    currency: str

    def __str__(self) -> str:
        return f"{self.currency} {self.value:.2f}"

    @classmethod
    def parse(cls, text: str) -> Amount | None:
        """An amount as fields() writes it ("EUR 12.50")."""
        currency, _, value = text.partition(" ")
        try:
            return cls(Decimal(value), currency)
        except InvalidOperation:
            return None


def to_decimal(number: str) -> Decimal | None:
    """12,50 → 12.50; 1,234.00 → 1234.00; 1.234,56 → 1234.56; 1,234 → 1234 (a comma followed
    by three digits groups thousands)."""
    number = number.replace("\u00a0", "").replace(" ", "")
    last = max(number.rfind("."), number.rfind(","))
    if last >= 0 and len(number) - last - 1 in (1, 2):
        whole, fraction = number[:last], number[last + 1 :]
        number = f"{re.sub(r'[.,]', '', whole)}.{fraction}"
    else:
        number = re.sub(r"[.,]", "", number)
    try:
        return Decimal(number)
    except InvalidOperation:
        return None


def amounts(text: str) -> list[Amount]:
    found = []
    for match in _AMOUNT.finditer(text):
        symbol = match.group("before") or match.group("after")
        value = to_decimal(match.group("n1") or match.group("n2"))
        if value is not None:
            found.append(Amount(value, SYMBOLS.get(symbol, symbol)))
    return found


def totals(text: str) -> list[Amount]:
    """The amounts on lines that state a total (not a subtotal), last one last: an invoice's
    grand total is usually its last."""
    found = []
    for line in text.splitlines():
        if _TOTAL_LINE.search(line) and not _SUBTOTAL.search(line):
            found += amounts(line)
    return found


def _valid(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def dates(text: str) -> list[str]:
    """ISO dates for the unambiguous forms (2026-11-02, 2 November 2026, Nov 2, 2026); numeric
    day/month forms as written."""
    found: list[str | None] = []
    for match in _ISO_DATE.finditer(text):
        found.append(_valid(int(match["y"]), int(match["m"]), int(match["d"])))
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR):
        for match in pattern.finditer(text):
            month = _MONTHS[match["month"].lower()]
            found.append(_valid(int(match["y"]), month, int(match["d"])))
    found += _NUMERIC_DATE.findall(text)
    return [value for value in found if value]


def email_addresses(text: str) -> list[str]:
    return [address.lower() for address in _EMAIL.findall(text)]


def tracking_numbers(text: str) -> list[str]:
    labelled = [
        m.group("number").lstrip("#").upper()
        for m in _TRACKING.finditer(text)
        if any(ch.isdigit() for ch in m.group("number"))
    ]
    return labelled + _CARRIER.findall(text.upper())


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))[:MAX_VALUES]


def _unique_keeping_last(values: list[str]) -> list[str]:
    """Each once where it last appears, the last MAX_VALUES: the last total is the one a
    document claims (compare.claimed_total). Kept where it first appeared, "Total: 500 / Total
    paid: 49 / Amount due: 500" claimed 49; after 20 other totals the grand total was cut."""
    return list(reversed(dict.fromkeys(reversed(values))))[-MAX_VALUES:]


def find_fields(text: str) -> dict[str, list[str]]:
    """The kinds found in `text` (a kind with nothing found is left out)."""
    orders, invoices = order_and_invoice_numbers(text)
    tracking = _unique(tracking_numbers(text))
    # "Invoice INV-2026-001" also reads as the shop-style "INV-2026"; a tracking number is
    # often called a shipment's: neither is an order number.
    orders = [
        number
        for number in orders
        if number not in tracking and not any(number in invoice for invoice in invoices)
    ]
    found = {
        ORDER_NUMBERS: _unique(orders),
        INVOICE_NUMBERS: _unique(invoices),
        AMOUNTS: _unique([str(a) for a in amounts(text)]),
        TOTALS: _unique_keeping_last([str(a) for a in totals(text)]),
        DATES: _unique(dates(text)),
        EMAIL_ADDRESSES: _unique(email_addresses(text)),
        TRACKING_NUMBERS: tracking,
    }
    return {kind: values for kind, values in found.items() if values}
