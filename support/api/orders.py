"""The store's order facts: PUT /orders/{number} (scope ingest) creates or updates an order,
GET /orders/{number} (scope read) shows it (support/orders.py). The actions' policy checks and
the graph read these rows, so the store keeps them current."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import AfterValidator, BeforeValidator, Field

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS, ApiError
from resolver.api.types import Moment, Ref, Text, storable
from resolver.models import Scope
from support.models import Order, OrderStatus
from support.orders import OrderFacts, OrderRefused, order_as_wire, put_order

router = Router(tags=["orders"])

# copy_abs: "-0" passes ge=0, and was stored and shown as "-0.00".
Money = Annotated[
    Decimal, Field(ge=0, max_digits=10, decimal_places=2), AfterValidator(Decimal.copy_abs)
]


NUMBER_MAX = 64  # Order.number's max_length


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


# Stores spell statuses their own way ("shipped", "Shipped"): read whatever the case, shown as
# the enum's own spelling.
StatusIn = Annotated[OrderStatus, BeforeValidator(_upper)]


def _order_number(value: str) -> str:
    try:
        value = storable(value).strip()
    except ValueError as exc:
        raise ApiError(422, f"the order number {exc}", "invalid_order_number") from None
    if not value or len(value) > NUMBER_MAX:
        raise ApiError(422, "the order number must be 1 to 64 characters", "invalid_order_number")
    return value


class OrderIn(Schema):
    customer_ref: Annotated[Ref, Field(min_length=1)]
    status: StatusIn
    total: Money
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] | None = None
    placed_at: Moment | None = None
    delivery_date: date | None = None
    refund_eligible: bool | None = None
    shipping_address: Annotated[Text, Field(max_length=2000)] | None = None
    # Ours: how much of the total the store refunded so far (the builtin backend counts
    # Resolver's own refunds; an `http` backend's store reports its own here).
    refunded: Money | None = None


class OrderOut(Schema):
    number: str
    customer_ref: str | None
    status: OrderStatus
    total: str = Field(description='Decimal string, e.g. "59.00".')
    currency: str
    placed_at: datetime | None
    delivery_date: date | None
    refund_eligible: bool
    shipping_address: str
    refunded: str = Field(description="How much of the total was refunded so far.")


@router.put("/orders/{number}", response={200: OrderOut, **ERRORS}, auth=scoped(Scope.INGEST))
def put(request: HttpRequest, number: str, payload: OrderIn) -> dict[str, Any]:
    """Creates or updates the order (matched whatever the number's case); fields left out keep
    their current value (a new order: the defaults). 422 when refunded would exceed total."""
    if not payload.customer_ref.strip():
        raise ApiError(422, "customer_ref must not be empty", "invalid_customer_ref")
    facts = OrderFacts(**payload.model_dump())
    try:
        order, _ = put_order(_order_number(number), facts)
    except OrderRefused as exc:
        raise ApiError(422, str(exc), "refunded_exceeds_total") from None
    return order_as_wire(order)


@router.get("/orders/{number}", response={200: OrderOut, **ERRORS}, auth=scoped(Scope.READ))
def get(request: HttpRequest, number: str) -> dict[str, Any]:
    order = (
        Order.objects.select_related("customer")
        .filter(number__iexact=_order_number(number))
        .first()
    )
    if order is None:
        raise ApiError(404, "no order has this number", "not_found")
    return order_as_wire(order)
