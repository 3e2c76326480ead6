"""An agent run's writes on its Draft row, the support actions the worker (agents/runner.py)
calls around the pure graph (zulip-style: lock, write, audit in one transaction, notify after
commit):

- claim_draft / release_draft: a worker takes a PENDING draft with a conditional UPDATE (a lease,
  taken over early when the holder's heartbeat stopped), and gives it back when it stops short;
- record_outcome: what the graph decided (support/outcome.py:DraftOutcome) reaches the draft
  row, with the processed-event row that makes a redelivery a no-op, the conversation's
  escalation, the audit row and, after commit, the announcement (console, widget, webhooks) and
  auto-send, where the intent earned it (support/autosend.py);
- unsaved_draft: the Draft object of an outcome that is not stored (the `draft` command).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from resolver.audit_actor import Actor
from resolver.events import EventType
from resolver.heartbeat import MISSED_BEATS, is_beating
from resolver.models import ProcessedEvent
from resolver.redis_client import get_redis
from support.actions.propose import record_proposals
from support.announce import announce_draft
from support.autosend import auto_send_if_allowed
from support.models import AuditAction, AuditLog, Conversation, Draft, DraftStatus, Message
from support.models.draft import DRAFT_CLAIM_LEASE
from support.outcome import DraftOutcome
from support.review import ReviewError, reprocess
from support.vocabulary import ActionStatus, EscalationReason, not_drafted_guard

logger = logging.getLogger(__name__)

# Keys of the Draft object that only a stored (and reviewed) draft has. `created_at` is not one:
# CONTRACTS.md lets the CLI leave out ids only, and an unsaved draft was created when it ran.
UNSAVED_KEYS = (
    "id",
    "message_id",
    "conversation_id",
    "reviewed_at",
    "sent_text",
    "reject_reason",
    "reject_category",
)


def unsaved_draft(outcome: DraftOutcome) -> dict[str, Any]:
    """The Draft object of CONTRACTS.md for `outcome`, unsaved: the same mapping as a stored
    draft's (Draft.as_wire), without the ids and review fields only a stored draft has (the
    CLI's form)."""
    # The API's form of a date-time (the CLI's JSON would write str(): a space, no "T").
    wire = Draft(**outcome.draft_fields(), created_at=timezone.now()).as_wire()
    wire["created_at"] = wire["created_at"].isoformat()
    for unsaved in UNSAVED_KEYS:
        del wire[unsaved]
    # What it would propose (unchecked here: the graph checked them, record_proposals would again).
    wire["actions"] = [
        {"name": p.get("name"), "arguments": p.get("arguments"), "status": ActionStatus.PROPOSED}
        for p in outcome.actions
    ]
    return wire


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
    # The message and its conversation come with it: the run reads them next (agents/runner.py).
    pending = Draft.objects.filter(message_id=message_id).keyed_in_status(DraftStatus.PENDING)
    # At most one (draft_one_pending_per_message): no order, and none for an index to serve.
    draft = next(iter(pending.select_related("message__conversation").order_by()[:1]), None)
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
    claimable = Draft.objects.filter(condition, pk=draft.pk).keyed_in_status(DraftStatus.PENDING)
    taken = bool(claimable.update(run_started_at=now, run_by=holder, attempts=F("attempts") + 1))
    if taken:  # the claim this run holds: release_draft gives back this one only
        draft.run_started_at, draft.run_by = now, holder
    return taken


def _holder_died(held_since: datetime, held_by: str, now: datetime) -> bool:
    """A worker killed mid-run (SIGKILL, OOM) stops beating: its claim need not wait for the
    lease. A claim younger than the heartbeat's lifetime is never taken (the key may not have
    expired yet); a run outside a worker (no holder) always waits for the lease."""
    grace = timedelta(seconds=settings.WORKER_HEARTBEAT_SECONDS * MISSED_BEATS)
    if not held_by or held_since > now - grace:
        return False
    return not is_beating(get_redis(), held_by)


def release_draft(draft: Draft) -> None:
    """Gives back the claim this run took (claim_draft's draft: the run stopped short); a draft
    recorded meanwhile keeps its outcome, and a claim another run took over since (this one
    outlived its lease) stays that run's: releasing it let a third run start beside it."""
    Draft.objects.filter(
        pk=draft.pk, run_started_at=draft.run_started_at, run_by=draft.run_by
    ).keyed_in_status(DraftStatus.PENDING).update(run_started_at=None, run_by="")


class AlreadyRecorded(Exception):
    """The event was handled before (a redelivery), or the draft is no longer PENDING."""


def _mark_processed(event_id: str) -> None:
    # One round trip: ON CONFLICT DO NOTHING, where an INSERT that may fail needs a savepoint
    # around it (two more round trips per draft, bench/profile_draft.py).
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ProcessedEvent._meta.db_table} (event_id, event_type, processed_at) "
            "VALUES (%s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            [event_id, EventType.MESSAGE_CREATED, timezone.now()],
        )
        inserted = cursor.rowcount
    if not inserted:
        raise AlreadyRecorded(f"event {event_id} was processed before")


def record_outcome(
    draft_id: Any, outcome: DraftOutcome, *, event_id: str = "", trace_id: str = ""
) -> Draft:
    """Writes `outcome` to its PENDING draft. Raises AlreadyRecorded (and writes nothing) when
    the event was processed before or the draft is no longer PENDING."""
    with transaction.atomic():
        draft = Draft.objects.select_for_update().get(pk=draft_id)
        if draft.status != DraftStatus.PENDING:
            raise AlreadyRecorded(f"draft {draft_id} is no longer pending")
        if event_id:
            _mark_processed(event_id)
        fields = outcome.draft_fields()
        if trace_id:
            fields["trace_id"] = trace_id[:64]
        for name, value in fields.items():
            setattr(draft, name, value)
        draft.save(update_fields=[*fields])
        actions = record_proposals(draft, outcome.actions)
        escalated = outcome.escalated
        if escalated:
            Conversation.objects.escalate(draft.conversation_id)
        AuditLog.objects.record(
            Actor.agent(),
            AuditAction.ESCALATED if escalated else AuditAction.SUGGESTED,
            conversation_id=draft.conversation_id,
            draft_id=draft.pk,
            message_id=draft.message_id,
            before={"status": DraftStatus.PENDING},
            after={
                "status": outcome.status,
                "escalation_reason": outcome.escalation_reason,
                "confidence": outcome.confidence,
                "trace": outcome.trace,
                "actions": [{"id": str(a.pk), "name": a.name} for a in actions],
            },
        )
        announce_draft(draft)  # after commit
        if not escalated:
            transaction.on_commit(lambda: _auto_send(draft.pk))
    return draft


def escalate_failed_run(message_id: Any, error: str) -> Draft | None:
    """The run of a message failed for good (its retries spent, a dead letter written): its
    PENDING draft is escalated RUN_FAILED, so the console shows a person must answer (it said
    "The assistant is drafting a reply…" for ever) and the customer is not left waiting on a
    run nobody will make. None when no draft is pending (another run recorded one)."""
    try:
        uuid.UUID(str(message_id))
    except ValueError:
        return None  # no message's id: nothing is owed a draft
    # Not one a run holds (a retry or a reprocess claimed it meanwhile: its outcome stands).
    free = Q(run_started_at__isnull=True) | Q(run_started_at__lt=timezone.now() - DRAFT_CLAIM_LEASE)
    with transaction.atomic():
        draft = (
            Draft.objects.select_for_update()
            .filter(free, message_id=message_id)
            .keyed_in_status(DraftStatus.PENDING)
            .order_by()
            .first()
        )
        if draft is None:
            return None
        return _record_failure(draft, error)


def replay_failed_run(message_id: Any, actor: Actor) -> Draft | None:
    """Admin's replay of a dead-lettered run (DEAD_LETTER_REPLAYS): the message is reprocessed
    (a new PENDING draft, queued after commit, audited as the admin's), as long as its run is
    still owed: its open draft is the run_failed escalation, or still pending. None when a
    person took it over meanwhile (an answer sent, the draft rejected, or the message erased)."""
    try:
        uuid.UUID(str(message_id))
    except ValueError:
        return None
    owed = Draft.objects.filter(message_id=message_id).filter(
        Q(status=DraftStatus.PENDING)
        | Q(status=DraftStatus.ESCALATED, escalation_reason=EscalationReason.RUN_FAILED)
    )
    if not owed.exists():
        return None
    try:
        return reprocess(message_id, actor)
    except (ReviewError, Message.DoesNotExist):
        return None


def _record_failure(draft: Draft, error: str) -> Draft | None:
    outcome = DraftOutcome(
        status=DraftStatus.ESCALATED,
        escalation_reason=EscalationReason.RUN_FAILED,
        triage={},
        answer="",
        citations=[],
        # The Draft keeps 200 characters of it.
        suggested_action=f"Drafting failed ({error[:60]}): answer yourself, or reprocess once "
        "the cause is fixed.",
        confidence=0.0,
        guard=not_drafted_guard(),
        facts={},
        model="",
        prompt_version="",
        tokens=0,
        cost=0.0,
        latency_ms=0,
        trace=["dead_letter"],
    )
    try:
        return record_outcome(draft.pk, outcome)
    except AlreadyRecorded:
        return None


def _auto_send(draft_id: Any) -> None:
    """Auto-send (earned per intent), after commit: the draft is re-read and re-checked under
    a lock, so an agent who acted on it in between wins."""
    try:
        auto_send_if_allowed(Draft.objects.get(pk=draft_id))
    except ReviewError as exc:
        logger.info("draft %s not sent automatically: %s", draft_id, exc)
