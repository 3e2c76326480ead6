"""act (the graph's `propose` node): the operational moves the message asks for (issue #27),
proposed, never executed. Only for the message's verified customer, on their own orders
(agents/actions.py says which and with what arguments); each is checked with the catalogue's
policy (Services.check_action, a read) and proposed only when it passes. A refused one is not
proposed: `refused_actions` says why, and the reply explains it and what can be done instead
(finalize adds those sentences). The node is named `propose` in the graph and its trace ("act"
is a scope's word)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents.actions import FOLLOW_UP, OrderRow, proposal, refusal, requested, target_orders
from agents.entities import Entities, extract_entities
from agents.services import Services
from agents.state import AgentState, used_cases
from knowledge.languages import DEFAULT_LANGUAGE, answer_language


def named_orders(message: str, context: Entities, rows: Sequence[OrderRow]) -> list[str] | None:
    """The numbers the move is meant for. The message's own, when it names any: the state's
    entities also hold the numbers of the customer's earlier turns and attachments, and "cancel
    NW-1" after asking "where is NW-4?" is about NW-1 alone. When it names none, the context's
    ("cancel it" after naming one), unless it names several of the customer's orders: which one
    "it" is, nobody guesses (None). [] when nothing is named anywhere: target_orders then takes
    the earlier case's order, or the customer's only one."""
    own = extract_entities(message)
    if named := [*own.order_numbers, *own.invoice_numbers]:
        return named
    theirs = {row.number.upper() for row in rows}
    earlier = [*context.order_numbers, *context.invoice_numbers]
    return None if len({n.upper() for n in earlier} & theirs) > 1 else earlier


def act_node(state: AgentState, services: Services) -> dict[str, Any]:
    ref = state.get("customer_ref")
    proposed: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    done = {"proposed_actions": proposed, "refused_actions": refused, "trace": ["propose"]}
    # An operator's run (ref None) and an unverified sender ("") act for nobody.
    if not ref or not state.get("verified", False):
        return done
    # The requests are read from English words and the moves' sentences are English (#31): in
    # another language "cancelen mi pedido" would be read as an English cancel and answered with
    # "I've cancelled order …" inside a Spanish reply. A person reads it (no move proposed).
    if answer_language(state["triage_result"].language) != DEFAULT_LANGUAGE:
        return done
    text = state["message"]
    wanted = requested(text)
    if not wanted:
        return done
    mine = services.action_orders(ref)
    named = named_orders(text, state["entities"], mine.rows)
    earlier = [number for case in used_cases(state) for number in case.orders]
    # Several orders in view and none named: no order move (a follow-up is still booked).
    targets = [] if named is None else target_orders(named, earlier, mine.rows)
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
