"""The learning loop's decisions: an agent approves a proposal (optionally edited) or dismisses
it. Zulip-style: validate, lock, write, audit in one transaction; the effect that talks to the
worker (embedding a new article) is queued after commit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from knowledge.actors import enqueue_reindex
from knowledge.models import (
    DocumentSource,
    DocumentStatus,
    KBDocument,
    Proposal,
    ProposalKind,
    ProposalStatus,
)
from resolver.audit_actor import Actor
from support.models import AuditAction, AuditLog
from support.review import Conflict, ReviewError


def _lock_open(proposal_id: Any) -> Proposal:
    proposal = Proposal.objects.select_for_update().get(pk=proposal_id)
    if proposal.status != ProposalStatus.OPEN:
        raise Conflict(f"the proposal is already {proposal.status}")
    return proposal


def _audit(proposal: Proposal, actor: Actor, action: str, **after: Any) -> None:
    source: dict[str, Any] = next(iter(proposal.sources), {})
    AuditLog.objects.record(
        actor,
        action,
        conversation_id=source.get("conversation_id"),
        before={"proposal_id": proposal.pk, "status": ProposalStatus.OPEN},
        after={"proposal_id": proposal.pk, "status": proposal.status, **after},
    )


def _learned_article(proposal: Proposal) -> KBDocument:
    """The article an approved answer becomes: published, searchable once the worker has
    embedded it (seconds), its question variants indexed like any article's questions."""
    return KBDocument.objects.create(
        source=DocumentSource.LEARNED,
        external_id=f"proposal-{proposal.pk}",
        title=proposal.title,
        content=proposal.answer,
        intent=proposal.intent,
        category=proposal.category,
        status=DocumentStatus.PUBLISHED,
        metadata={"questions": [proposal.question, *proposal.variants], "proposal": proposal.pk},
    )


def approve(proposal_id: Any, actor: Actor, answer: str = "", title: str = "") -> Proposal:
    with transaction.atomic():
        proposal = _lock_open(proposal_id)
        if answer.strip():
            proposal.answer = answer.strip()
        if title.strip():
            proposal.title = title.strip()[:300]
        if not proposal.answer.strip():
            raise ReviewError("the proposal has no answer: pass one as 'answer'")
        if proposal.kind == ProposalKind.ANSWER:
            proposal.document = _learned_article(proposal)
            enqueue_reindex([proposal.document.pk])  # after commit
        proposal.status = ProposalStatus.APPROVED
        proposal.decided_at = timezone.now()
        proposal.decided_by = actor.user
        proposal.save()
        _audit(proposal, actor, AuditAction.PROPOSAL_APPROVED, document_id=proposal.document_id)
    return proposal


def dismiss(proposal_id: Any, actor: Actor, reason: str = "") -> Proposal:
    with transaction.atomic():
        proposal = _lock_open(proposal_id)
        proposal.status = ProposalStatus.DISMISSED
        proposal.decided_at = timezone.now()
        proposal.decided_by = actor.user
        proposal.decision_note = reason.strip()
        proposal.save()
        _audit(proposal, actor, AuditAction.PROPOSAL_DISMISSED, reason=proposal.decision_note)
    return proposal


def expire_stale() -> int:
    """Open proposals nobody reviewed for EXPIRE_AFTER become expired."""
    return Proposal.objects.stale().update(status=ProposalStatus.EXPIRED, decided_at=timezone.now())
