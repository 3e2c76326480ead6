"""The one builder of the agent's state. The worker, the CLI (`draft`), `evaluate` and shadow
replay all start a run here: `build_state` from given inputs (a text, its history, a customer
ref), `state_for_message` from a stored message's rows: its conversation's recent turns, and,
only when the message's own sender is verified (support.vocabulary.Verification), that
customer's orders and earlier conversations (support/memory.py); the documents attached to it
(support/documents/) whoever sent them, as the sender's claim."""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from agents.state import AgentState, Turn
from support.customers import customer_of
from support.documents import DocumentFacts, documents_for
from support.memory import EarlierConversation, earlier_conversations
from support.models import Message

HISTORY_TURNS = 6


def build_state(
    message: str,
    history: list[Turn] | None = None,
    customer_ref: str | None = None,
    *,
    verified: bool = True,
    earlier: Iterable[EarlierConversation] = (),
    documents: Iterable[DocumentFacts] = (),
    received_at: datetime | None = None,
) -> AgentState:
    """`customer_ref` None: an operator's run (CLI), facts of any order may be shown; "": an
    anonymous or unverified sender, whose facts are those of no customer's orders."""
    return {
        "message": message,
        "history": history or [],
        "customer_ref": customer_ref,
        "verified": verified,
        "earlier": list(earlier),
        "documents": list(documents),
        "received_at": received_at,
        "repairs": 0,
        "feedback": [],
        "tokens": 0,
        "cost": 0.0,
        "trace": [],
        "started": time.perf_counter(),
    }


def history_for(message: Message, turns: int = HISTORY_TURNS) -> list[Turn]:
    earlier = (
        Message.objects.filter(
            conversation_id=message.conversation_id, created_at__lt=message.created_at
        )
        .order_by("-created_at")
        .values_list("role", "body")[:turns]
    )
    return [Turn(role=role, body=body) for role, body in reversed(earlier)]


def state_for_message(message: Message) -> AgentState:
    """The state for a stored customer message (worker, `draft --persist`, shadow replay)."""
    verified = message.sender_verified
    # The message's customer (support.customers.customer_of, as documents and actions read it):
    # its ref may differ from the conversation's (an e-mail address on record as C-1042's).
    customer = customer_of(message)
    ref = customer.ref if customer is not None else ""
    return build_state(
        message.body,
        history_for(message),
        # An unverified sender is nobody in particular: no customer's orders, no memory.
        customer_ref=ref,
        verified=verified,
        earlier=earlier_conversations(message) if ref else (),
        documents=documents_for(message),
        received_at=message.created_at,
    )
