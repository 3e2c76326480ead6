"""The builtin backend: Resolver's own Order rows are the store. Runs inside the approval's
transaction, after decide.py locked the order and re-checked the policy on it, so the change,
the action's status and the audit row commit together (or not at all)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from resolver.audit_actor import Actor
from support.actions.backends import Outcome
from support.actions.catalogue import context_for
from support.models import Action, Order, OrderStatus
from support.tasks import TaskError, create_task
from support.vocabulary import ActionName, TaskCreator


def _order(action: Action) -> Order:
    """The order the action is about, as the catalogue's check found it: the verified
    customer's, its number matched case-insensitively (as customers type them)."""
    customer = context_for(action.draft.message).customer
    if customer is None:
        raise Order.DoesNotExist
    number = str(action.arguments["order_number"]).strip()
    return Order.objects.select_for_update().get(number__iexact=number, customer=customer)


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
    return Outcome.done(**_facts(_order(action)))


def cancel_order(action: Action, actor: Actor) -> Outcome:
    order = _order(action)
    order.status = OrderStatus.CANCELLED
    order.save(update_fields=["status", "updated_at"])
    return Outcome.done(**_facts(order))


def refund_order(action: Action, actor: Actor) -> Outcome:
    order = _order(action)
    amount = Decimal(str(action.arguments["amount"]))
    if amount <= 0 or order.refunded + amount > order.total:
        # The policy check refused this already; the database's constraint would too.
        return Outcome.failed(f"a refund of {amount} exceeds what is left of {order.total}")
    order.refunded += amount
    order.save(update_fields=["refunded", "updated_at"])
    return Outcome.done(**_facts(order), amount=str(amount))


def update_shipping_address(action: Action, actor: Actor) -> Outcome:
    order = _order(action)
    order.shipping_address = str(action.arguments["address"]).strip()
    order.save(update_fields=["shipping_address", "updated_at"])
    return Outcome.done(**_facts(order))


def resend_confirmation(action: Action, actor: Actor) -> Outcome:
    # Resolver keeps no order e-mails of its own: the builtin store can only say the order is
    # there; a real store (the http backend) sends the confirmation.
    order = _order(action)
    return Outcome.done(order_number=order.number, resent=False, note="no store mail in builtin")


def create_follow_up(action: Action, actor: Actor) -> Outcome:
    """A task on the conversation, made by the AI; the action's task is made once however
    often this runs (support/tasks.py:create_task)."""
    try:
        task = create_task(
            action.conversation_id,
            action.arguments.get("title", ""),
            due_at=action.arguments.get("due_at"),
            created_by=TaskCreator.AI,
            actor=actor,
            action=action,
        )
    except TaskError as exc:
        return Outcome.failed(exc.detail)
    due = task.due_at.isoformat() if task.due_at else None
    return Outcome.done(task_id=str(task.pk), title=task.title, due_at=due)


# Actions on Resolver's own rows, never the store's: run here whatever ACTIONS_BACKEND says.
INTERNAL = frozenset({ActionName.CREATE_FOLLOW_UP})

RUNS: dict[str, Callable[[Action, Actor], Outcome]] = {
    ActionName.ORDER_STATUS: order_status,
    ActionName.CANCEL_ORDER: cancel_order,
    ActionName.REFUND_ORDER: refund_order,
    ActionName.UPDATE_SHIPPING_ADDRESS: update_shipping_address,
    ActionName.RESEND_CONFIRMATION: resend_confirmation,
    ActionName.CREATE_FOLLOW_UP: create_follow_up,
}


def run(action: Action, actor: Actor) -> Outcome:
    handler = RUNS.get(action.name)
    if handler is None:
        return Outcome.failed(f"the builtin store cannot run {action.name}")
    try:
        return handler(action, actor)
    except Order.DoesNotExist:
        return Outcome.failed(f"no order {action.arguments.get('order_number')}")
