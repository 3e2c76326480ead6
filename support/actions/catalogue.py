"""The one catalogue of actions the copilot may propose: name → ActionSpec (its description,
the JSON Schema of its arguments, its risk class, its policy check in code). GET /actions lists
it; the graph proposes only what `check_action` allows; approval checks again against the
store's facts as they are then (an order shipped meanwhile cannot be cancelled any more)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from jsonschema import Draft202012Validator

from support.customers import customer_of
from support.due import TaskError, check_due
from support.models import Action, Customer, Message, Order, OrderStatus
from support.vocabulary import ActionName, ActionRisk, ActionStatus


@dataclass(frozen=True)
class PolicyContext:
    """Whom an action would act for: the message's verified customer (None: nobody, so no
    action on any customer's order) and the time the check runs."""

    customer: Customer | None
    now: datetime


def context_for(message: Message, now: datetime | None = None) -> PolicyContext:
    """Whom a draft answering `message` may act for: its conversation's customer when the
    message's own sender is verified (agents/state_builder.py reads the same customer), else
    nobody. The proposal (record_proposals) and the approval check with it."""
    return PolicyContext(customer=customer_of(message), now=now or timezone.now())


def context_for_ref(customer_ref: str, now: datetime | None = None) -> PolicyContext:
    """The context for a VERIFIED customer's ref as the graph's state carries it (state
    "customer_ref" is "" for an unverified sender: nobody); an unknown ref is nobody too."""
    customer = Customer.objects.filter(ref=customer_ref).first() if customer_ref else None
    return PolicyContext(customer=customer, now=now or timezone.now())


# Problems that forbid the action (plain sentences an agent reads); [] = allowed.
PolicyCheck = Callable[[dict[str, Any], PolicyContext], list[str]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    description: str
    risk: ActionRisk
    schema: dict[str, Any]  # JSON Schema (draft 2020-12) of the arguments
    check: PolicyCheck
    # The reply's sentence stating it done, and what the sent reply says instead when it is
    # rejected or fails (support/actions/text.py): templates over the arguments, rendered by
    # the graph when it proposes and again at an approval with corrected arguments.
    done: str = ""
    undone: str = ""

    def confirm(self, arguments: dict[str, Any], currency: str = "") -> str:
        return self.done.format(**sentence_words(arguments, currency))

    def fallback(self, arguments: dict[str, Any], currency: str = "") -> str:
        return self.undone.format(**sentence_words(arguments, currency))

    def validator(self) -> Draft202012Validator:
        return Draft202012Validator(self.schema)

    def as_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "arguments_schema": self.schema,
            "risk": self.risk,
        }


# --- The sentences a reply says about an action ----------------------------------------------

# How a reply writes an amount in the currencies with a symbol of their own; others by code.
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def written_amount(amount: str, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    if symbol:
        return f"{symbol}{amount}"
    return f"{amount} {currency}" if currency else amount


def sentence_words(arguments: dict[str, Any], currency: str = "") -> dict[str, str]:
    """The arguments as a reply writes them (an amount with two decimals and its currency)."""
    words = {key: str(value) for key, value in arguments.items()}
    if "amount" in arguments:
        amount = refund_amount(arguments)
        shown = str(amount.quantize(Decimal("0.01"))) if amount is not None else words["amount"]
        words["amount"] = written_amount(shown, currency)
    return words


# --- Shared pieces of the checks -----------------------------------------------------------

NOT_VERIFIED = "the sender is not a verified customer, so no action may touch an order"
_ORDER_NUMBER = {"type": "string", "minLength": 1, "maxLength": 64}


def _schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": required,
        # The contract fixes the arguments: anything else is a mistake, never ignored.
        "additionalProperties": False,
    }


def find_order(number: str, customer: Customer | None) -> Order | None:
    """`customer`'s order `number` (case-insensitive, as customers type it), or None: one that
    does not exist and one of another customer's look the same, so a check never reveals
    that a number belongs to somebody else."""
    if customer is None:
        return None
    return Order.objects.filter(number__iexact=number.strip(), customer=customer).first()


def _own_order(arguments: dict[str, Any], context: PolicyContext) -> tuple[Order | None, str]:
    """The context's customer's order named by the arguments, or the one problem why not."""
    if context.customer is None:
        return None, NOT_VERIFIED
    number = str(arguments["order_number"])
    order = find_order(number, context.customer)
    if order is None:
        return None, f"order {number} is not one of this customer's orders"
    return order, ""


def refund_amount(arguments: dict[str, Any]) -> Decimal | None:
    """refund_order's amount as a Decimal (the schema takes a number or a decimal string);
    None when it is not a positive amount with at most two decimals."""
    try:
        amount = Decimal(str(arguments["amount"]))
        if not amount.is_finite():
            return None
        cents = amount.quantize(Decimal("0.01"))  # raises for absurd sizes
    except (InvalidOperation, KeyError, ValueError):
        return None
    return amount if amount > 0 and amount == cents else None


def refunds_in_flight(order: Order) -> Decimal:
    """What refunds of `order` may yet take, or may have taken unreported: approved ones the
    store has not answered (http, retrying), and failed ones it never answered, until it
    reports the order again (a PUT /orders: `reported_at`; our own saves, such as the record of
    another refund it confirmed, say nothing of them).
    `order.refunded` holds only what is known done: two refunds approved before the store
    answered either both passed the check, and the store, with a key per action, did both."""
    unknown = Q(status=ActionStatus.FAILED, outcome_unknown=True)
    if order.reported_at is not None:
        unknown &= Q(updated_at__gt=order.reported_at)
    pending = Action.objects.filter(
        Q(status=ActionStatus.APPROVED) | unknown,
        name=ActionName.REFUND_ORDER,
        arguments__order_number__iexact=order.number,
    ).values_list("arguments", flat=True)
    return sum((refund_amount(arguments) or Decimal(0) for arguments in pending), Decimal(0))


def refund_window_start(order: Order) -> date | None:
    """The day REFUND_WINDOW_DAYS counts from: delivery when the carrier knows it, else the
    day the order was placed; None when the store told us neither."""
    if order.delivery_date is not None:
        return order.delivery_date
    if order.placed_at is not None:
        return timezone.localdate(order.placed_at)
    return None


# --- The six actions' policies ----------------------------------------------------------------


def _check_order_status(arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    _, problem = _own_order(arguments, context)
    return [problem] if problem else []


def _only_while_processing(order: Order, what: str) -> list[str]:
    # Once it left the warehouse the store cannot stop or redirect it; a return is the way.
    if order.status != OrderStatus.PROCESSING:
        return [
            f"order {order.number} is {order.status.lower()}: {what} only while it is processing"
        ]
    return []


def _check_cancel_order(arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    order, problem = _own_order(arguments, context)
    if order is None:
        return [problem]
    return _only_while_processing(order, "it can be cancelled")


def _check_update_shipping_address(arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    order, problem = _own_order(arguments, context)
    if order is None:
        return [problem]
    problems = _only_while_processing(order, "its address can be changed")
    if not str(arguments["address"]).strip():
        problems.append("the new address is empty")
    return problems


def _check_refund_order(arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    order, problem = _own_order(arguments, context)
    if order is None:
        return [problem]
    problems = []
    if not order.refund_eligible:
        problems.append(f"order {order.number} is not eligible for a refund")
    amount = refund_amount(arguments)
    remaining = order.total - order.refunded - refunds_in_flight(order)
    if amount is None:
        problems.append("the amount must be positive, with at most two decimals")
    elif amount > remaining:
        problems.append(
            f"at most {remaining} {order.currency} of order {order.number} can still be refunded"
        )
    problems.extend(_outside_refund_window(order, context.now))
    return problems


def _outside_refund_window(order: Order, now: datetime) -> list[str]:
    days = settings.REFUND_WINDOW_DAYS
    start = refund_window_start(order)
    if start is None:
        return [
            f"order {order.number} has no delivery or order date to count the refund window from"
        ]
    if timezone.localdate(now) > start + timedelta(days=days):
        return [f"order {order.number} is past the {days}-day refund window (since {start})"]
    return []


def _check_resend_confirmation(arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    order, problem = _own_order(arguments, context)
    if order is None:
        return [problem]
    if order.status == OrderStatus.CANCELLED:
        return [f"order {order.number} is cancelled: there is no confirmation to resend"]
    return []


def _check_create_follow_up(arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    # An internal task on the conversation: it touches no order, so an unverified sender's
    # conversation may get one too (a callback to check who they are, say).
    problems = []
    if not str(arguments["title"]).strip():
        problems.append("the follow-up needs a title")
    raw = arguments.get("due_at")
    if raw is not None:
        # The task's own rule (support/tasks.py), so the check refuses what making it would.
        try:
            check_due(raw, context.now)
        except TaskError as error:
            problems.append(error.detail)
    return problems


def _spec(
    name: str,
    description: str,
    risk: ActionRisk,
    schema: dict[str, Any],
    check: PolicyCheck,
    sentences: tuple[str, str] = ("", ""),
) -> ActionSpec:
    Draft202012Validator.check_schema(schema)  # a broken schema stops start-up, not a request
    # The vocabulary's name (a ValueError at start-up for any other), stored as the plain string.
    return ActionSpec(ActionName(name).value, description, risk, schema, check, *sentences)


_SPECS = (
    _spec(
        ActionName.ORDER_STATUS,
        "Look up an order's status and delivery date for the verified customer.",
        ActionRisk.READ,
        _schema({"order_number": _ORDER_NUMBER}, ["order_number"]),
        _check_order_status,
    ),
    _spec(
        ActionName.CANCEL_ORDER,
        "Cancel the verified customer's order; only while it is processing (not yet shipped).",
        ActionRisk.WRITE,
        _schema({"order_number": _ORDER_NUMBER}, ["order_number"]),
        _check_cancel_order,
        (
            "I've cancelled order {order_number}.",
            "I couldn't cancel order {order_number} right away; a colleague will get back to you "
            "about it.",
        ),
    ),
    _spec(
        ActionName.REFUND_ORDER,
        "Refund an amount of the verified customer's order, in its currency: only a "
        "refund-eligible order, within REFUND_WINDOW_DAYS of delivery (or of the order when "
        "no delivery date is known), at most its total less what was already refunded.",
        ActionRisk.MONEY,
        _schema(
            {
                "order_number": _ORDER_NUMBER,
                "amount": {
                    "anyOf": [
                        {"type": "number", "exclusiveMinimum": 0},
                        {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
                    ]
                },
            },
            ["order_number", "amount"],
        ),
        _check_refund_order,
        (
            "I've refunded {amount} for order {order_number}.",
            "I couldn't issue the refund for order {order_number} right away; a colleague will "
            "review it and get back to you.",
        ),
    ),
    _spec(
        ActionName.UPDATE_SHIPPING_ADDRESS,
        "Change where the verified customer's order ships; only while it is processing.",
        ActionRisk.WRITE,
        _schema(
            {
                "order_number": _ORDER_NUMBER,
                "address": {"type": "string", "minLength": 1, "maxLength": 500},
            },
            ["order_number", "address"],
        ),
        _check_update_shipping_address,
        (
            "I've changed the delivery address of order {order_number} to {address}.",
            "I couldn't change the delivery address of order {order_number} right away; a "
            "colleague will get back to you about it.",
        ),
    ),
    _spec(
        ActionName.RESEND_CONFIRMATION,
        "Send the verified customer their order confirmation again (not for a cancelled order).",
        ActionRisk.WRITE,
        _schema({"order_number": _ORDER_NUMBER}, ["order_number"]),
        _check_resend_confirmation,
        (
            "I've sent you the confirmation of order {order_number} again.",
            "I couldn't resend the confirmation of order {order_number} right away; a colleague "
            "will send it to you.",
        ),
    ),
    _spec(
        ActionName.CREATE_FOLLOW_UP,
        "Create a follow-up task on the conversation for the team (a callback, a check on a "
        "replacement), optionally due at a time (ISO 8601 date or date-time, not in the past, at "
        "most five years ahead).",
        ActionRisk.WRITE,
        _schema(
            {
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
                # As a task takes it (support/tasks.py:parse_due): a date or a date-time.
                "due_at": {"type": "string", "minLength": 1, "maxLength": 64},
            },
            ["title"],
        ),
        _check_create_follow_up,
        ("I've asked a colleague to follow up with you on this.", ""),
    ),
)

# The contract's six (CONTRACTS.md "Action names and arguments"); nothing else may be proposed.
CATALOGUE: dict[str, ActionSpec] = {spec.name: spec for spec in _SPECS}


def _schema_problems(spec: ActionSpec, arguments: Any) -> list[str]:
    if not isinstance(arguments, dict):
        return ["the arguments must be an object"]
    problems = []
    for error in sorted(spec.validator().iter_errors(arguments), key=lambda e: list(e.path)):
        where = ".".join(str(part) for part in error.path)
        problems.append(f"{where}: {error.message}" if where else error.message)
    return problems


def check_action(name: str, arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    """Why `name` with `arguments` may not run for `context` ([] = it may): an unknown name,
    arguments that do not match the schema, or the policy check's problems (run on the rows
    as they are now, only once the arguments have the schema's shape)."""
    spec = CATALOGUE.get(name)
    if spec is None:
        return [f"no such action: {name}"]
    problems = _schema_problems(spec, arguments)
    if problems:
        return problems
    return spec.check(arguments, context)
