"""A draft reply for one customer message: what the agent graph proposed and what a human did."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models

from knowledge.languages import UNDETERMINED, Language
from knowledge.search import CITATION_KEYS
from support.models.action import Action
from support.vocabulary import (
    OPEN_STATUSES,
    DraftStatus,
    EscalationReason,
    RejectCategory,
    ReviewVerdict,
    Sentiment,
    Urgency,
    empty_context,
    empty_guard,
)

# Re-exported: the columns' words are the vocabulary's (migrations name empty_guard here).
__all__ = [
    "DRAFT_CLAIM_LEASE",
    "OPEN_STATUSES",
    "Draft",
    "DraftQuerySet",
    "DraftStatus",
    "EscalationReason",
    "RejectCategory",
    "Sentiment",
    "Urgency",
    "empty_context",
    "empty_guard",
]

# The longest an agent run may take (the actor's time limit: Dramatiq interrupts it after that).
AGENT_RUN_TIME_LIMIT = timedelta(seconds=settings.AGENT_RUN_TIME_LIMIT_SECONDS)
# A worker's claim on a PENDING draft older than this belongs to a worker that died mid-run
# (SIGKILL, OOM): a live run cannot hold it longer than the time limit, so another run (the
# broker's redelivery of the dead worker's message, or a reprocess) may take over.
DRAFT_CLAIM_LEASE = AGENT_RUN_TIME_LIMIT + timedelta(seconds=15)

# The reject_reason of a draft the system closed unanswered (support/review.py): no human's
# verdict on its answer, so no evidence for autonomy either (support/autonomy/evidence.py).
SUPERSEDED = "superseded by a reprocess"
# An open draft of a conversation an agent resolved: closed unanswered, which is not a verdict on
# the assistant's answer (the audit row says `resolved`, as it says `superseded` above).
CLOSED_BY_RESOLVE = "closed: the conversation was resolved"
# ... or its customer's data was erased, or retention anonymised it (support/personal_data.py).
CLOSED_BY_ERASURE = "closed: the customer's data was erased"


# A suggestion a person judged (support/autonomy/evidence.py:reviewed_drafts, the autonomy
# evidence): suggested by its run (not escalated, not sent alone), with a confidence, sent or
# rejected by a person who left a verdict. Also the condition of the index that serves it.
REVIEWED_SUGGESTION = models.Q(
    automated=False,
    escalation_reason="",
    status__in=(DraftStatus.SENT, DraftStatus.REJECTED),
    reviewed_at__isnull=False,
    confidence__isnull=False,
) & ~models.Q(review_verdict="")


# Queue order: drafts with an answer (to approve) or an escalation before the ones still being
# drafted, then by urgency, then the longest waiting first.
URGENCY_RANK = {Urgency.HIGH: 0, Urgency.NORMAL: 1, Urgency.LOW: 2}
UNTRIAGED_RANK = 3


def _waiting_group() -> models.Case:
    return models.Case(models.When(status=DraftStatus.PENDING, then=1), default=0)


def _urgency_rank() -> models.Case:
    ranks = [models.When(urgency=u, then=rank) for u, rank in URGENCY_RANK.items()]
    return models.Case(*ranks, default=UNTRIAGED_RANK)


class DraftQuerySet(models.QuerySet["Draft"]):
    def with_actions(self) -> DraftQuerySet:
        """Prefetches each draft's actions (and who decided them) for as_wire: two queries
        for a page of drafts, not one per draft."""
        decided = Action.objects.select_related("decided_by")
        return self.prefetch_related(models.Prefetch("actions", queryset=decided))

    def needing_human(self) -> DraftQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def keyed_in_status(self, *statuses: str) -> DraftQuerySet:
        """A status condition for a lookup by a key with its own index (the pk, the message,
        the conversation), written as "none of the other statuses" so that the planner cannot
        answer it from the partial indexes of PENDING or open drafts: with the statistics
        taken before a backlog (autoanalyze waits for a tenth of the table to change) it priced
        those as nearly empty, walked every one and filtered by the key, and each run's claim
        read the whole backlog (#30, support/tests/test_pending_backlog.py). The same rows:
        draft_status_valid allows no other status."""
        unknown = set(statuses) - set(DraftStatus.values)
        if unknown:  # "none of the others" would match no row: a typo must not pass silently
            raise ValueError(f"not draft statuses: {sorted(unknown)}")
        return self.exclude(status__in=[s for s in DraftStatus.values if s not in statuses])

    def in_queue_order(self) -> DraftQuerySet:
        """Served by draft_queue_order_idx (same expressions), so the first page of a queue of
        thousands is an index scan, not a sort of every open draft."""
        return self.order_by(_waiting_group(), _urgency_rank(), "created_at", "id")

    def after_in_queue(self, draft: Draft) -> DraftQuerySet:
        """Drafts that come after `draft` in queue order (a keyset on the index's columns)."""
        group = 1 if draft.status == DraftStatus.PENDING else 0
        urgency = URGENCY_RANK.get(draft.urgency, UNTRIAGED_RANK)  # type: ignore[call-overload]
        same = {"queue_group": group, "queue_urgency": urgency}
        later = (
            models.Q(queue_group__gt=group)
            | models.Q(queue_group=group, queue_urgency__gt=urgency)
            | models.Q(**same, created_at__gt=draft.created_at)
            | models.Q(**same, created_at=draft.created_at, id__gt=draft.id)
        )
        return self.alias(queue_group=_waiting_group(), queue_urgency=_urgency_rank()).filter(later)

    def matching(self, text: str) -> DraftQuerySet:
        """Drafts whose customer message or customer reference contains `text` (any case)."""
        return self.filter(
            models.Q(message__body__icontains=text)
            | models.Q(conversation__customer_ref__icontains=text)
        )


class Draft(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey("support.Message", on_delete=models.CASCADE, related_name="drafts")
    # Denormalised from message so the review queue needs no join.
    # Indexed by draft_conversation_idx (conversation, -created_at) below.
    conversation = models.ForeignKey(
        "support.Conversation", on_delete=models.CASCADE, related_name="drafts", db_index=False
    )
    status = models.CharField(
        max_length=16, choices=DraftStatus.choices, default=DraftStatus.PENDING
    )
    # "" when not escalated; the API shows it as null.
    escalation_reason = models.CharField(
        max_length=32, choices=EscalationReason.choices, blank=True
    )

    # Triage ("" until the graph has run); triage_scores holds each head's probability.
    intent = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=64, blank=True)
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices, blank=True)
    urgency = models.CharField(max_length=16, choices=Urgency.choices, blank=True)
    triage_scores = models.JSONField(default=dict, blank=True)
    # The customer message's language as triage detected it (ISO 639-1, knowledge/languages.py;
    # "und": too short or unclear to tell, and no earlier message of the conversation told it);
    # "" until the graph has run.
    language = models.CharField(max_length=8, blank=True)

    # The proposal.
    answer = models.TextField(blank=True)
    citations = models.JSONField(default=list, blank=True)
    suggested_action = models.CharField(max_length=200, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    guard = models.JSONField(default=empty_guard, blank=True)
    facts = models.JSONField(default=dict, blank=True, help_text="Customer facts the draft used.")
    # What the run saw beyond the message (support.vocabulary.empty_context): earlier
    # conversations of the verified customer, documents read, facts the message lacks.
    context = models.JSONField(default=empty_context, blank=True)

    # Cost accounting.
    model = models.CharField(max_length=128, blank=True)
    prompt_version = models.CharField(max_length=32, blank=True)
    tokens = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=12, decimal_places=6, default=0)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)

    # Work claiming: an actor claims a PENDING draft with a conditional UPDATE on these.
    attempts = models.PositiveSmallIntegerField(default=0)
    run_started_at = models.DateTimeField(null=True, blank=True)
    # The worker process holding the claim (host:pid, as its heartbeat names it); blank for a run
    # outside a worker (`draft --persist`). A claim whose worker has no heartbeat any more is
    # taken over without waiting for the lease.
    run_by = models.CharField(max_length=200, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # When the run request reached the queue. NULL on a PENDING draft: the enqueue after commit
    # failed (Redis down) or has not happened yet; the outbox sweep (support/outbox.py) sends it.
    enqueued_at = models.DateTimeField(null=True, blank=True)

    # Human review; the learning loop reads sent_text/edit_distance/reject_reason.
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_drafts",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    sent_text = models.TextField(blank=True)
    edit_distance = models.PositiveIntegerField(null=True, blank=True)
    reject_reason = models.TextField(blank=True)
    reject_category = models.CharField(max_length=16, choices=RejectCategory.choices, blank=True)
    automated = models.BooleanField(default=False, help_text="Sent by the auto-send policy.")
    # Whether a citation names a learned article (knowledge's LEARNED source): set by a trigger
    # when the citations are written (support/rollups.py), so the hourly rollups take back what
    # they added even if the article is deleted later.
    cites_learned = models.BooleanField(default=False, db_default=False, editable=False)
    # A person's verdict on the suggestion (ReviewVerdict), stored when they sent or rejected it
    # (support/review.py): autonomy's evidence (support/autonomy/evidence.py). Kept by erasure,
    # which empties the answer it was judged from; "" = no person judged a suggestion (a system
    # close, an auto-send, a reply written for a draft that had no answer).
    review_verdict = models.CharField(max_length=16, choices=ReviewVerdict.choices, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DraftQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DraftStatus.values), name="draft_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(escalation_reason__in=[*EscalationReason.values, ""]),
                name="draft_escalation_reason_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(reject_category__in=[*RejectCategory.values, ""]),
                name="draft_reject_category_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True)
                | models.Q(confidence__gte=0.0, confidence__lte=1.0),
                name="draft_confidence_between_0_and_1",
            ),
            models.CheckConstraint(condition=models.Q(cost__gte=0), name="draft_cost_not_negative"),
            models.CheckConstraint(
                condition=models.Q(sentiment__in=[*Sentiment.values, ""]),
                name="draft_sentiment_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(urgency__in=[*Urgency.values, ""]), name="draft_urgency_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(language__in=[*Language.values, UNDETERMINED, ""]),
                name="draft_language_valid",
            ),
            # A message has at most one draft in flight; reprocessing waits for the last run.
            models.UniqueConstraint(
                fields=["message"],
                condition=models.Q(status=DraftStatus.PENDING),
                name="draft_one_pending_per_message",
            ),
        ]
        indexes = [
            models.Index(fields=["status"], name="draft_status_idx"),
            # GET /drafts newest first, with a status or not: keyset pages on (created_at, id).
            models.Index(fields=["status", "-created_at", "-id"], name="draft_status_created_idx"),
            # ... and the dashboard's window (drafts created since).
            models.Index(fields=["-created_at", "-id"], name="draft_created_idx"),
            models.Index(fields=["conversation", "-created_at"], name="draft_conversation_idx"),
            # An intent's autonomy evidence since its last demotion (the Autonomy page reads it
            # for every intent; without it each read walked every sent or rejected draft).
            models.Index(
                fields=["intent", "reviewed_at"],
                name="draft_evidence_idx",
                condition=REVIEWED_SUGGESTION,
            ),
            # The outbox sweep and /healthz's backlog: PENDING drafts by age.
            models.Index(
                fields=["created_at"],
                name="draft_pending_idx",
                condition=models.Q(status=DraftStatus.PENDING),
            ),
            # `status` last: not for the order, but so a status filter is checked on the index
            # entries themselves, not on each row fetched (the pending drafts come after every
            # answered one: thousands of rows skipped).
            models.Index(
                _waiting_group(),
                _urgency_rank(),
                models.F("created_at"),
                models.F("id"),
                models.F("status"),
                name="draft_queue_order_idx",
                condition=models.Q(status__in=OPEN_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return f"Draft {self.id} · {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    # For templates, which cannot name the vocabulary: one property per status they test.
    @property
    def is_pending(self) -> bool:
        return self.status == DraftStatus.PENDING

    @property
    def is_escalated(self) -> bool:
        return self.status == DraftStatus.ESCALATED

    @property
    def is_sent(self) -> bool:
        return self.status == DraftStatus.SENT

    @property
    def answer_digest(self) -> str:
        """Names the answer's text: the console's answer box is kept across pushes only while
        the answer it started from is the same, and an approval names the answer it was made
        on (deciding an action rewrites the answer's sentence about it: support/actions)."""
        return hashlib.sha256(self.answer.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @property
    def waiting_for_queue(self) -> bool:
        """Accepted, but its run has not reached the queue yet (Redis down at commit)."""
        return self.status == DraftStatus.PENDING and self.enqueued_at is None

    def as_wire(self) -> dict[str, Any]:
        """The Draft object of CONTRACTS.md (API, CLI, console JSON), plus what a human did with
        it. The one mapping of a draft to its public shape: support.api.schemas.DraftOut types
        it, a run's outcome is shown through it (support.agent_runs.unsaved_draft)."""
        return {
            "id": self.pk,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "status": self.status,
            "escalation_reason": self.escalation_reason or None,
            "intent": self.intent or None,
            "category": self.category or None,
            "sentiment": self.sentiment or None,
            "urgency": self.urgency or None,
            # Addition (#31): the message's language, ISO 639-1 or "und"; null until triaged.
            "language": self.language or None,
            "answer": self.answer,
            "citations": [{key: c.get(key) for key in CITATION_KEYS} for c in self.citations],
            "suggested_action": self.suggested_action or None,
            "confidence": self.confidence,
            "guard": self.guard,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "tokens": self.tokens,
            "cost": float(self.cost),
            "latency_ms": self.latency_ms,
            "created_at": self.created_at,
            # Additions: what a human did with it.
            "reviewed_at": self.reviewed_at,
            "sent_text": self.sent_text if self.status == DraftStatus.SENT else None,
            "reject_reason": self.reject_reason or None,
            "reject_category": self.reject_category or None,
            # W3C trace id of the request that brought the message (a caller's traceparent).
            "trace_id": self.trace_id or None,
            # What the run saw beyond the message: `earlier_conversations` (ids),
            # `documents` (fields and mismatches), `missing` (facts to ask the customer for).
            "context": {**empty_context(), **(self.context or {})},
            # The operational moves proposed with it (support/actions/), newest decision last;
            # prefetch them (Draft.objects.with_actions()) when listing drafts.
            "actions": [] if self._state.adding else [a.as_wire() for a in self.actions.all()],
            # Addition: names the answer's text; an approval with `edited` may pass it back as
            # `basis`, refused 409 if the answer was rewritten since (an action decided).
            "answer_digest": self.answer_digest,
        }
