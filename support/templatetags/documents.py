"""Template filters for the documents a customer sent and the facts a message lacks (the
console's templates/console/_documents.html and _reading.html)."""

from __future__ import annotations

from typing import Any

from django import template

from support.documents import mismatches_in
from support.documents.compare import AMOUNT, CURRENCY, ORDER_NUMBER
from support.documents.fields import KINDS, SYMBOLS, Amount
from support.vocabulary import DocumentStatus, MissingFact

register = template.Library()

_SYMBOL = {code: symbol for symbol, code in SYMBOLS.items() if code in ("EUR", "USD", "GBP")}


def money(text: str) -> str:
    """ "EUR 59.00" → "€59.00"; a code without a symbol of its own stays "CHF 10.00"."""
    amount = Amount.parse(str(text))
    if amount is None:
        return str(text)
    symbol = _SYMBOL.get(amount.currency)
    return f"{symbol}{amount.value:.2f}" if symbol else str(amount)


def mismatch_text(mismatch: dict[str, Any]) -> str:
    """One line an agent reads at a glance."""
    field, document = mismatch.get("field"), str(mismatch.get("document", ""))
    record, order = mismatch.get("record"), mismatch.get("order", "")
    if field == AMOUNT:
        return f"Invoice total {money(document)} ≠ order {order} total {money(str(record))}"
    if field == CURRENCY:
        return f"Invoice currency {document} ≠ order {order} currency {record}"
    if field == ORDER_NUMBER:
        return f"Order {document} is not one of this customer's orders"
    return f"{field}: document says {document}, our records {record or 'nothing'}"


@register.filter
def mismatch_texts(context: Any) -> list[str]:
    """A draft context's mismatches, as lines."""
    return [mismatch_text(m) for m in mismatches_in(context) if isinstance(m, dict)]


@register.filter
def missing_labels(context: Any) -> list[str]:
    missing = context.get("missing", []) if isinstance(context, dict) else []
    return [MissingFact(f).label for f in missing if f in MissingFact.values]


@register.filter
def document_status(status: str) -> str:
    """ "read", "not read", "failed" (the reason follows in the template)."""
    return str(status).replace("_", " ") if status in DocumentStatus.values else str(status)


@register.filter
def field_list(fields: Any) -> list[tuple[str, str]]:
    """A reading's fields as (label, values) in KINDS' order: ("order numbers", "NW-1, NW-2")."""
    if not isinstance(fields, dict):
        return []
    ordered = [kind for kind in KINDS if kind in fields] + sorted(set(fields) - set(KINDS))
    return [(kind.replace("_", " "), ", ".join(map(str, fields[kind]))) for kind in ordered]
