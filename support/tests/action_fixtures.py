"""Actions in tests: the six specs of CONTRACTS.md registered for the test (the real catalogue is
filled by the catalogue work of #27; these check the same facts on the same rows), a verified
customer's draft with its orders, and a proposed action on it."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import jsonschema
import pytest

from support.actions import catalogue
from support.actions.catalogue import ActionSpec, PolicyContext
from support.inbound import receive_message
from support.models import Action, Draft, Order, OrderStatus
from support.tests.conftest import SUGGESTION
from support.vocabulary import ActionRisk, Verification


def _schema(**properties: Any) -> dict[str, Any]:
    props = {"order_number": {"type": "string", "minLength": 1}, **properties}
    return {
        "type": "object",
        "properties": props,
        "required": list(props),
        "additionalProperties": False,
    }


def _owned(arguments: dict[str, Any], context: PolicyContext) -> tuple[Order | None, list[str]]:
    if context.customer is None:
        return None, ["the sender is not verified: no action on any order"]
    order = Order.objects.filter(
        number=arguments["order_number"], customer=context.customer
    ).first()
    if order is None:
        return None, [f"{arguments['order_number']} is not this customer's order"]
    return order, []


def _checked(
    schema: dict[str, Any], rule: Callable[[Order, dict[str, Any]], list[str]]
) -> Callable[[dict[str, Any], PolicyContext], list[str]]:
    def check(arguments: dict[str, Any], context: PolicyContext) -> list[str]:
        errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(arguments)]
        if errors:
            return errors
        if "order_number" not in schema["properties"]:
            return []
        order, problems = _owned(arguments, context)
        return problems if order is None else rule(order, arguments)

    return check


def _unshipped(order: Order, arguments: dict[str, Any]) -> list[str]:
    return [] if order.status == OrderStatus.PROCESSING else [f"the order is {order.status}"]


def _refundable(order: Order, arguments: dict[str, Any]) -> list[str]:
    left = order.total - order.refunded
    if not order.refund_eligible:
        return ["the order is not eligible for a refund"]
    if Decimal(str(arguments["amount"])) > left:
        return [f"at most {left} is left to refund"]
    return []


def _spec(name: str, risk: ActionRisk, schema: dict[str, Any], rule: Any) -> ActionSpec:
    return ActionSpec(name, f"test spec {name}", risk, schema, _checked(schema, rule))


def _anything(order: Order, arguments: dict[str, Any]) -> list[str]:
    return []


SPECS = {
    "order_status": _spec("order_status", ActionRisk.READ, _schema(), _anything),
    "cancel_order": _spec("cancel_order", ActionRisk.WRITE, _schema(), _unshipped),
    "refund_order": _spec(
        "refund_order",
        ActionRisk.MONEY,
        _schema(amount={"type": "number", "exclusiveMinimum": 0}),
        _refundable,
    ),
    "update_shipping_address": _spec(
        "update_shipping_address",
        ActionRisk.WRITE,
        _schema(address={"type": "string", "minLength": 5}),
        _unshipped,
    ),
    "resend_confirmation": _spec("resend_confirmation", ActionRisk.WRITE, _schema(), _anything),
    "create_follow_up": ActionSpec(
        "create_follow_up",
        "test spec create_follow_up",
        ActionRisk.WRITE,
        schema := {
            "type": "object",
            "properties": {
                "title": {"type": "string", "minLength": 1},
                "due_at": {"type": "string"},
            },
            "required": ["title"],
            "additionalProperties": False,
        },
        _checked(schema, _anything),
    ),
}


@pytest.fixture
def specs(monkeypatch: pytest.MonkeyPatch) -> dict[str, ActionSpec]:
    for name, spec in SPECS.items():
        monkeypatch.setitem(catalogue.CATALOGUE, name, spec)
    return SPECS


CONFIRMATION = "I've cancelled order NW-10001."
FALLBACK = "I've asked our team to cancel order NW-10001 and will confirm it shortly."


def customer_draft(
    body: str = "please cancel NW-10001", ref: str = "cust-1", verified: bool = True
) -> Draft:
    """A SUGGESTED draft for a message whose sender is verified (an API key vouched for it)."""
    verified_by = Verification.API_KEY if verified else ""
    _, draft = receive_message(body, customer_ref=ref, enqueue=False, verified_by=verified_by)
    answer = f"Sorry for the trouble. {CONFIRMATION} Anything else?"
    Draft.objects.filter(pk=draft.pk).update(**{**SUGGESTION, "answer": answer})
    draft.refresh_from_db()
    return draft


def order_for(draft: Draft, number: str = "NW-10001", **fields: Any) -> Order:
    values = {
        "status": OrderStatus.PROCESSING,
        "total": Decimal("80.00"),
        "refund_eligible": True,
        "shipping_address": "1 Old Street, Springfield",
        **fields,
    }
    return Order.objects.create(number=number, customer=draft.conversation.customer, **values)


def propose(draft: Draft, name: str, **arguments: Any) -> Action:
    return Action.objects.create(
        draft=draft,
        conversation_id=draft.conversation_id,
        name=name,
        arguments=arguments,
        confirmation=CONFIRMATION,
        fallback=FALLBACK,
    )
