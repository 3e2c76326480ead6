"""What the console's screens show, gathered in a few queries: the queue and a conversation.

The full pages (views.py) and the live pushes (live.py) render the same partials from these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from knowledge.taxonomy import taxonomy
from support.actions.text import UNDECIDED
from support.console.actions import ActionRow
from support.console.customer_timeline import CustomerTimeline
from support.console.filters import QUEUE_PAGE_SIZE, QueueFilter
from support.console.task_screens import conversation_tasks
from support.console.why import Why, also_asks, triage_why
from support.models import (
    AuditAction,
    AuditLog,
    Conversation,
    Draft,
    Message,
    MessageRole,
    RejectCategory,
)
from support.models.draft import DraftQuerySet
from support.vocabulary import GUARD_CHECKS, NOT_DRAFTED

ACTIVITY_ROWS = 30


@dataclass
class QueueScreen:
    filters: QueueFilter
    rows: list[Draft]
    total: int

    @classmethod
    def load(cls, filters: QueueFilter) -> QueueScreen:
        rows = filters.page()
        # A short page is the whole queue; only a full one needs a COUNT.
        total = len(rows) if len(rows) < QUEUE_PAGE_SIZE else filters.drafts().count()
        return cls(filters, rows, total)

    def context(self) -> dict[str, Any]:
        return {
            "filters": self.filters,
            "selected": self.filters.selected(),
            "rows": self.rows,
            "total": self.total,
            "page_size": QUEUE_PAGE_SIZE,
        }


@dataclass(frozen=True)
class AutoSent:
    """A reply sent without a human (#29), as its audit rows tell: in its intent's canary or
    not, corrected by an agent since, and whether that took the intent back to review."""

    canary: bool = False
    corrected_by: str = ""
    demoted: bool = False


AUTO_SENT_TRAIL = (AuditAction.AUTO_SENT, AuditAction.CORRECTED, AuditAction.AUTONOMY_DEMOTED)


def auto_sent_marks(conversation_id: Any) -> dict[str, AutoSent]:
    """The conversation's auto-sent drafts (ids as text) and what became of them, in one query
    (the activity list is cut at ACTIVITY_ROWS, this is not)."""
    rows = (
        AuditLog.objects.filter(
            conversation_id=conversation_id, action__in=AUTO_SENT_TRAIL, draft_id__isnull=False
        )
        .order_by("created_at", "id")
        .values_list("draft_id", "action", "actor", "metadata")
    )
    marks: dict[str, AutoSent] = {}
    for draft_id, action, actor, metadata in rows:
        key, mark = str(draft_id), marks.get(str(draft_id), AutoSent())
        if action == AuditAction.AUTO_SENT:
            canary = bool((metadata or {}).get("canary"))
            marks[key] = AutoSent(canary, mark.corrected_by, mark.demoted)
        elif key in marks and action == AuditAction.CORRECTED:
            marks[key] = AutoSent(mark.canary, actor, mark.demoted)
        elif key in marks:
            marks[key] = AutoSent(mark.canary, mark.corrected_by, True)
    return marks


@dataclass
class DraftCard:
    """One draft with what its card needs beside the row: who acted last, triage scores."""

    draft: Draft
    last_action: AuditLog | None = None
    auto_sent: AutoSent | None = None  # sent without a human (#29)

    @property
    def scores(self) -> dict[str, float]:
        """Each triage head's probability (triage_scores also holds the signals found)."""
        scores = self.draft.triage_scores if isinstance(self.draft.triage_scores, dict) else {}
        return {k: float(v) for k, v in scores.items() if isinstance(v, int | float)}

    @property
    def why(self) -> dict[str, Why]:
        """Each tone chip's probability and the cues that decided it (the hover)."""
        return triage_why(self.draft)

    @property
    def also_asks(self) -> str:
        """The question an escalated complaint also asks, named for the agent."""
        return also_asks(self.draft)

    @property
    def citations(self) -> list[dict[str, Any]]:
        return [
            {**citation, "n": n} for n, citation in enumerate(self.draft.citations or [], start=1)
        ]

    @property
    def drafted(self) -> bool:
        """False when the run drafted nothing (NOT_DRAFTED): no guard check ran, none failed."""
        guard = self.draft.guard if isinstance(self.draft.guard, dict) else {}
        return NOT_DRAFTED not in (guard.get("reasons") or [])

    @property
    def guard_checks(self) -> list[tuple[str, bool]]:
        guard = self.draft.guard if isinstance(self.draft.guard, dict) else {}
        return [(check, bool(guard.get(check))) for check in GUARD_CHECKS]

    @property
    def can_approve(self) -> bool:
        """An empty answer has nothing to approve (review.approve refuses it too); the agent's
        own text typed into the box enables the button (console.js)."""
        return bool(self.draft.answer.strip()) and not self.actions_undecided

    @property
    def actions(self) -> list[ActionRow]:
        return [ActionRow(action) for action in self.draft.actions.all()]

    @property
    def actions_undecided(self) -> bool:
        """An action still proposed or executing: the reply waits (review.approve refuses)."""
        return any(row.action.status in UNDECIDED for row in self.actions)

    @property
    def orders(self) -> list[dict[str, Any]]:
        return list((self.draft.facts or {}).get("orders") or [])

    @property
    def unknown_orders(self) -> list[str]:
        return list((self.draft.facts or {}).get("unknown_orders") or [])


def _cards(
    drafts: list[Draft], activity: list[AuditLog], auto_sent: dict[str, AutoSent]
) -> list[DraftCard]:
    latest: dict[Any, AuditLog] = {}
    for row in activity:  # newest first
        latest.setdefault(row.draft_id, row)
    return [DraftCard(d, latest.get(d.pk), auto_sent.get(str(d.pk))) for d in drafts]


def _shown_drafts(conversation: Conversation) -> list[Draft]:
    """Every open draft, oldest first; with none open, the most recent one (read-only)."""
    drafts = (
        Draft.objects.filter(conversation=conversation)
        .select_related("message", "reviewed_by")
        .prefetch_related("actions__decided_by")
    )
    open_drafts = list(drafts.needing_human().order_by("created_at"))
    if open_drafts:
        return open_drafts
    return list(drafts.order_by("-created_at")[:1])


def next_in_queue(conversation_id: Any) -> Draft | None:
    """The first draft of another conversation after this one's in queue order, wrapping
    around to the top (so n, n, n walks the whole queue instead of bouncing between two)."""
    open_drafts: DraftQuerySet = Draft.objects.needing_human()
    others = open_drafts.exclude(conversation_id=conversation_id)
    here = open_drafts.filter(conversation_id=conversation_id).in_queue_order().first()
    if here is not None:
        after = others.after_in_queue(here).in_queue_order().only("id", "conversation_id")
        if found := after.first():
            return found
    return others.in_queue_order().only("id", "conversation_id").first()


@dataclass
class ConversationScreen:
    conversation: Conversation
    messages: list[Message]
    cards: list[DraftCard]
    activity: list[AuditLog]
    next_draft: Draft | None
    customer_timeline: CustomerTimeline
    tasks: dict[str, Any]  # support/console/tasks.py: conversation_tasks
    auto_sent: dict[str, AutoSent]  # draft id -> how it was sent alone (#29)

    @classmethod
    def load(cls, conversation_id: Any) -> ConversationScreen:
        """Conversation.DoesNotExist if there is none."""
        conversation = Conversation.objects.select_related("customer").get(pk=conversation_id)
        messages = list(
            Message.objects.filter(conversation=conversation)
            .select_related("author", "delivery", "email")
            # An e-mail's files (the customer's); no query per message for the others.
            .prefetch_related("attachments", "attachments__reading")
        )
        activity = list(
            AuditLog.objects.filter(conversation=conversation).order_by("-created_at", "-id")[
                :ACTIVITY_ROWS
            ]
        )
        auto_sent = auto_sent_marks(conversation.pk)
        for (
            message
        ) in messages:  # the timeline marks each reply sent alone (templates: no dict[key])
            if message.automated:
                draft_id = (message.metadata or {}).get("draft_id", "")
                message.auto_sent = auto_sent.get(draft_id, AutoSent())  # type: ignore[attr-defined]
        cards = _cards(_shown_drafts(conversation), activity, auto_sent)
        return cls(
            conversation,
            messages,
            cards,
            activity,
            next_in_queue(conversation.pk),
            CustomerTimeline.load(conversation),
            conversation_tasks(conversation),
            auto_sent,
        )

    def context(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation,
            "timeline": self.messages,
            "cards": self.cards,
            "activity": self.activity,
            "auto_sent": self.auto_sent,
            "next_draft": self.next_draft,
            "customer_timeline": self.customer_timeline,
            **self.tasks,
            # Verification is per message: the head shows the latest customer message's.
            "latest_customer_message": next(
                (m for m in reversed(self.messages) if m.role == MessageRole.CUSTOMER), None
            ),
            "reject_categories": RejectCategory.choices,
            # What an agent may re-label a draft as (the KB's taxonomy).
            "intents": sorted(taxonomy()),
        }
