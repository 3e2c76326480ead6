"""Shared by every proposal kind: one more source for a proposal (a conversation and draft it
came from, the way it was asked, what the human said), and its impact, the rank of the review
queue: the source count moved by how customers rated the human answers in those conversations."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.db.models import Count, Q

from knowledge.models import Proposal
from support.models import CustomerRating

# Question variants and notes kept per proposal: enough to judge it, bounded for the page.
MAX_VARIANTS = 20
MAX_NOTES = 20
# How much one customer rating moves the impact (one source = 1.0).
RATING_WEIGHT = 0.5
# The first key of the learning loop's advisory locks (the second is the kind's hash).
LOCK_SPACE = 1_606_016


def add_source(
    proposal: Proposal, source: dict[str, Any], question: str = "", note: str = ""
) -> bool:
    """Adds a source (and the variant and note it brings) to a locked proposal; False when the
    proposal already had it. The caller saves."""
    if source in proposal.sources:
        return False
    proposal.sources = [*proposal.sources, source]
    proposal.source_count = len(proposal.sources)
    if question and question not in [proposal.question, *proposal.variants]:
        proposal.variants = [*proposal.variants, question][:MAX_VARIANTS]
    if note:
        proposal.notes = [*proposal.notes, note][-MAX_NOTES:]
    proposal.impact = impact(proposal)
    return True


def lock_kind(kind: str) -> None:
    """Serialises the observers of one proposal kind (a transaction-level advisory lock):
    select_for_update cannot lock the proposal that does not exist yet, and two observers
    finding no match would each create one."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [LOCK_SPACE, kind])


def impact(proposal: Proposal) -> float:
    """Sources, plus RATING_WEIGHT per thumbs-up and minus per thumbs-down the customers gave in
    the source conversations (the answer a proposal learns from is the one they rated)."""
    conversations = {s.get("conversation_id") for s in proposal.sources} - {None}
    ratings = CustomerRating.objects.filter(conversation_id__in=conversations).aggregate(
        up=Count("id", filter=Q(score__gt=0)), down=Count("id", filter=Q(score__lt=0))
    )
    return max(0.0, proposal.source_count + RATING_WEIGHT * (ratings["up"] - ratings["down"]))


def reweigh(conversation_id: Any) -> int:
    """Recomputes the impact of the open proposals a rated conversation is a source of."""
    proposals = Proposal.objects.open().filter(
        sources__contains=[{"conversation_id": str(conversation_id)}]
    )
    changed = 0
    for proposal in proposals:
        value = impact(proposal)
        if value != proposal.impact:
            Proposal.objects.filter(pk=proposal.pk).update(impact=value)
            changed += 1
    return changed
