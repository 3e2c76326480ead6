"""Runs the graph for a stored message: builds the state from Postgres rows (the message and its
conversation's recent turns) and lets the persist service write the outcome."""

from __future__ import annotations

from typing import Any

from django.db.models import F, Q
from django.utils import timezone
from langgraph.graph.state import CompiledStateGraph

from agents.graph import build_graph, initial_state, run_graph
from agents.persistence import save_outcome
from agents.services import default_services
from agents.state import Outcome, Turn
from resolver.once import once_per_process
from support.models import Draft, DraftStatus, Message
from support.models.draft import DRAFT_CLAIM_LEASE

HISTORY_TURNS = 6


@once_per_process
def worker_graph() -> CompiledStateGraph:
    """One compiled graph per worker process, built on first use (never at import)."""
    return build_graph(default_services(persist=save_outcome))


def history_for(message: Message, turns: int = HISTORY_TURNS) -> list[Turn]:
    earlier = (
        Message.objects.filter(
            conversation_id=message.conversation_id, created_at__lt=message.created_at
        )
        .order_by("-created_at")
        .values_list("role", "body")[:turns]
    )
    return [Turn(role=role, body=body) for role, body in reversed(earlier)]


def claim_draft(message_id: Any) -> Draft | None:
    """The message's PENDING draft, claimed with a conditional UPDATE so that two workers given
    the same message never both run it. None when there is nothing to do."""
    now = timezone.now()
    stale = now - DRAFT_CLAIM_LEASE
    claimable = Q(run_started_at__isnull=True) | Q(run_started_at__lt=stale)
    draft = Draft.objects.filter(message_id=message_id, status=DraftStatus.PENDING).first()
    if draft is None:
        return None
    claimed = Draft.objects.filter(claimable, pk=draft.pk, status=DraftStatus.PENDING).update(
        run_started_at=now, attempts=F("attempts") + 1
    )
    return draft if claimed else None


def release_draft(draft: Draft) -> None:
    Draft.objects.filter(pk=draft.pk, status=DraftStatus.PENDING).update(run_started_at=None)


def run_for_draft(
    draft: Draft,
    event_id: str = "",
    trace_id: str = "",
    graph: CompiledStateGraph | None = None,
) -> Outcome:
    message = Message.objects.select_related("conversation").get(pk=draft.message_id)
    state = initial_state(
        message.body,
        history_for(message),
        customer_ref=message.conversation.customer_ref,
        run={"draft_id": draft.pk, "event_id": event_id, "trace_id": trace_id},
    )
    return run_graph(graph or worker_graph(), state)
