"""act: the operational moves the message asks for (issue #27), proposed, never executed. Only
for the message's verified customer, on their own orders (agents/actions.py says which and with
what arguments); each is checked with the catalogue's policy (Services.check_action, a read) and
proposed only when it passes. A refused one is not proposed: `refused_actions` says why, and the
reply explains it and what can be done instead (finalize adds those sentences)."""

from __future__ import annotations

from typing import Any

from agents.actions import FOLLOW_UP, proposal, refusal, requested, target_orders
from agents.services import Services
from agents.state import AgentState, used_cases


def act_node(state: AgentState, services: Services) -> dict[str, Any]:
    ref = state.get("customer_ref")
    nothing: dict[str, Any] = {"proposed_actions": [], "refused_actions": [], "trace": ["act"]}
    # An operator's run (ref None) and an unverified sender ("") act for nobody.
    if not ref or not state.get("verified", False):
        return nothing
    text = state["message"]
    wanted = requested(text, state["triage_result"].intent)
    if not wanted:
        return nothing
    rows = services.order_rows(ref)
    entities = state["entities"]
    named = [*entities.order_numbers, *entities.invoice_numbers]
    earlier = [number for case in used_cases(state) for number in case.orders]
    targets = target_orders(named, earlier, rows)
    proposed: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    for name in wanted:
        # A follow-up is about the conversation (at most one); the others act on each order.
        for row in targets[:1] if name == FOLLOW_UP else targets:
            move = proposal(name, text, row)
            if move is None:
                continue
            problems = services.check_action(move.name, move.arguments, ref)
            if not problems:
                proposed.append(move.as_state())
                continue
            sentence = refusal(move.name, move.arguments, row, problems)
            refused.append(
                {
                    "name": move.name,
                    "arguments": move.arguments,
                    "problems": problems,
                    "reply": sentence,
                }
            )
        if name == FOLLOW_UP and not targets:
            move = proposal(name, text, None)
            if move is not None and not services.check_action(move.name, move.arguments, ref):
                proposed.append(move.as_state())
    return {"proposed_actions": proposed, "refused_actions": refused, "trace": ["act"]}
