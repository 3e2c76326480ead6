"""The one catalogue of actions the copilot may propose: name → ActionSpec (its description,
the JSON Schema of its arguments, its risk class, its policy check in code). GET /actions lists
it; the graph proposes only what `check_action` allows; approval checks again against the
store's facts as they are then (an order shipped meanwhile cannot be cancelled any more)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from support.models import Customer
from support.vocabulary import ActionRisk


@dataclass(frozen=True)
class PolicyContext:
    """Whom an action would act for: the message's verified customer (None: nobody, so no
    action on any customer's order) and the time the check runs."""

    customer: Customer | None
    now: datetime


# Problems that forbid the action (plain sentences an agent reads); [] = allowed.
PolicyCheck = Callable[[dict[str, Any], PolicyContext], list[str]]


@dataclass(frozen=True)
class ActionSpec:
    name: str
    description: str
    risk: ActionRisk
    schema: dict[str, Any]  # JSON Schema (draft 2020-12) of the arguments
    check: PolicyCheck

    def as_wire(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "arguments_schema": self.schema,
            "risk": self.risk,
        }


# Filled by the catalogue work of issue #27: order_status, cancel_order, refund_order,
# update_shipping_address, resend_confirmation, create_follow_up (CONTRACTS.md).
CATALOGUE: dict[str, ActionSpec] = {}


def check_action(name: str, arguments: dict[str, Any], context: PolicyContext) -> list[str]:
    """Why `name` with `arguments` may not run for `context` ([] = it may): an unknown name,
    arguments that do not match the schema, or the policy check's problems."""
    spec = CATALOGUE.get(name)
    if spec is None:
        return [f"no such action: {name}"]
    return spec.check(arguments, context)
