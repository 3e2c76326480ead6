"""What the graph takes from the documents a customer sent (agents/documents.py): their numbers
are looked up like the customer's own, their fields are the customer's words for the guard's
specifics check; a document is never a source for anything else."""

from __future__ import annotations

import uuid

from agents.documents import document_claims, with_document_numbers
from agents.entities import extract_entities
from agents.guard.grounded import check_specifics
from agents.state import AgentState
from support.documents import DocumentFacts
from support.vocabulary import DocumentStatus


def _state(**fields: list[str]) -> AgentState:
    document = DocumentFacts(
        attachment_id=uuid.uuid4(),
        filename="invoice.pdf",
        status=DocumentStatus.READ,
        fields=fields,
    )
    return {"documents": [document]}


def test_a_document_s_numbers_follow_the_customer_s() -> None:
    state = _state(order_numbers=["NW-10002", "NW-10001"], invoice_numbers=["778"])
    entities = with_document_numbers(extract_entities("my order NW-10001 is late"), state)
    assert entities.order_numbers == ("NW-10001", "NW-10002")
    assert entities.invoice_numbers == ("778",)
    assert with_document_numbers(entities, {}) is entities


def test_a_document_s_fields_are_the_customer_s_words_for_specifics() -> None:
    answer = "Your invoice total of €59.00 was noted."
    assert [i.code for i in check_specifics(answer, ["I want a refund"])] == [
        "unsupported_specific"
    ]
    claims = document_claims(_state(totals=["EUR 59.00"], order_numbers=["NW-10001"]))
    assert claims == ["EUR 59.00", "NW-10001"]
    assert check_specifics(answer, ["I want a refund", *claims]) == []
