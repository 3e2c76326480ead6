"""A run's proposed actions reach the store (support/actions/propose.py through
record_outcome) on the real database: re-checked against the rows and the message's verified
customer, stored as proposed Action rows with the draft in one transaction, shown on the
Draft object (GET /drafts without a query per draft, GET /conversations/{id})."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from support.agent_runs import AlreadyRecorded, record_outcome, unsaved_draft
from support.inbound import receive_message
from support.models import Action, AuditLog, Customer, Draft, Order, OrderStatus
from support.tests.conftest import API
from support.tests.test_agent_runs import outcome
from support.vocabulary import ActionStatus, Verification

pytestmark = pytest.mark.django_db

CANCEL = {
    "name": "cancel_order",
    "arguments": {"order_number": "NW-1"},
    "confirmation": "I've cancelled order NW-1.",
    "fallback": "I've asked the team to cancel order NW-1.",
}


@pytest.fixture
def orders() -> None:
    alice = Customer.objects.create(ref="alice")
    bob = Customer.objects.create(ref="bob")
    Order.objects.create(number="NW-1", customer=alice, total=Decimal("40.00"))
    Order.objects.create(number="NW-2", customer=alice, status=OrderStatus.SHIPPED)
    Order.objects.create(number="NW-9", customer=bob)


def verified_draft(body: str = "please cancel NW-1", ref: str = "alice") -> Draft:
    _, draft = receive_message(
        body, customer_ref=ref, verified_by=Verification.API_KEY, enqueue=False
    )
    return draft


def test_an_allowed_proposal_is_stored_with_the_draft(orders: None) -> None:
    draft = verified_draft()
    record_outcome(draft.pk, outcome(actions=[CANCEL]))

    action = Action.objects.get(draft=draft)
    assert (action.name, action.arguments, action.status) == (
        "cancel_order",
        {"order_number": "NW-1"},
        ActionStatus.PROPOSED,
    )
    assert action.conversation_id == draft.conversation_id
    assert (action.confirmation, action.fallback) == (CANCEL["confirmation"], CANCEL["fallback"])
    audit = AuditLog.objects.get(draft=draft, action="suggested")
    assert audit.after is not None
    assert audit.after["actions"] == [{"id": str(action.pk), "name": "cancel_order"}]
    draft.refresh_from_db()
    assert draft.as_wire()["actions"] == [
        {
            "id": action.pk,
            "name": "cancel_order",
            "arguments": {"order_number": "NW-1"},
            "status": "proposed",
            "result": None,
            "error": None,
            "decided_by": None,
            "decided_at": None,
        }
    ]


def test_refused_malformed_and_repeated_proposals_are_dropped(
    orders: None, caplog: pytest.LogCaptureFixture
) -> None:
    draft = verified_draft()
    proposals: list[Any] = [
        CANCEL,
        dict(CANCEL),  # the same again
        {"name": "cancel_order", "arguments": {"order_number": "NW-2"}},  # shipped
        {"name": "cancel_order", "arguments": {"order_number": "NW-9"}},  # Bob's
        {"name": "refund_order", "arguments": {"order_number": "NW-1", "amount": 5}},  # no
        {"name": "wire_money", "arguments": {}},
        {"name": "order_status", "arguments": "NW-1"},
        "cancel everything",
        {"name": "order_status", "arguments": {"order_number": "nw-2"}},
    ]
    with caplog.at_level(logging.INFO, logger="support.actions.propose"):
        record_outcome(draft.pk, outcome(actions=proposals))

    kept = list(Action.objects.filter(draft=draft).values_list("name", "arguments"))
    assert kept == [
        ("cancel_order", {"order_number": "NW-1"}),
        ("order_status", {"order_number": "nw-2"}),
    ]
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 6
    assert any("NW-2 is shipped" in line for line in dropped)
    assert any("NW-9 is not one of this customer's orders" in line for line in dropped)
    assert any("no such action: wire_money" in line for line in dropped)


def test_a_proposal_dropped_at_commit_leaves_no_claim_in_the_answer(orders: None) -> None:
    """The graph checked it allowed; NW-2 shipped while the run was writing: the answer must
    not say it was done, whoever sends it."""
    from resolver.audit_actor import Actor
    from support import review

    draft = verified_draft("please cancel NW-2")
    cancel = {
        "name": "cancel_order",
        "arguments": {"order_number": "NW-2"},
        "confirmation": "I've cancelled order NW-2.",
        "fallback": "I've asked the team to cancel order NW-2 if it can still be stopped.",
    }
    answer = "Hello Alice, I've cancelled order NW-2. You will get an e-mail shortly."
    record_outcome(draft.pk, outcome(answer=answer, actions=[cancel]))

    draft.refresh_from_db()
    assert not Action.objects.filter(draft=draft).exists()
    assert draft.answer == (
        "Hello Alice, I've asked the team to cancel order NW-2 if it can still be stopped. "
        "You will get an e-mail shortly."
    )
    review.approve(draft.pk, Actor.agent())
    draft.refresh_from_db()
    assert "I've cancelled" not in draft.sent_text


def test_an_unverified_sender_gets_no_order_action(orders: None) -> None:
    # Claims to be Alice (a bare ref, no key vouching for it) and knows her order number.
    _, draft = receive_message("please cancel NW-1", customer_ref="alice", enqueue=False)
    follow_up = {"name": "create_follow_up", "arguments": {"title": "Check who this is"}}
    record_outcome(draft.pk, outcome(actions=[CANCEL, follow_up]))

    assert list(Action.objects.filter(draft=draft).values_list("name", flat=True)) == [
        "create_follow_up"
    ]


def test_a_second_recording_adds_no_actions(orders: None) -> None:
    draft = verified_draft()
    record_outcome(draft.pk, outcome(actions=[CANCEL]), event_id="ev-1")
    with pytest.raises(AlreadyRecorded):
        record_outcome(draft.pk, outcome(actions=[CANCEL]), event_id="ev-1")
    assert Action.objects.filter(draft=draft).count() == 1


def test_an_unsaved_draft_shows_what_it_would_propose() -> None:
    wire = unsaved_draft(outcome(actions=[CANCEL]))
    assert wire["actions"] == [
        {"name": "cancel_order", "arguments": {"order_number": "NW-1"}, "status": "proposed"}
    ]
    assert unsaved_draft(outcome())["actions"] == []


def _list_queries(api: Client) -> tuple[int, dict[str, Any]]:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(f"{API}/drafts?limit=100")
    assert response.status_code == 200
    return len(queries), response.json()


def test_the_draft_list_shows_actions_without_a_query_per_draft(orders: None, api: Client) -> None:
    first = verified_draft()
    record_outcome(first.pk, outcome(actions=[CANCEL]))
    _list_queries(api)  # the key's first use writes its last_used_at
    one_draft, body = _list_queries(api)
    assert [a["name"] for a in body["items"][0]["actions"]] == ["cancel_order"]

    for _ in range(4):
        draft = verified_draft("where is NW-1?")
        status = {"name": "order_status", "arguments": {"order_number": "NW-1"}}
        record_outcome(draft.pk, outcome(actions=[status]))
    five_drafts, body = _list_queries(api)

    assert len(body["items"]) == 5
    assert sorted(len(item["actions"]) for item in body["items"]) == [1, 1, 1, 1, 1]
    assert five_drafts == one_draft


def test_the_conversation_thread_shows_the_drafts_actions(orders: None, api: Client) -> None:
    draft = verified_draft()
    record_outcome(draft.pk, outcome(actions=[CANCEL]))
    response = api.get(f"{API}/conversations/{draft.conversation_id}")
    assert response.status_code == 200
    shown = response.json()["messages"][0]["draft"]["actions"]
    assert [(a["name"], a["status"]) for a in shown] == [("cancel_order", "proposed")]


def test_a_later_unverified_message_acts_on_nobodys_order(orders: None) -> None:
    first = verified_draft()  # links the conversation to Alice
    record_outcome(first.pk, outcome())
    conversation = first.conversation
    assert conversation.customer is not None
    # Someone in Cc, or anyone with the thread's address, writes without being verified.
    _, second = receive_message("cancel NW-1 now", conversation=conversation, enqueue=False)
    record_outcome(second.pk, outcome(actions=[CANCEL]))
    assert not Action.objects.filter(draft=second).exists()


def test_decimal_arguments_are_stored_as_json(orders: None) -> None:
    Order.objects.filter(number="NW-1").update(
        refund_eligible=True, delivery_date=timezone.localdate()
    )
    draft = verified_draft("refund 12.50 on NW-1")
    refund = {
        "name": "refund_order",
        "arguments": {"order_number": "NW-1", "amount": Decimal("12.50")},
    }
    record_outcome(
        draft.pk,
        outcome(
            actions=[refund, {"name": "order_status", "arguments": {"order_number": object()}}]
        ),
    )
    stored = Action.objects.get(draft=draft)
    assert stored.arguments == {"order_number": "NW-1", "amount": "12.50"}
