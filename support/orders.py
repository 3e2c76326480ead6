"""The store keeps Resolver's order facts current (PUT /orders/{number}, scope ingest): the
catalogue's policy checks (support/actions/catalogue.py) and the graph's facts read these rows,
so an order shipped at the store must be SHIPPED here before anyone may cancel it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from support.customers import customer_for_ref
from support.models import Order, OrderStatus


class OrderRefused(ValueError):
    """The facts contradict each other (more refunded than the total): a 422, never a row."""


@dataclass(frozen=True)
class OrderFacts:
    """What the store says of one order. None = not said: a new order gets the model's
    default, an existing one keeps what it had (the store may send only what changed)."""

    customer_ref: str
    status: OrderStatus
    total: Decimal
    currency: str | None = None
    placed_at: datetime | None = None
    delivery_date: date | None = None
    refund_eligible: bool | None = None
    shipping_address: str | None = None
    refunded: Decimal | None = None

    def columns(self) -> dict[str, Any]:
        given = {
            "status": self.status,
            "total": self.total,
            "currency": self.currency.upper() if self.currency else None,
            "placed_at": self.placed_at,
            "delivery_date": self.delivery_date,
            "refund_eligible": self.refund_eligible,
            "shipping_address": self.shipping_address,
            "refunded": self.refunded,
        }
        return {name: value for name, value in given.items() if value is not None}


def put_order(number: str, facts: OrderFacts) -> tuple[Order, bool]:
    """Creates or updates the order `number` (matched whatever its case, as the graph and the
    catalogue match it) for the customer `facts.customer_ref` (made when unknown). Returns
    (order, created); OrderRefused when the refunded amount would exceed the total."""
    number = number.strip()
    with transaction.atomic():
        customer = customer_for_ref(facts.customer_ref)
        columns = {**facts.columns(), "customer": customer}
        # The store's report: a refund whose outcome was unknown is in its figures now.
        columns["reported_at"] = timezone.now()
        order = Order.objects.select_for_update().filter(number__iexact=number).first()
        if order is None:
            _check_refunded(columns["total"], columns.get("refunded", Decimal(0)))
            try:
                with transaction.atomic():
                    return Order.objects.create(number=number, **columns), True
            except IntegrityError:  # created meanwhile by a concurrent PUT: update that one
                order = Order.objects.select_for_update().get(number__iexact=number)
        _check_refunded(columns["total"], columns.get("refunded", order.refunded))
        for name, value in columns.items():
            setattr(order, name, value)
        order.save()
        return order, False


def _check_refunded(total: Decimal, refunded: Decimal) -> None:
    if refunded > total:
        raise OrderRefused(f"refunded ({refunded}) exceeds the total ({total})")


def order_as_wire(order: Order) -> dict[str, Any]:
    """The Order object of CONTRACTS.md (GET/PUT /orders/{number}); money as decimal strings."""
    return {
        "number": order.number,
        "customer_ref": order.customer.ref if order.customer is not None else None,
        "status": order.status,
        "total": f"{order.total:.2f}",
        "currency": order.currency,
        "placed_at": order.placed_at,
        "delivery_date": order.delivery_date,
        "refund_eligible": order.refund_eligible,
        "shipping_address": order.shipping_address,
        "refunded": f"{order.refunded:.2f}",
    }
