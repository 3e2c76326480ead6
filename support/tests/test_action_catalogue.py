"""The actions' catalogue (support/actions/catalogue.py) on the real database: each of the six
actions' schema and policy, checked against Order rows as the store has them, for the verified
customer only (another's order looks like no order at all)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from jsonschema import Draft202012Validator

from support.actions.catalogue import (
    CATALOGUE,
    NOT_VERIFIED,
    PolicyContext,
    check_action,
    context_for_ref,
    find_order,
    refund_amount,
)
from support.due import TaskError, check_due
from support.models import Customer, Order, OrderStatus
from support.vocabulary import ActionRisk

pytestmark = pytest.mark.django_db

CONTRACT_ARGUMENTS = {
    "order_status": {"order_number"},
    "cancel_order": {"order_number"},
    "refund_order": {"order_number", "amount"},
    "update_shipping_address": {"order_number", "address"},
    "resend_confirmation": {"order_number"},
    "create_follow_up": {"title", "due_at"},
}


@pytest.fixture
def alice() -> Customer:
    return Customer.objects.create(ref="alice", name="Alice")


@pytest.fixture
def bob() -> Customer:
    return Customer.objects.create(ref="bob", name="Bob")


def order(customer: Customer, number: str, **fields: Any) -> Order:
    values: dict[str, Any] = {"status": OrderStatus.PROCESSING, "total": Decimal("80.00")}
    values.update(fields)
    return Order.objects.create(number=number, customer=customer, **values)


def ctx(customer: Customer | None) -> PolicyContext:
    return PolicyContext(customer=customer, now=timezone.now())


def test_the_catalogue_is_the_contracts_six_with_valid_schemas() -> None:
    assert set(CATALOGUE) == set(CONTRACT_ARGUMENTS)
    for name, spec in CATALOGUE.items():
        Draft202012Validator.check_schema(spec.schema)
        assert set(spec.schema["properties"]) == CONTRACT_ARGUMENTS[name]
        wire = spec.as_wire()
        assert wire["name"] == name and wire["description"]
        assert wire["risk"] in ActionRisk.values
    assert CATALOGUE["refund_order"].risk == ActionRisk.MONEY
    assert CATALOGUE["order_status"].risk == ActionRisk.READ
    assert CATALOGUE["cancel_order"].risk == ActionRisk.WRITE


def test_unknown_action_and_malformed_arguments_are_refused(alice: Customer) -> None:
    order(alice, "NW-1")
    assert check_action("delete_everything", {}, ctx(alice)) == [
        "no such action: delete_everything"
    ]
    assert check_action("cancel_order", {}, ctx(alice)) == ["'order_number' is a required property"]
    extra = check_action("cancel_order", {"order_number": "NW-1", "why": "x"}, ctx(alice))
    assert len(extra) == 1 and "'why' was unexpected" in extra[0]
    wrong_type = check_action("cancel_order", {"order_number": 12}, ctx(alice))
    assert wrong_type == ["order_number: 12 is not of type 'string'"]
    assert check_action("cancel_order", ["NW-1"], ctx(alice)) == [  # type: ignore[arg-type]
        "the arguments must be an object"
    ]


@pytest.mark.parametrize("name", ["order_status", "cancel_order", "resend_confirmation"])
def test_order_actions_need_the_verified_customers_own_order(
    name: str, alice: Customer, bob: Customer
) -> None:
    order(alice, "NW-1")
    order(bob, "NW-2")
    assert check_action(name, {"order_number": "NW-1"}, ctx(alice)) == []
    assert check_action(name, {"order_number": "nw-1 "}, ctx(alice)) == []  # as typed
    # Bob's order and a number nobody has read the same: nothing about Bob leaks.
    bobs = check_action(name, {"order_number": "NW-2"}, ctx(alice))
    nobodys = check_action(name, {"order_number": "NW-999"}, ctx(alice))
    assert bobs == ["order NW-2 is not one of this customer's orders"]
    assert nobodys == ["order NW-999 is not one of this customer's orders"]
    # An unverified sender acts on no order, not even one whose number they know.
    assert check_action(name, {"order_number": "NW-1"}, ctx(None)) == [NOT_VERIFIED]


def test_an_order_without_a_customer_is_nobodys(alice: Customer) -> None:
    Order.objects.create(number="NW-ORPHAN", customer=None)
    assert find_order("NW-ORPHAN", alice) is None
    assert find_order("NW-ORPHAN", None) is None
    assert check_action("order_status", {"order_number": "NW-ORPHAN"}, ctx(alice)) != []


@pytest.mark.parametrize(
    "status",
    [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.CANCELLED, OrderStatus.RETURNED],
)
def test_cancel_and_address_change_only_while_processing(
    status: OrderStatus, alice: Customer
) -> None:
    order(alice, "NW-1")
    row = order(alice, "NW-3", status=status)
    address = {"address": "1 New Street, Springfield"}
    assert check_action("cancel_order", {"order_number": "NW-1"}, ctx(alice)) == []
    assert (
        check_action("update_shipping_address", {"order_number": "NW-1", **address}, ctx(alice))
        == []
    )
    cancel = check_action("cancel_order", {"order_number": "NW-3"}, ctx(alice))
    assert cancel == [
        f"order NW-3 is {row.status.lower()}: it can be cancelled only while it is processing"
    ]
    moved = check_action("update_shipping_address", {"order_number": "NW-3", **address}, ctx(alice))
    assert len(moved) == 1 and "only while it is processing" in moved[0]


def test_the_check_reads_the_row_as_it_is_now(alice: Customer) -> None:
    row = order(alice, "NW-1")
    assert check_action("cancel_order", {"order_number": "NW-1"}, ctx(alice)) == []
    Order.objects.filter(pk=row.pk).update(status=OrderStatus.SHIPPED)  # shipped meanwhile
    assert check_action("cancel_order", {"order_number": "NW-1"}, ctx(alice)) != []


def test_an_address_must_say_something(alice: Customer) -> None:
    order(alice, "NW-1")
    blank = check_action(
        "update_shipping_address", {"order_number": "NW-1", "address": "   "}, ctx(alice)
    )
    assert blank == ["the new address is empty"]
    empty = check_action(
        "update_shipping_address", {"order_number": "NW-1", "address": ""}, ctx(alice)
    )
    assert len(empty) == 1 and empty[0].startswith("address:")


def refund(number: str, amount: Any, customer: Customer | None) -> list[str]:
    return check_action("refund_order", {"order_number": number, "amount": amount}, ctx(customer))


def test_refund_within_what_is_left_of_an_eligible_order(alice: Customer, bob: Customer) -> None:
    today = timezone.localdate()
    order(
        alice,
        "NW-1",
        status=OrderStatus.DELIVERED,
        refund_eligible=True,
        delivery_date=today - timedelta(days=3),
        total=Decimal("80.00"),
        refunded=Decimal("30.00"),
    )
    order(
        alice,
        "NW-2",
        status=OrderStatus.DELIVERED,
        refund_eligible=False,
        delivery_date=today - timedelta(days=3),
    )
    order(
        bob,
        "NW-3",
        status=OrderStatus.DELIVERED,
        refund_eligible=True,
        delivery_date=today - timedelta(days=3),
    )
    assert refund("NW-1", 50, alice) == []
    assert refund("NW-1", "49.99", alice) == []
    assert refund("NW-1", 50.01, alice) == ["at most 50.00 EUR of order NW-1 can still be refunded"]
    assert refund("NW-2", 10, alice) == ["order NW-2 is not eligible for a refund"]
    assert refund("NW-3", 10, alice) == ["order NW-3 is not one of this customer's orders"]
    assert refund("NW-1", 10, None) == [NOT_VERIFIED]
    assert refund("NW-1", 0, alice)[0].startswith("amount:")
    assert refund("NW-1", -5, alice)[0].startswith("amount:")
    assert refund("NW-1", "ten", alice)[0].startswith("amount:")
    assert refund("NW-1", 10.005, alice) == [
        "the amount must be positive, with at most two decimals"
    ]


def test_a_fully_refunded_order_has_nothing_left(alice: Customer) -> None:
    order(
        alice,
        "NW-1",
        refund_eligible=True,
        delivery_date=timezone.localdate(),
        total=Decimal("20.00"),
        refunded=Decimal("20.00"),
    )
    assert refund("NW-1", "0.01", alice) == ["at most 0.00 EUR of order NW-1 can still be refunded"]


@override_settings(REFUND_WINDOW_DAYS=30)
def test_the_refund_window_counts_from_delivery_else_from_the_order(alice: Customer) -> None:
    today = timezone.localdate()
    now = timezone.now()
    order(alice, "IN", refund_eligible=True, delivery_date=today - timedelta(days=30))
    order(alice, "LATE", refund_eligible=True, delivery_date=today - timedelta(days=31))
    order(alice, "PLACED", refund_eligible=True, placed_at=now - timedelta(days=10))
    order(alice, "OLD", refund_eligible=True, placed_at=now - timedelta(days=40))
    order(alice, "UNDATED", refund_eligible=True)
    assert refund("IN", 5, alice) == []
    late = today - timedelta(days=31)
    assert refund("LATE", 5, alice) == [
        f"order LATE is past the 30-day refund window (since {late})"
    ]
    assert refund("PLACED", 5, alice) == []
    assert len(refund("OLD", 5, alice)) == 1 and "refund window" in refund("OLD", 5, alice)[0]
    assert refund("UNDATED", 5, alice) == [
        "order UNDATED has no delivery or order date to count the refund window from"
    ]
    with override_settings(REFUND_WINDOW_DAYS=60):
        assert refund("OLD", 5, alice) == [] and refund("LATE", 5, alice) == []


def test_refund_amount_parsing() -> None:
    assert refund_amount({"amount": 12.5}) == Decimal("12.50")
    assert refund_amount({"amount": "12.50"}) == Decimal("12.50")
    assert refund_amount({"amount": "1e400"}) is None
    assert refund_amount({"amount": float("inf")}) is None
    assert refund_amount({"amount": "NaN"}) is None
    assert refund_amount({"amount": "0.00"}) is None
    assert refund_amount({}) is None


def test_resend_confirmation_not_for_a_cancelled_order(alice: Customer) -> None:
    order(alice, "NW-1", status=OrderStatus.DELIVERED)
    order(alice, "NW-2", status=OrderStatus.CANCELLED)
    assert check_action("resend_confirmation", {"order_number": "NW-1"}, ctx(alice)) == []
    assert check_action("resend_confirmation", {"order_number": "NW-2"}, ctx(alice)) == [
        "order NW-2 is cancelled: there is no confirmation to resend"
    ]


def test_follow_up_needs_a_title_and_a_future_due_time() -> None:
    later = (timezone.now() + timedelta(days=1)).isoformat()
    earlier = (timezone.now() - timedelta(days=1)).isoformat()
    # No order involved: an unverified sender's conversation may get a follow-up too.
    assert check_action("create_follow_up", {"title": "Call back"}, ctx(None)) == []
    assert (
        check_action("create_follow_up", {"title": "Call back", "due_at": later}, ctx(None)) == []
    )
    assert check_action("create_follow_up", {"title": "Call", "due_at": earlier}, ctx(None)) == [
        "due_at: the due date is in the past"
    ]
    assert check_action("create_follow_up", {"title": "Call", "due_at": "tomorrow"}, ctx(None)) == [
        "due_at: not an ISO 8601 date or date-time"
    ]
    assert check_action("create_follow_up", {"title": "C", "due_at": "2026-02-30T10:00"}, ctx(None))
    assert check_action("create_follow_up", {"title": "  "}, ctx(None)) == [
        "the follow-up needs a title"
    ]
    assert check_action("create_follow_up", {"title": "x" * 301}, ctx(None))[0].startswith("title:")


def test_a_follow_up_s_due_time_is_checked_as_a_task_s(agent_user: Any) -> None:
    """The catalogue refuses what making the task would refuse, and allows what it allows."""
    now = timezone.now()
    cases = [
        timezone.localdate(now).isoformat(),  # a bare date: due by the end of that day
        (now + timedelta(days=6 * 365)).isoformat(),  # more than five years ahead
        (now - timedelta(minutes=5)).isoformat(),
        "2026-02-30T10:00",
    ]
    for due_at in cases:
        refused = check_action("create_follow_up", {"title": "Call", "due_at": due_at}, ctx(None))
        try:
            check_due(due_at, now)
        except TaskError as error:
            assert refused == [error.detail], due_at
        else:
            assert refused == [], due_at
    assert check_action("create_follow_up", {"title": "C", "due_at": cases[0]}, ctx(None)) == []
    assert check_action("create_follow_up", {"title": "C", "due_at": cases[1]}, ctx(None)) == [
        "due_at: more than five years ahead"
    ]


def test_the_context_of_a_states_customer_ref(alice: Customer) -> None:
    order(alice, "NW-1")
    assert context_for_ref("alice").customer == alice
    assert context_for_ref("").customer is None  # an unverified sender's state
    assert context_for_ref("nobody-known").customer is None
    allowed = check_action("cancel_order", {"order_number": "NW-1"}, context_for_ref("alice"))
    assert allowed == []
    assert check_action("cancel_order", {"order_number": "NW-1"}, context_for_ref("")) == [
        NOT_VERIFIED
    ]
