"""Which facts an intent needs before a reply can act on it, defined once (intents are the
taxonomy's, knowledge/taxonomy.py; facts are support.vocabulary.MissingFact), and whether the
message, the conversation, the customer's documents or the verified customer's records already
give them. Pure: the missing node (agents/nodes/missing.py) reads the state and calls these."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from knowledge.specifics import EMAIL
from knowledge.taxonomy import (
    CHANGE_SHIPPING_ADDRESS_INTENT,
    DELIVERY_PROBLEM_INTENT,
    GET_REFUND_INTENT,
    TRACK_ORDER_INTENT,
    TRACK_REFUND_INTENT,
)
from support.documents.fields import AMOUNTS, EMAIL_ADDRESSES, ORDER_NUMBERS, amounts
from support.models import OrderStatus
from support.vocabulary import MissingFact

ORDER = MissingFact.ORDER_NUMBER
ADDRESS = MissingFact.SHIPPING_ADDRESS

# Intent → the facts a reply needs to act on it: a refund, a parcel or a refund to trace, an
# address to change are one order's. An intent not listed needs nothing: a policy question or a
# how-to ("how do I cancel?", "how long does delivery take?") is answered from the KB alone.
NEEDS: dict[str, tuple[MissingFact, ...]] = {
    GET_REFUND_INTENT: (ORDER,),
    TRACK_REFUND_INTENT: (ORDER,),
    TRACK_ORDER_INTENT: (ORDER,),
    CHANGE_SHIPPING_ADDRESS_INTENT: (ORDER, ADDRESS),
    DELIVERY_PROBLEM_INTENT: (ORDER, ADDRESS),
}

# A street address: a house number and a street word ("12 Baker Street", "Hauptstraße 5"), or a
# postcode a country writes with its town ("SW1A 1AA", "10115 Berlin", "CA 94105").
_STREET = (
    r"(?:street|st|road|rd|avenue|ave|lane|ln|way|drive|dr|boulevard|blvd|place|pl|court|ct|"
    r"square|sq|close|terrace|crescent|highway|hwy|straße|strasse|str|weg|allee|platz|gasse|"
    r"rue|via|calle|laan|straat)"
)
# A street name or an address's local part is matched from the start of its run of characters
# ((?<!…)), not from every word boundary inside it: from each one, `[\w'-]*` re-read the rest of
# the run (20 kB of "ab1-ab1-…" took 29 s).
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[a-z]?,?\s+(?:[\w'.-]+\s+){{0,4}}{_STREET}\b\.?"
    rf"|(?<![\w'-])[\w'-]*{_STREET}\.?\s+\d{{1,5}}[a-z]?\b"
    r"|\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b"
    r"|\b\d{5}\s+[A-Z][a-zäöüß]+"
    r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b",
    re.IGNORECASE | re.UNICODE,
)

# Statuses of an order still on its way (support.models.OrderStatus values).
OPEN_ORDER_STATUSES = frozenset({OrderStatus.PROCESSING, OrderStatus.SHIPPED})

# The one question a SUGGESTED answer ends with, per how many facts it asks for.
QUESTION = "So I can look into this, could you send me your {facts}?"


@dataclass(frozen=True)
class Known:
    """What the run already has, wherever it came from."""

    texts: Sequence[str]  # the message and the customer's earlier turns
    order_numbers: Sequence[str] = ()  # named in them, their documents or earlier conversations
    document_fields: Sequence[dict[str, list[str]]] = ()
    customer_orders: Sequence[tuple[str, str]] = ()  # the verified customer's (number, status)

    def has(self, fact: MissingFact) -> bool:
        if fact == ORDER:
            return bool(self.order_numbers or self._documents(ORDER_NUMBERS)) or _one_order(
                self.customer_orders
            )
        if fact == ADDRESS:
            return any(_ADDRESS.search(text) for text in self.texts)
        if fact == MissingFact.EMAIL_ADDRESS:
            return any(EMAIL.search(t) for t in self.texts) or self._documents(EMAIL_ADDRESSES)
        if fact == MissingFact.AMOUNT:
            return any(amounts(text) for text in self.texts) or self._documents(AMOUNTS)
        return False

    def _documents(self, kind: str) -> bool:
        return any(fields.get(kind) for fields in self.document_fields)


def _one_order(orders: Sequence[tuple[str, str]]) -> bool:
    """The customer has one order, or one still open: the one they mean."""
    open_orders = [number for number, status in orders if status in OPEN_ORDER_STATUSES]
    return len(orders) == 1 or len(open_orders) == 1


def missing_facts(intent: str, known: Known) -> list[MissingFact]:
    return [fact for fact in NEEDS.get(intent, ()) if not known.has(fact)]


def question(missing: Sequence[str]) -> str:
    """One polite sentence asking for the facts ("" when none is missing)."""
    labels = [MissingFact(fact).label for fact in missing]
    if not labels:
        return ""
    facts = labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} and {labels[-1]}"
    return QUESTION.format(facts=facts)


def ask_for_missing(answer: str, missing: Sequence[str]) -> str:
    """`answer` ending with the question for the missing facts (once)."""
    ask = question(missing)
    if not ask or not answer.strip() or ask in answer:
        return answer
    return f"{answer.rstrip()}\n\n{ask}"
