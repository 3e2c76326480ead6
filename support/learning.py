"""The learning loop. Observing: after an agent answered a customer by hand (an escalated draft
approved with their text, a draft rewritten, a message of their own where no usable draft was),
the `observe_*` actors turn the question and answer, without personal data, into an answer
proposal, or one more source of the proposal asking the same. Deciding: an agent approves a
proposal (optionally edited) or dismisses it; zulip-style: validate, lock, write, audit in one
transaction; the effect that talks to the worker (embedding a new article) is queued after
commit."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from knowledge.actors import enqueue_reindex
from knowledge.embeddings import embed_query
from knowledge.models import (
    DocumentSource,
    DocumentStatus,
    KBDocument,
    Proposal,
    ProposalKind,
    ProposalStatus,
)
from knowledge.overlap import token_f1
from knowledge.specifics import generalise
from resolver.audit_actor import Actor
from support.models import AuditAction, AuditLog, Draft, DraftStatus, Message, MessageRole
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


# What counts as the same question (MiniLM cosine of the questions) and the same answer (token
# overlap of the answers) when observations are gathered into one proposal.
SAME_QUESTION = 0.65
SAME_ANSWER = 0.5
# The same answer word for word: the agent treats the questions as one, so a looser likeness of
# the questions is enough.
IDENTICAL_ANSWER = 0.9
SAME_TOPIC = 0.4
# A question the KB already answers this closely is not proposed again.
ALREADY_ANSWERED = 0.8
# An approval whose edit changed more than this share of the draft's words is a human answer.
LARGE_EDIT_SHARE = 0.5


@dataclass(frozen=True)
class Observation:
    """A customer question and the answer a human gave to it."""

    question: str
    answer: str
    conversation_id: str
    draft_id: str | None
    intent: str = ""
    category: str = ""


def _cosine(a: str, b: str) -> float:
    return float(np.dot(embed_query(a), embed_query(b)))  # the vectors are normalised


def observation_from_draft(draft: Draft) -> Observation | None:
    """An approved draft is a human answer when the AI had escalated it or the agent rewrote
    most of it."""
    if draft.status != DraftStatus.SENT or draft.automated or not draft.sent_text.strip():
        return None
    words = max(1, len(draft.answer.split()))
    rewritten = (draft.edit_distance or 0) > LARGE_EDIT_SHARE * words
    if not (draft.escalation_reason or rewritten):
        return None
    return Observation(
        question=draft.message.body,
        answer=draft.sent_text,
        conversation_id=str(draft.conversation_id),
        draft_id=str(draft.pk),
        intent=draft.intent,
        category=draft.category,
    )


def observation_from_reply(reply: Message) -> Observation | None:
    """An agent's own message answers the customer's latest question when that question got no
    usable draft (escalated or rejected)."""
    question = (
        Message.objects.filter(
            conversation_id=reply.conversation_id,
            role=MessageRole.CUSTOMER,
            created_at__lte=reply.created_at,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if question is None:
        return None
    draft = question.drafts.order_by("-created_at", "-id").first()
    unusable = {DraftStatus.ESCALATED, DraftStatus.REJECTED}
    if draft is not None and draft.status not in unusable:
        return None
    return Observation(
        question=question.body,
        answer=reply.body,
        conversation_id=str(reply.conversation_id),
        draft_id=str(draft.pk) if draft else None,
        intent=draft.intent if draft else "",
        category=draft.category if draft else "",
    )


def _already_answered(observation: Observation) -> bool:
    hits = KBDocument.objects.hybrid_search(observation.question, 3)
    return any(
        (hit.similarity or 0.0) >= ALREADY_ANSWERED
        and token_f1(hit.content, observation.answer) >= SAME_ANSWER
        for hit in hits
    )


def _matching(observation: Observation) -> Proposal | None:
    """The open answer proposal asking the same thing with the same answer, if any."""
    candidates = Proposal.objects.open().filter(kind=ProposalKind.ANSWER).select_for_update()
    for proposal in candidates:
        questions = [proposal.question, *proposal.variants]
        likeness = max(_cosine(observation.question, q) for q in questions)
        answers = token_f1(proposal.answer, observation.answer)
        if (likeness >= SAME_QUESTION and answers >= SAME_ANSWER) or (
            likeness >= SAME_TOPIC and answers >= IDENTICAL_ANSWER
        ):
            return proposal
    return None


def observe(observation: Observation) -> Proposal | None:
    """Gathers a human answer into an answer proposal (a new one, or one more source of the
    proposal asking the same), without the customer's personal data."""
    clean = replace(
        observation,
        question=generalise(observation.question)[:2000],
        answer=generalise(observation.answer)[:8000],
    )
    if not clean.question or not clean.answer or _already_answered(clean):
        return None
    source = {"conversation_id": clean.conversation_id, "draft_id": clean.draft_id}
    with transaction.atomic():
        proposal = _matching(clean)
        if proposal is None:
            return Proposal.objects.create(
                kind=ProposalKind.ANSWER,
                title=clean.question[:120],
                question=clean.question,
                answer=clean.answer,
                intent=clean.intent,
                category=clean.category,
                sources=[source],
            )
        if source not in proposal.sources:
            proposal.sources = [*proposal.sources, source]
            proposal.source_count = len(proposal.sources)
            if clean.question not in [proposal.question, *proposal.variants]:
                proposal.variants = [*proposal.variants, clean.question][:20]
            proposal.save()
        return proposal


def observe_draft(draft_id: Any) -> Proposal | None:
    draft = Draft.objects.select_related("message").filter(pk=draft_id).first()
    observation = observation_from_draft(draft) if draft else None
    return observe(observation) if observation else None


def observe_reply(message_id: Any) -> Proposal | None:
    reply = Message.objects.filter(pk=message_id, role=MessageRole.AGENT).first()
    observation = observation_from_reply(reply) if reply else None
    return observe(observation) if observation else None
