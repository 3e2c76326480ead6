"""Demo customers and orders for `make run`, so order questions have facts to answer with.
Delivery dates are relative to today, so the demo never talks about a date long past."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from support.models import Customer, Order, OrderStatus

DEMO_CUSTOMERS = [
    ("demo-alice", "Alice Martin", "alice@example.com"),
    ("demo-bob", "Bob Okafor", "bob@example.com"),
]
# number, customer ref, status, delivery in days (None = unknown), refund eligible, total
DEMO_ORDERS = [
    ("NW-10001", "demo-alice", OrderStatus.SHIPPED, 2, False, "59.90"),
    ("NW-10002", "demo-alice", OrderStatus.DELIVERED, -3, True, "24.50"),
    ("NW-10003", "demo-alice", OrderStatus.PROCESSING, None, False, "112.00"),
    ("NW-20001", "demo-bob", OrderStatus.CANCELLED, None, True, "35.00"),
]


@transaction.atomic
def load_demo_orders() -> int:
    """Creates the demo rows that are missing; returns how many orders it created."""
    customers = {}
    for ref, name, email in DEMO_CUSTOMERS:
        customers[ref], _ = Customer.objects.get_or_create(
            ref=ref, defaults={"name": name, "email": email}
        )
    today = timezone.localdate()
    created = 0
    for number, ref, status, days, refundable, total in DEMO_ORDERS:
        _, was_created = Order.objects.get_or_create(
            number=number,
            defaults={
                "customer": customers[ref],
                "status": status,
                "delivery_date": today + timedelta(days=days) if days is not None else None,
                "refund_eligible": refundable,
                "total": Decimal(total),
                "placed_at": timezone.now() - timedelta(days=7),
            },
        )
        created += was_created
    return created
