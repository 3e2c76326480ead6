"""The builtin backend: Resolver's own Order rows are the store. Runs inside the approval's
transaction, after decide.py locked the order and re-checked the policy on it, so the change,
the action's status and the audit row commit together (or not at all)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils.dateparse import parse_datetime

from resolver.audit_actor import Actor
from support.actions.backends import Outcome
from support.models import Action, Order, OrderStatus
from support.vocabulary import TaskCreator


def _order(arguments: dict[str, Any]) -> Order:
    return Order.objects.select_for_update().get(number=arguments["order_number"])


def _facts(order: Order) -> dict[str, Any]:
    return {
        "order_number": order.number,
        "status": order.status,
        "total": str(order.total),
        "refunded": str(order.refunded),
        "currency": order.currency,
        "delivery_date": order.delivery_date.isoformat() if order.delivery_date else None,
        "shipping_address": order.shipping_address,
    }


def order_status(action: Action, actor: Actor) -> Outcome:
    return Outcome.done(**_facts(_order(action.arguments)))


def cancel_order(action: Action, actor: Actor) -> Outcome:
    order = _order(action.arguments)
    order.status = OrderStatus.CANCELLED
    order.save(update_fields=["status", "updated_at"])
    return Outcome.done(**_facts(order))


def refund_order(action: Action, actor: Actor) -> Outcome:
    order = _order(action.arguments)
    amount = Decimal(str(action.arguments["amount"]))
    if amount <= 0 or order.refunded + amount > order.total:
        # The policy check refused this already; the database's constraint would too.
        return Outcome.failed(f"a refund of {amount} exceeds what is left of {order.total}")
    order.refunded += amount
    order.save(update_fields=["refunded", "updated_at"])
    return Outcome.done(**_facts(order), amount=str(amount))


def update_shipping_address(action: Action, actor: Actor) -> Outcome:
    order = _order(action.arguments)
    order.shipping_address = str(action.arguments["address"]).strip()
    order.save(update_fields=["shipping_address", "updated_at"])
    return Outcome.done(**_facts(order))


def resend_confirmation(action: Action, actor: Actor) -> Outcome:
    # Resolver keeps no order e-mails of its own: the builtin store can only say the order is
    # there; a real store (the http backend) sends the confirmation.
    order = _order(action.arguments)
    return Outcome.done(order_number=order.number, resent=False, note="no store mail in builtin")


def create_follow_up(action: Action, actor: Actor) -> Outcome:
    due: datetime | None = None
    if raw := action.arguments.get("due_at"):
        due = parse_datetime(str(raw))
        if due is None:
            return Outcome.failed(f"due_at is not a date and time: {raw!r}")
    # support/tasks.py (the follow-up tasks of #27) by name: written in parallel with this
    # module; once merged, a plain `from support.tasks import create_task` replaces this.
    tasks = importlib.import_module("support.tasks")
    task = tasks.create_task(
        action.conversation_id,
        str(action.arguments["title"]),
        due_at=due,
        created_by=TaskCreator.AI,
        actor=actor,
        action=action,
    )
    return Outcome.done(task_id=str(task.pk), title=task.title)


RUNS: dict[str, Callable[[Action, Actor], Outcome]] = {
    "order_status": order_status,
    "cancel_order": cancel_order,
    "refund_order": refund_order,
    "update_shipping_address": update_shipping_address,
    "resend_confirmation": resend_confirmation,
    "create_follow_up": create_follow_up,
}


def run(action: Action, actor: Actor) -> Outcome:
    handler = RUNS.get(action.name)
    if handler is None:
        return Outcome.failed(f"the builtin store cannot run {action.name}")
    try:
        return handler(action, actor)
    except Order.DoesNotExist:
        return Outcome.failed(f"no order {action.arguments.get('order_number')}")
