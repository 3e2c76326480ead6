"""The customer facts tool: what we know for certain about the orders a message names. Drafts
may state these; the guard allows a date or a refund only when a fact backs it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from django.db.models.functions import Upper

from support.models import Order, OrderStatus

UNKNOWN_ORDER = "I could not find order {number} in our records, so please double-check the number."


@dataclass(frozen=True)
class OrderFact:
    number: str
    status: str
    delivery_date: str | None  # ISO date, only when the carrier gave one
    refund_eligible: bool

    def sentence(self) -> str:
        text = f"Order {self.number} is currently {self.status.lower()}."
        if self.delivery_date and self.status != OrderStatus.DELIVERED:
            text += f" Its expected delivery date is {self.delivery_date}."
        elif self.delivery_date:
            text += f" It was delivered on {self.delivery_date}."
        return text


@dataclass(frozen=True)
class CustomerFacts:
    orders: tuple[OrderFact, ...] = ()
    # Named in the message but not found, or belonging to another customer (never revealed).
    unknown_orders: tuple[str, ...] = ()
    customer_ref: str = ""

    @property
    def refund_allowed(self) -> bool:
        return any(order.refund_eligible for order in self.orders)

    def about(self, numbers: Sequence[str]) -> CustomerFacts:
        """The facts of the orders `numbers` names (all of them when it names none): a fact
        backs what is said of its own order, and one order's refund eligibility or status
        lifts no promise or claim about another."""
        if not numbers:
            return self
        named = {number.upper() for number in numbers}
        orders = tuple(order for order in self.orders if order.number.upper() in named)
        return replace(self, orders=orders)

    @property
    def known_dates(self) -> set[str]:
        return {order.delivery_date for order in self.orders if order.delivery_date}

    def sentences(self) -> list[str]:
        """What a reply may state as fact (the guard counts these as sources)."""
        found = [order.sentence() for order in self.orders]
        return found + [UNKNOWN_ORDER.format(number=n) for n in self.unknown_orders]

    def as_dict(self) -> dict[str, Any]:
        return {
            "orders": [asdict(order) for order in self.orders],
            "unknown_orders": list(self.unknown_orders),
            "customer_ref": self.customer_ref,
        }


def _visible_to(order: Order, customer_ref: str | None) -> bool:
    """An order tied to a customer is only described to that customer; None = operator (CLI)."""
    if customer_ref is None or order.customer_id is None:
        return True
    return order.customer is not None and order.customer.ref == customer_ref


# More orders than this and none is "the one they mean" (agents/missing.py).
CUSTOMER_ORDERS_LIMIT = 20


def customer_orders(customer_ref: str) -> tuple[tuple[str, str], ...]:
    """A customer's orders (number, status), newest first: which one a message means when it
    names none (agents/missing.py). Only ever asked for a verified customer's ref."""
    rows = Order.objects.filter(customer__ref=customer_ref).order_by("-placed_at", "-pk")
    return tuple(rows.values_list("number", "status")[:CUSTOMER_ORDERS_LIMIT])


def lookup_facts(order_numbers: list[str], customer_ref: str | None) -> CustomerFacts:
    if not order_numbers:
        return CustomerFacts(customer_ref=customer_ref or "")
    matches = (
        Order.objects.select_related("customer")
        .annotate(number_upper=Upper("number"))
        .filter(number_upper__in=order_numbers)
    )
    rows = {order.number.upper(): order for order in matches}
    facts, unknown = [], []
    for number in order_numbers:
        order = rows.get(number)
        if order is None or not _visible_to(order, customer_ref):
            unknown.append(number)
            continue
        date = order.delivery_date.isoformat() if order.delivery_date else None
        facts.append(OrderFact(order.number, order.status, date, order.refund_eligible))
    return CustomerFacts(tuple(facts), tuple(unknown), customer_ref or "")
