"""Deciding a proposal: approve (optionally edited) or dismiss, zulip-style: validate, lock,
write, audit in one transaction; what talks to the worker (embedding an article) is queued after
commit. What approval does depends on the kind: an answer becomes a published `learned` article,
a kb_edit revises its article, a triage_example stores training rows, a guard_rule stores a rule
that stays off until an admin enables it."""

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
from support.learning.guard_rules import store_rule
from support.learning.relabels import store_examples
from support.models import AuditAction, AuditLog
from support.review import Conflict, ReviewError

# Earlier versions of a revised article kept in its metadata (the audit row names the proposal).
KEEP_REVISIONS = 5


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
    document = KBDocument.objects.create(
        source=DocumentSource.LEARNED,
        external_id=f"proposal-{proposal.pk}",
        title=proposal.title,
        content=proposal.answer,
        intent=proposal.intent,
        category=proposal.category,
        status=DocumentStatus.PUBLISHED,
        # Agents' answer, not yet the public's: the help center shows it once an admin
        # switches it on (knowledge admin, "public").
        public=False,
        metadata={"questions": [proposal.question, *proposal.variants], "proposal": proposal.pk},
    )
    enqueue_reindex([document.pk])  # after commit
    return document


def _revise_article(proposal: Proposal) -> dict[str, Any]:
    """The kb_edit's article takes the proposed text (re-embedded by the worker)."""
    documents = KBDocument.objects.select_for_update()
    document = documents.filter(pk=proposal.document_id).first() if proposal.document_id else None
    if document is None:
        raise ReviewError("the article this revision is for no longer exists")
    if document.content.strip() == proposal.answer.strip():
        raise ReviewError("the revision does not change the article: edit the answer first")
    revisions = document.metadata.get("revisions", [])
    revisions.append({"proposal": proposal.pk, "previous": document.content})
    document.metadata = {**document.metadata, "revisions": revisions[-KEEP_REVISIONS:]}
    document.content = proposal.answer.strip()
    document.save()
    enqueue_reindex([document.pk])  # after commit
    return {"document_id": document.pk}


def _apply(proposal: Proposal) -> dict[str, Any]:
    """What approving this kind does; returns what the audit row records."""
    if proposal.kind == ProposalKind.ANSWER:
        proposal.document = _learned_article(proposal)
        return {"document_id": proposal.document_id}
    if proposal.kind == ProposalKind.KB_EDIT:
        return _revise_article(proposal)
    if proposal.kind == ProposalKind.TRIAGE_EXAMPLE:
        return {"examples": store_examples(proposal), "intent": proposal.intent}
    rule = store_rule(proposal)
    return {"rule_id": rule.pk, "enabled": rule.enabled}


def approve(proposal_id: Any, actor: Actor, answer: str = "", title: str = "") -> Proposal:
    with transaction.atomic():
        proposal = _lock_open(proposal_id)
        if answer.strip():
            proposal.answer = answer.strip()
        if title.strip():
            proposal.title = title.strip()[:300]
        if not proposal.answer.strip():
            raise ReviewError("the proposal has no answer: pass one as 'answer'")
        effect = _apply(proposal)
        proposal.status = ProposalStatus.APPROVED
        proposal.decided_at = timezone.now()
        proposal.decided_by = actor.user
        proposal.save()
        _audit(proposal, actor, AuditAction.PROPOSAL_APPROVED, **effect)
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
