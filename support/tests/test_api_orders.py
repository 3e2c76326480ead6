"""PUT/GET /orders/{number} (the store keeps Resolver's order facts current) and GET /actions
(the catalogue), through the real API, keys and database: scopes, 4xx with JSON reasons,
and a PUT that changes what the catalogue's policy allows."""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone
from jsonschema import Draft202012Validator

from support.actions.catalogue import CATALOGUE, PolicyContext, check_action
from support.models import Customer, Order, OrderStatus
from support.orders import OrderFacts, put_order
from support.tests.conftest import API, key_client

pytestmark = pytest.mark.django_db

ORDER_KEYS = {
    "number", "customer_ref", "status", "total", "currency", "placed_at", "delivery_date",
    "refund_eligible", "shipping_address", "refunded",
}  # fmt: skip


@pytest.fixture
def store() -> Client:
    return key_client("ingest")


@pytest.fixture
def reader() -> Client:
    return key_client("read")


def put(client: Client, number: str, body: Any) -> Any:
    return client.put(f"{API}/orders/{number}", json.dumps(body), content_type="application/json")


NEW = {
    "customer_ref": "C-1042",
    "status": "PROCESSING",
    "total": 59.9,
    "currency": "usd",
    "placed_at": "2026-12-01T10:00:00Z",
    "shipping_address": "1 Old Road, Springfield",
    "refund_eligible": True,
}


def test_put_creates_then_updates_and_get_shows_it(store: Client, reader: Client) -> None:
    created = put(store, "NW-77", NEW)
    assert created.status_code == 200, created.content
    body = created.json()
    assert set(body) == ORDER_KEYS
    assert (body["number"], body["customer_ref"], body["status"]) == (
        "NW-77",
        "C-1042",
        "PROCESSING",
    )
    assert (body["total"], body["currency"], body["refunded"]) == ("59.90", "USD", "0.00")
    assert body["delivery_date"] is None and body["refund_eligible"] is True
    order = Order.objects.get(number="NW-77")
    assert order.customer == Customer.objects.get(ref="C-1042")

    # Shipped at the store: only what changed is sent, the rest is kept; the case may differ.
    shipped = put(
        store,
        "nw-77",
        {
            "customer_ref": "C-1042",
            "status": "SHIPPED",
            "total": "59.90",
            "delivery_date": "2026-12-09",
        },
    )
    assert shipped.status_code == 200, shipped.content
    assert Order.objects.count() == 1
    order.refresh_from_db()
    assert (order.number, order.status, str(order.delivery_date)) == (
        "NW-77",
        "SHIPPED",
        "2026-12-09",
    )
    assert (order.shipping_address, order.currency, order.refund_eligible) == (
        "1 Old Road, Springfield",
        "USD",
        True,
    )

    shown = reader.get(f"{API}/orders/nw-77")
    assert shown.status_code == 200
    assert shown.json() == {**shipped.json()}
    assert shown.json()["delivery_date"] == "2026-12-09"


def test_a_put_changes_what_the_catalogue_allows(store: Client) -> None:
    assert put(store, "NW-78", NEW).status_code == 200
    customer = Customer.objects.get(ref="C-1042")
    context = PolicyContext(customer=customer, now=timezone.now())
    assert check_action("cancel_order", {"order_number": "NW-78"}, context) == []
    put(store, "NW-78", {**NEW, "status": "SHIPPED"})
    assert check_action("cancel_order", {"order_number": "NW-78"}, context) != []
    # The store reports a refund of its own: what is left shrinks.
    put(store, "NW-78", {**NEW, "status": "DELIVERED", "refunded": "50.00"})
    refund = {"order_number": "NW-78", "amount": "10.00"}
    assert check_action("refund_order", refund, context) == [
        "at most 9.90 USD of order NW-78 can still be refunded"
    ]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**NEW, "status": "LOST"}, "status"),
        ({**NEW, "total": -1}, "total"),
        ({**NEW, "total": "12.345"}, "total"),
        ({**NEW, "total": "1e12"}, "total"),
        ({**NEW, "currency": "EURO"}, "currency"),
        ({**NEW, "customer_ref": ""}, "customer_ref"),
        ({**NEW, "customer_ref": "   "}, "customer_ref"),
        ({**NEW, "shipping_address": "a\x00b"}, "shipping_address"),
        ({**NEW, "placed_at": "yesterday"}, "placed_at"),
        ({**NEW, "placed_at": -62135596801}, "placed_at"),  # was read as ms: a day in 1968
        ({**NEW, "placed_at": 1767225600}, "placed_at"),
        ({**NEW, "placed_at": "1767225600"}, "placed_at"),
        ({**NEW, "placed_at": "-62135596801"}, "placed_at"),
        ({key: value for key, value in NEW.items() if key != "total"}, "total"),
        ({**NEW, "refunded": "60.00"}, "refunded"),
        ("not an object", ""),
    ],
)
def test_bad_input_is_a_422_with_a_reason(store: Client, body: Any, reason: str) -> None:
    response = put(store, "NW-79", body)
    assert response.status_code == 422, response.content
    error = response.json()
    assert error["detail"] and error["code"]
    assert reason in json.dumps(error["detail"])
    assert not Order.objects.filter(number="NW-79").exists()


def test_a_status_is_read_whatever_its_case(store: Client) -> None:
    """A store sends "shipped" or "Shipped"; it was a 422 for anything but "SHIPPED"."""
    for spelling in ("shipped", " Delivered "):
        response = put(store, "NW-82", {**NEW, "status": spelling})
        assert response.status_code == 200, response.content
        assert response.json()["status"] == spelling.strip().upper()


def test_minus_zero_is_stored_as_zero(store: Client) -> None:
    response = put(store, "NW-81", {**NEW, "total": "-0", "refunded": "-0.00"})
    assert response.status_code == 200, response.content
    assert (response.json()["total"], response.json()["refunded"]) == ("0.00", "0.00")


def test_lowering_the_total_below_what_was_refunded_is_refused(store: Client) -> None:
    put(store, "NW-80", {**NEW, "refunded": "20.00"})
    response = put(store, "NW-80", {**NEW, "total": "10.00"})
    assert response.status_code == 422
    assert response.json()["code"] == "refunded_exceeds_total"
    assert Order.objects.get(number="NW-80").total == Decimal("59.90")


def test_an_overlong_or_blank_number_is_a_422(store: Client, reader: Client) -> None:
    assert put(store, "N" * 65, NEW).status_code == 422
    assert put(store, "%20", NEW).status_code == 422
    assert reader.get(f"{API}/orders/{'N' * 65}").json()["code"] == "invalid_order_number"


@pytest.mark.parametrize(
    ("placed_at", "status"),
    [
        ("2026-01-01T00:00:00+20:00", 200),  # beyond PostgreSQL's offsets: stored in UTC
        ("0001-01-01T00:00:00+05:00", 422),  # before year 1 in UTC: never readable again
        ("9999-12-31T23:00:00-05:00", 422),  # after year 9999 in UTC
    ],
)
def test_placed_at_is_stored_in_utc_or_refused(store: Client, placed_at: str, status: int) -> None:
    response = put(store, "NW-TZ", {**NEW, "placed_at": placed_at})
    assert response.status_code == status, response.content
    if status == 200:
        assert response.json()["placed_at"] == "2025-12-31T04:00:00Z"
        assert put(store, "NW-TZ", NEW).status_code == 200  # the row reads back
    else:
        assert response.json()["code"] == "validation_error"
        assert not Order.objects.filter(number="NW-TZ").exists()


def test_scopes_and_unknown_orders(store: Client, reader: Client) -> None:
    assert put(reader, "NW-81", NEW).status_code == 403
    assert store.get(f"{API}/orders/NW-81").status_code == 403
    assert Client().get(f"{API}/orders/NW-81").status_code == 401
    missing = reader.get(f"{API}/orders/NW-81")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_an_order_may_move_to_another_customer(store: Client, reader: Client) -> None:
    put(store, "NW-82", NEW)
    put(store, "NW-82", {**NEW, "customer_ref": "C-2000"})
    assert reader.get(f"{API}/orders/NW-82").json()["customer_ref"] == "C-2000"
    assert Order.objects.get(number="NW-82").customer == Customer.objects.get(ref="C-2000")


def test_get_actions_lists_the_catalogue(reader: Client) -> None:
    response = reader.get(f"{API}/actions")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [item["name"] for item in items] == list(CATALOGUE)
    for item in items:
        assert set(item) == {"name", "description", "arguments_schema", "risk"}
        Draft202012Validator.check_schema(item["arguments_schema"])
        assert item["arguments_schema"] == CATALOGUE[item["name"]].schema
    risks = {item["name"]: item["risk"] for item in items}
    assert risks["refund_order"] == "money" and risks["order_status"] == "read"
    assert Client().get(f"{API}/actions").status_code == 401


def test_get_orders_knows_no_customer_order_as_nobodys(reader: Client) -> None:
    Order.objects.create(number="NW-83", status=OrderStatus.DELIVERED, total=Decimal("5"))
    body = reader.get(f"{API}/orders/NW-83").json()
    assert (body["customer_ref"], body["total"]) == (None, "5.00")


def test_two_numbers_differing_only_in_case_are_one_order(store: Client) -> None:
    put(store, "NW-5", NEW)
    put(store, "nw-5", {**NEW, "status": "SHIPPED"})

    assert Order.objects.filter(number__iexact="nw-5").count() == 1
    assert Order.objects.get(number__iexact="NW-5").status == OrderStatus.SHIPPED
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.create(number="Nw-5", status=OrderStatus.PROCESSING)  # any other writer


@pytest.mark.django_db(transaction=True)
def test_a_put_racing_another_case_of_the_number_updates_that_order() -> None:
    """A PUT "nw-9" whose lookup missed an "NW-9" being created meanwhile (not committed yet)
    waits on the unique index, then updates the order the other made: one row, no 500."""
    inserted, release = threading.Event(), threading.Event()
    outcome: list[Any] = []

    def other_put() -> None:
        try:
            with transaction.atomic():
                Order.objects.create(number="NW-9", status=OrderStatus.PROCESSING)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    def racing_put() -> None:
        try:
            facts = OrderFacts(customer_ref="C-9", status=OrderStatus.SHIPPED, total=Decimal(5))
            outcome.append(put_order("nw-9", facts))
        except Exception as error:  # the test reports it
            outcome.append(error)
        finally:
            connection.close()

    first = threading.Thread(target=other_put)
    first.start()
    assert inserted.wait(10)
    second = threading.Thread(target=racing_put)
    second.start()
    deadline = time.monotonic() + 10
    while second.is_alive() and time.monotonic() < deadline and not _waiting_on_a_lock():
        time.sleep(0.05)
    release.set()
    first.join(10)
    second.join(10)

    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    order, created = outcome[0]
    assert (order.number, created, order.status) == ("NW-9", False, OrderStatus.SHIPPED)
    assert Order.objects.filter(number__iexact="nw-9").count() == 1


def _waiting_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()"
        )
        row = cursor.fetchone()
    return bool(row and row[0])
