"""Proposals: what the learning loop suggests adding to or changing in the knowledge, for an admin
or agent to approve (optionally edited) or dismiss. Sources name the conversations and drafts they
came from by id (support owns those rows; knowledge does not depend on it)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# Unreviewed proposals expire: what nobody looked at in four weeks is stale.
EXPIRE_AFTER = timedelta(days=28)


class ProposalKind(models.TextChoices):
    ANSWER = "answer", "New answer (KB article)"
    KB_EDIT = "kb_edit", "Revision of an article"
    TRIAGE_EXAMPLE = "triage_example", "Triage example"
    GUARD_RULE = "guard_rule", "Guard rule"


class ProposalStatus(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    DISMISSED = "dismissed", "Dismissed"
    EXPIRED = "expired", "Expired"


class ProposalQuerySet(models.QuerySet["Proposal"]):
    def open(self) -> ProposalQuerySet:
        return self.filter(status=ProposalStatus.OPEN)

    def by_impact(self) -> ProposalQuerySet:
        """Highest impact first (sources, weighted by customers' ratings), then the most
        recent."""
        return self.order_by("-impact", "-source_count", "-updated_at", "-id")

    def stale(self) -> ProposalQuerySet:
        return self.open().filter(updated_at__lt=timezone.now() - EXPIRE_AFTER)


class Proposal(models.Model):
    kind = models.CharField(max_length=16, choices=ProposalKind.choices)
    status = models.CharField(
        max_length=16, choices=ProposalStatus.choices, default=ProposalStatus.OPEN
    )
    title = models.CharField(max_length=300)
    # The customers' question as first asked, and the other ways they asked it.
    question = models.TextField()
    variants = models.JSONField(default=list, blank=True)
    answer = models.TextField()
    intent = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=64, blank=True)
    source_count = models.PositiveIntegerField(default=1)
    # What ranks the review queue: the source count, moved by the customers' ratings of the
    # source conversations (support/learning.py:reweigh).
    impact = models.FloatField(default=1.0)
    # What the humans said: the reject reasons behind a kb_edit or guard_rule proposal.
    notes = models.JSONField(default=list, blank=True)
    # [{"conversation_id", "draft_id"}]
    sources = models.JSONField(default=list, blank=True)
    # The article an approved answer became (or the one a kb_edit revises).
    document = models.ForeignKey(
        "knowledge.KBDocument", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.TextField(blank=True)

    objects = ProposalQuerySet.as_manager()

    class Meta:
        ordering = ["-impact", "-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=ProposalKind.values), name="proposal_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=ProposalStatus.values),
                name="proposal_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "kind", "-impact"], name="proposal_queue_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"

    def as_wire(self) -> dict[str, object]:
        """The Proposal object of CONTRACTS.md."""
        return {
            "id": self.pk,
            "kind": self.kind,
            "status": self.status,
            "title": self.title,
            "question": self.question,
            "answer": self.answer,
            "intent": self.intent or None,
            "source_count": self.source_count,
            "sources": self.sources,
            "created_at": self.created_at,
            "decided_at": self.decided_at,
            "decided_by": self.decided_by.get_username() if self.decided_by else None,
        }
