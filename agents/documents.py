"""What the graph takes from the documents a customer sent (support/documents/): their fields, as
the customer's own claim. An order number found in one is looked up like one the customer wrote
(the facts tool shows only the customer's own orders); the fields count as the customer's words
for the guard's specifics check. A document's text is never KB evidence: nothing here makes it
a source for a policy sentence."""

from __future__ import annotations

from collections.abc import Iterable

from agents.entities import Entities
from agents.state import AgentState
from support.documents import DocumentFacts
from support.documents.fields import INVOICE_NUMBERS, ORDER_NUMBERS


def _values(documents: Iterable[DocumentFacts], kind: str) -> list[str]:
    return [value for document in documents for value in document.fields.get(kind, [])]


def with_document_numbers(entities: Entities, state: AgentState) -> Entities:
    """`entities` and the order and invoice numbers of the message's documents, after those the
    customer wrote."""
    documents = state.get("documents", [])
    if not documents:
        return entities
    orders = [*entities.order_numbers]
    invoices = [*entities.invoice_numbers]
    orders += [n for n in dict.fromkeys(_values(documents, ORDER_NUMBERS)) if n not in orders]
    invoices += [n for n in dict.fromkeys(_values(documents, INVOICE_NUMBERS)) if n not in invoices]
    return Entities(tuple(orders), tuple(invoices))


def document_claims(state: AgentState) -> list[str]:
    """The documents' fields as texts the customer gave (a source for specifics, not policy)."""
    return [
        value
        for document in state.get("documents", [])
        for values in document.fields.values()
        for value in values
    ]
