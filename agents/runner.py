"""Runs the graph for a stored message: builds the state from Postgres rows (the message and its
conversation's recent turns), runs the pure graph, and records the outcome through the one
support action for it (support.drafts.record_outcome)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone
from langgraph.graph.state import CompiledStateGraph

from agents.graph import build_graph, initial_state, run_graph
from agents.services import default_services
from agents.state import Turn
from resolver.heartbeat import MISSED_BEATS, is_beating
from resolver.once import once_per_process
from resolver.redis_client import get_redis
from support.drafts import DraftOutcome, record_outcome
from support.models import Draft, DraftStatus, Message
from support.models.draft import DRAFT_CLAIM_LEASE

logger = logging.getLogger(__name__)

HISTORY_TURNS = 6


@once_per_process
def worker_graph() -> CompiledStateGraph:
    """One compiled graph per worker process, built on first use (never at import)."""
    return build_graph(default_services())


# The dry run's message: it exercises triage, KB search and drafting (an empty KB is fine).
WARM_UP_MESSAGE = "Hello, where is my order? I would like to track it."


def warm_up() -> None:
    """Worker boot (settings.WORKER_WARMUP): builds the worker's graph, which loads the embedding
    model, the triage classifier and the configured provider, then drafts one message without
    recording it, so torch's first-call costs and the database connection are paid before the
    worker takes its first real message. The dry run uses the offline extractive provider: a
    paid LLM is never called just to warm up."""
    from agents.providers.extractive import ExtractiveProvider

    worker_graph()
    dry_run = build_graph(default_services(drafter=ExtractiveProvider()))
    run_graph(dry_run, initial_state(WARM_UP_MESSAGE))  # the graph writes nothing


def history_for(message: Message, turns: int = HISTORY_TURNS) -> list[Turn]:
    earlier = (
        Message.objects.filter(
            conversation_id=message.conversation_id, created_at__lt=message.created_at
        )
        .order_by("-created_at")
        .values_list("role", "body")[:turns]
    )
    return [Turn(role=role, body=body) for role, body in reversed(earlier)]


class DraftClaimed(Exception):
    """Another run holds the draft's claim; it is free again after `retry_in` at the latest
    (the run finishes, or its lease runs out because its worker died)."""

    def __init__(self, retry_in: timedelta) -> None:
        super().__init__(f"claimed by another run; free within {retry_in.total_seconds():.0f} s")
        self.retry_in = retry_in


def claim_draft(message_id: Any, holder: str = "") -> Draft | None:
    """The message's PENDING draft, claimed with a conditional UPDATE so that two workers given
    the same message never both run it; `holder` is the claiming worker process (worker_id()).
    None when there is nothing to do; DraftClaimed when another run holds it."""
    now = timezone.now()
    draft = Draft.objects.filter(message_id=message_id, status=DraftStatus.PENDING).first()
    if draft is None:
        return None
    free = Q(run_started_at__isnull=True) | Q(run_started_at__lt=now - DRAFT_CLAIM_LEASE)
    if _take(draft, free, now, holder):
        return draft
    held = Draft.objects.filter(pk=draft.pk).values("run_started_at", "run_by").first()
    if held is None or held["run_started_at"] is None:  # finished or released meanwhile
        return None
    held_since, held_by = held["run_started_at"], held["run_by"]
    if _holder_died(held_since, held_by, now):
        still = Q(run_started_at=held_since, run_by=held_by)
        if _take(draft, still, now, holder):
            logger.info("draft %s: taking over the claim of %s (no heartbeat)", draft.pk, held_by)
            return draft
    raise DraftClaimed(max(held_since + DRAFT_CLAIM_LEASE - now, timedelta(seconds=1)))


def _take(draft: Draft, condition: Q, now: datetime, holder: str) -> bool:
    claimable = Draft.objects.filter(condition, pk=draft.pk, status=DraftStatus.PENDING)
    return bool(claimable.update(run_started_at=now, run_by=holder, attempts=F("attempts") + 1))


def _holder_died(held_since: datetime, held_by: str, now: datetime) -> bool:
    """A worker killed mid-run (SIGKILL, OOM) stops beating: its claim need not wait for the
    lease. A claim younger than the heartbeat's lifetime is never taken (the key may not have
    expired yet); a run outside a worker (no holder) always waits for the lease."""
    grace = timedelta(seconds=settings.WORKER_HEARTBEAT_SECONDS * MISSED_BEATS)
    if not held_by or held_since > now - grace:
        return False
    return not is_beating(get_redis(), held_by)


def release_draft(draft: Draft) -> None:
    Draft.objects.filter(pk=draft.pk, status=DraftStatus.PENDING).update(
        run_started_at=None, run_by=""
    )


def run_for_draft(
    draft: Draft,
    event_id: str = "",
    trace_id: str = "",
    graph: CompiledStateGraph | None = None,
) -> DraftOutcome:
    """Drafts the message of a claimed `draft` and records the outcome (raises
    support.drafts.AlreadyRecorded when the event or the draft was handled meanwhile)."""
    message = Message.objects.select_related("conversation").get(pk=draft.message_id)
    state = initial_state(
        message.body, history_for(message), customer_ref=message.conversation.customer_ref
    )
    outcome = run_graph(graph or worker_graph(), state)
    record_outcome(draft.pk, outcome, event_id=event_id, trace_id=trace_id)
    return outcome
