"""act (the graph's `propose` node): the operational moves the message asks for (issue #27),
proposed, never executed. Only for the message's verified customer, on their own orders
(agents/actions.py says which and with what arguments); each is checked with the catalogue's
policy (Services.check_action, a read) and proposed only when it passes. A refused one is not
proposed: `refused_actions` says why, and the reply explains it and what can be done instead
(finalize adds those sentences). The node is named `propose` in the graph and its trace ("act"
is a scope's word)."""

from __future__ import annotations

from typing import Any

from agents.actions import FOLLOW_UP, OrderRow, proposal, refusal, requested, target_orders
from agents.services import Services
from agents.state import AgentState, used_cases


def act_node(state: AgentState, services: Services) -> dict[str, Any]:
    ref = state.get("customer_ref")
    proposed: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    done = {"proposed_actions": proposed, "refused_actions": refused, "trace": ["propose"]}
    # An operator's run (ref None) and an unverified sender ("") act for nobody.
    if not ref or not state.get("verified", False):
        return done
    text = state["message"]
    wanted = requested(text)
    if not wanted:
        return done
    mine = services.action_orders(ref)
    entities = state["entities"]
    named = [*entities.order_numbers, *entities.invoice_numbers]
    earlier = [number for case in used_cases(state) for number in case.orders]
    targets = target_orders(named, earlier, mine.rows)
    for name in wanted:
        # A follow-up is about the conversation (one, with the order it is about if any); the
        # other moves act on each order meant.
        rows: list[OrderRow | None] = [*targets]
        if name == FOLLOW_UP:
            rows = rows[:1] or [None]
        for row in rows:
            move = proposal(name, text, row)
            if move is None:
                continue
            problems = services.check_action(move.name, move.arguments, mine.customer)
            if not problems:
                proposed.append(move.as_state())
            elif sentence := refusal(move.name, move.arguments, row, problems):
                refused.append(
                    {
                        "name": move.name,
                        "arguments": move.arguments,
                        "problems": problems,
                        "reply": sentence,
                    }
                )
    return done
