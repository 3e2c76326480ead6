"""Missing information (#26 must 5): which facts an intent needs (agents/missing.py, defined
once), when the message, the conversation, the documents or the verified customer's orders give
them, and the graph's question at the end of a suggested answer."""

from __future__ import annotations

import ast
import uuid
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from langgraph.graph.state import CompiledStateGraph

from agents import missing
from agents.graph import run_graph
from agents.missing import Known, ask_for_missing, missing_facts, question
from agents.state import Turn
from agents.state_builder import build_state
from knowledge import taxonomy
from support.documents import DocumentFacts
from support.memory import EarlierConversation
from support.models import Customer, Order, OrderStatus
from support.vocabulary import DocumentStatus, MissingFact

ORDER, ADDRESS = MissingFact.ORDER_NUMBER, MissingFact.SHIPPING_ADDRESS
ASK_ORDER = "So I can look into this, could you send me your order number?"


def test_an_intent_needs_what_it_needs_and_no_more() -> None:
    nothing = Known(texts=["hi"])
    assert missing_facts("get_refund", nothing) == [ORDER]
    assert missing_facts("track_order", nothing) == [ORDER]
    assert missing_facts("change_shipping_address", nothing) == [ORDER, ADDRESS]
    assert missing_facts("delivery_period", nothing) == []  # a policy question
    assert missing_facts("", nothing) == []


def test_where_a_fact_may_come_from() -> None:
    assert missing_facts("get_refund", Known(texts=[], order_numbers=["NW-1"])) == []
    documents = [{"order_numbers": ["NW-10001"]}]
    assert missing_facts("get_refund", Known(texts=[], document_fields=documents)) == []
    # The verified customer's orders: one, or one still open, is the one they mean.
    one = Known(texts=[], customer_orders=[("NW-1", "DELIVERED")])
    assert missing_facts("get_refund", one) == []
    one_open = [("NW-1", "DELIVERED"), ("NW-2", "SHIPPED"), ("NW-3", "CANCELLED")]
    assert missing_facts("track_order", Known(texts=[], customer_orders=one_open)) == []
    several = [("NW-1", "SHIPPED"), ("NW-2", "PROCESSING")]
    assert missing_facts("track_order", Known(texts=[], customer_orders=several)) == [ORDER]


def test_an_address_in_the_customer_s_words() -> None:
    for text in (
        "please send it to 12 Baker Street instead",
        "new address: Hauptstraße 5, 10115 Berlin",
        "ship to 221B Baker St., London NW1 6XE",
        "deliver to 500 Market Ave, San Francisco, CA 94105",
    ):
        assert not missing_facts("change_shipping_address", Known([text], ["NW-1"])), text
    assert missing_facts("change_shipping_address", Known(["wrong address"], ["NW-1"])) == [ADDRESS]


def test_the_question() -> None:
    assert question([]) == ""
    assert question(["order_number"]) == ASK_ORDER
    assert question(["order_number", "shipping_address"]) == (
        "So I can look into this, could you send me your order number and shipping address?"
    )
    asked = ask_for_missing("Refunds take 5 days [1].", ["order_number"])
    assert asked == f"Refunds take 5 days [1].\n\n{ASK_ORDER}"
    assert ask_for_missing(asked, ["order_number"]) == asked  # once
    assert ask_for_missing("", ["order_number"]) == ""  # nothing drafted: nothing to append to


def test_a_refund_request_without_an_order_number_asks_for_it(
    extractive_graph: CompiledStateGraph,
) -> None:
    outcome = run_graph(extractive_graph, build_state("How do I get a refund?", customer_ref=""))
    assert outcome.triage["intent"] == "get_refund"
    assert outcome.status == "SUGGESTED"
    assert outcome.context["missing"] == ["order_number"]
    assert outcome.answer.endswith(ASK_ORDER)
    assert "missing" in outcome.trace


def test_with_an_order_number_it_does_not(
    extractive_graph: CompiledStateGraph, orders: dict[str, Order]
) -> None:
    state = build_state("How do I get a refund for order NW-10002?", customer_ref="alice")
    outcome = run_graph(extractive_graph, state)
    assert outcome.triage["intent"] == "get_refund"
    assert outcome.context["missing"] == []
    assert "could you send me" not in outcome.answer
    # Given earlier in the conversation: not missing either.
    history = [Turn(role="CUSTOMER", body="My order NW-10002 arrived broken.")]
    later = run_graph(extractive_graph, build_state("How do I get a refund?", history, "alice"))
    assert later.context["missing"] == []


def test_a_verified_customer_s_only_order_and_a_document_s_number_count(
    extractive_graph: CompiledStateGraph, orders: dict[str, Order]
) -> None:
    # bob has one order: the one he means.
    bob = run_graph(extractive_graph, build_state("How do I get a refund?", customer_ref="bob"))
    assert bob.context["missing"] == []
    # An unverified sender claiming to be bob has no orders to go by.
    claim = build_state("How do I get a refund?", customer_ref="", verified=False)
    assert run_graph(extractive_graph, claim).context["missing"] == ["order_number"]
    # A document the customer sent names the order.
    invoice = DocumentFacts(
        attachment_id=uuid.uuid4(),
        filename="invoice.pdf",
        status=DocumentStatus.READ,
        fields={"order_numbers": ["NW-10002"]},
    )
    state = build_state("How do I get a refund?", customer_ref="alice", documents=[invoice])
    outcome = run_graph(extractive_graph, state)
    assert outcome.context["missing"] == []
    # Looked up as the customer's claim: alice's order, so its facts are shown.
    assert [o["number"] for o in outcome.facts["orders"]] == ["NW-10002"]


def _case(order: str, days_ago: float, summary: str) -> EarlierConversation:
    started = timezone.now() - timedelta(days=days_ago)
    return EarlierConversation(
        id=uuid.uuid4(),
        channel="email",
        started_at=started,
        last_message_at=started,
        status="RESOLVED",
        intent="track_order",
        outcome="resolved",
        summary=summary,
        orders=(order,),
    )


def test_only_the_earlier_conversations_the_run_drew_on_give_the_order(
    extractive_graph: CompiledStateGraph,
) -> None:
    """A returning customer's old, unrelated case named an order: "refund please" does not say
    it is that one, so the reply asks which (the earlier cases the run did not use are not
    known facts). A fresh case the message follows up does give it."""
    carol = Customer.objects.create(ref="carol", name="Carol")
    for number in ("NW-30001", "NW-30002"):  # two orders, none open: neither is "the one"
        Order.objects.create(number=number, customer=carol, status=OrderStatus.DELIVERED)
    old = _case("NW-30001", 400, "Asked where the parcel was; it had been delivered.")
    asked = run_graph(
        extractive_graph, build_state("How do I get a refund?", customer_ref="carol", earlier=[old])
    )
    assert asked.triage["intent"] == "get_refund"
    assert asked.context["earlier_conversations"] == []  # not drawn on
    assert asked.context["missing"] == ["order_number"]
    assert asked.answer.endswith(ASK_ORDER)

    fresh = _case("NW-30002", 3, "Asked for a refund of the broken kettle; refund promised.")
    state = build_state(
        "Any news on my refund for the kettle?", customer_ref="carol", earlier=[fresh]
    )
    followed = run_graph(extractive_graph, state)
    assert followed.context["earlier_conversations"] == [str(fresh.id)]
    assert followed.context["missing"] == []


def test_the_intents_are_named_by_the_taxonomy_not_quoted() -> None:
    """The intents a reply needs facts for are knowledge/taxonomy.py's constants (like
    HUMAN_INTENTS): agents/missing.py quotes none of them."""
    named = {v for k, v in vars(taxonomy).items() if k.endswith("_INTENT") and isinstance(v, str)}
    assert set(missing.NEEDS) <= named
    source = ast.parse(Path(missing.__file__).read_text())
    quoted = {n.value for n in ast.walk(source) if isinstance(n, ast.Constant)}
    assert not quoted & named
