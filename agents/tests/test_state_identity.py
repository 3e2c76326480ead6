"""The agent's state for a stored message (agents/state_builder.py) after identity (#26): a sender
who only claims to be a customer gets no customer's orders and no earlier conversations; a
verified one gets those of the Customer their address is on record for."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from agents.facts import lookup_facts
from agents.state_builder import state_for_message
from support.actions.catalogue import context_for
from support.customers import customer_of
from support.email.receive import receive_email
from support.models import (
    Conversation,
    ConversationStatus,
    Customer,
    Message,
    MessageRole,
    Order,
)
from support.tests.email_fixtures import email_settings  # noqa: F401
from support.tests.emails.build import build
from support.vocabulary import Verification

BORDER = "mx.shop.example"


@pytest.fixture
def alice(orders: dict[str, Order], email_settings: Any) -> Customer:  # noqa: F811
    email_settings.EMAIL_TRUSTED_AUTHSERV_ID = BORDER
    address = f"alice-{uuid.uuid4().hex[:8]}@alice.example"
    Customer.objects.filter(ref="alice").update(email=address)
    customer = Customer.objects.get(ref="alice")
    # Her earlier, resolved conversation: what memory would show a verified Alice.
    Conversation.objects.create(
        customer=customer,
        customer_ref="alice",
        status=ConversationStatus.RESOLVED,
        summary="Alice's replacement for NW-10001 was promised by Friday.",
    )
    return customer


def _message(address: str, *results: str) -> Message:
    top = b"".join(f"Authentication-Results: {value}\r\n".encode() for value in results)
    body = "Where is my order NW-10001?"
    received = receive_email(top + build(body, sender=f"Alice <{address}>"), door="api")
    return Message.objects.select_related("conversation__customer").get(pk=str(received.message_id))


def test_an_unverified_sender_gets_no_orders_and_no_memory(alice: Customer) -> None:
    message = _message(alice.email)  # a From anyone can type
    state = state_for_message(message)
    assert (state["customer_ref"], state["verified"], state["earlier"]) == ("", False, [])
    facts = lookup_facts(["NW-10001"], state["customer_ref"])
    assert facts.orders == () and facts.unknown_orders == ("NW-10001",)


def test_a_verified_sender_gets_the_orders_of_the_customer_on_record(alice: Customer) -> None:
    domain = alice.email.rpartition("@")[2]
    message = _message(alice.email, f"{BORDER}; dmarc=pass header.from={domain}")
    state = state_for_message(message)
    # The Customer's ref, not the address the conversation shows: her orders are filed under it.
    assert (state["customer_ref"], state["verified"]) == ("alice", True)
    facts = lookup_facts(["NW-10001", "NW-20001"], state["customer_ref"])
    assert [fact.number for fact in facts.orders] == ["NW-10001"]
    assert facts.unknown_orders == ("NW-20001",)  # Bob's order stays unknown to her


def _api_message(conversation: Conversation, verified_by: str) -> Message:
    message = Message.objects.create(
        conversation=conversation,
        role=MessageRole.CUSTOMER,
        body="Refund NW-10001 please",
        verified_by=verified_by,
    )
    return Message.objects.select_related("conversation__customer").get(pk=message.pk)


def test_the_state_the_actions_and_the_documents_read_one_customer(alice: Customer) -> None:
    """support.customers.customer_of is the one answer: the state's orders and memory, the
    actions' policy context and the documents' records all go by it, and a claimed ref with no
    customer linked is nobody (no fallback by the customer_ref string)."""
    linked = Conversation.objects.create(customer=alice, customer_ref="alice")
    claimed = Conversation.objects.create(customer_ref="alice")  # linked to nobody
    cases = [
        (_api_message(linked, Verification.API_KEY), alice),
        (_api_message(linked, Verification.NONE), None),
        (_api_message(claimed, Verification.API_KEY), None),
    ]
    for message, expected in cases:
        assert customer_of(message) == expected
        assert context_for(message).customer == expected
        state = state_for_message(message)
        assert state["customer_ref"] == (expected.ref if expected else "")
        assert bool(state["earlier"]) == (expected is not None)
