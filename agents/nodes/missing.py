"""missing: the facts the message lacks for its intent (agents/missing.py), once retrieval knows
what the message, the conversation, the documents and the customer's records give."""

from __future__ import annotations

from typing import Any

from agents.missing import Known, missing_facts
from agents.services import Services
from agents.state import AgentState, customer_turns, used_cases


def missing_node(state: AgentState, services: Services) -> dict[str, Any]:
    entities = state["entities"]
    ref = state.get("customer_ref")
    # Only a verified customer's own orders say which one they mean (an operator's run, ref
    # None, and an anonymous sender, "", have none).
    verified = bool(ref) and state.get("verified", False)
    known = Known(
        texts=[state["message"], *customer_turns(state.get("history", []))],
        order_numbers=[
            *entities.order_numbers,
            *entities.invoice_numbers,
            # Only the earlier cases the run drew on (retrieve's used_earlier), as propose
            # does: an old case's order is not the one "refund please" means.
            *(n for c in used_cases(state) for n in c.orders),
        ],
        document_fields=[document.fields for document in state.get("documents", [])],
        customer_orders=services.customer_orders(ref) if verified and ref else (),
    )
    missing = missing_facts(state["triage_result"].intent, known)
    return {"missing": [str(fact) for fact in missing], "trace": ["missing"]}
