"""What humans do with drafts and conversations: approve (optionally edited), reject, escalate,
reprocess, write to the customer, resolve the conversation.

Each action locks the draft row (SELECT ... FOR UPDATE), checks its status, changes it, writes
the audit rows and announces the change, all in one transaction: two agents approving the same
draft at once get one SENT draft and one 409, never two customer replies."""

from __future__ import annotations

import difflib
import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from knowledge.taxonomy import taxonomy
from resolver.audit_actor import Actor, ActorType
from resolver.errors import ClientError
from resolver.events import EventType, make_event
from support import outbound
from support.actions import text as action_text
from support.actions.decide import reject_undecided
from support.announce import announce_draft, broadcast
from support.autonomy import evidence, ladder
from support.inbound import enqueue_and_announce
from support.memory import summarise_later
from support.models import (
    AuditAction,
    AuditLog,
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    Message,
    MessageRole,
    RejectCategory,
)
from support.models.draft import (
    CLOSED_BY_ERASURE as CLOSED_BY_ERASURE,  # re-exported: callers name review's reasons
)
from support.models.draft import (
    CLOSED_BY_RESOLVE,
    DRAFT_CLAIM_LEASE,
    OPEN_STATUSES,
    SUPERSEDED,
)
from support.observers import (
    OBSERVE_DRAFT_ACTOR,
    OBSERVE_RELABEL_ACTOR,
    OBSERVE_REPLY_ACTOR,
    UPDATE_AUTONOMY_ACTOR,
    learn_later,
)
from support.vocabulary import CloseReason, DemotionReason, ReviewVerdict

logger = logging.getLogger(__name__)

# A human may act on a draft until it is sent or rejected (OPEN_STATUSES): PENDING included, so
# nobody has to wait for the agent to answer an urgent customer. The reasons the system closes
# one unanswered (SUPERSEDED, CLOSED_BY_*) are support/models/draft.py's.


# Who may judge a draft for autonomy's evidence (support/autonomy/evidence.py).
PEOPLE = (ActorType.USER, ActorType.API_KEY)


class ReviewError(ClientError):
    """An action a draft's state does not allow (422), or another agent's change won (409)."""


class Conflict(ReviewError):
    status_code = 409
    code = "conflict"


def word_edit_distance(before: str, after: str) -> int:
    """Words inserted, deleted or replaced between the draft and what was sent (difflib's
    opcodes: linear enough for 32 KB bodies, unlike a full Levenshtein matrix)."""
    matcher = difflib.SequenceMatcher(None, before.split(), after.split(), autojunk=False)
    return sum(
        max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"
    )


def _snapshot(draft: Draft) -> dict[str, Any]:
    return {"status": draft.status, "escalation_reason": draft.escalation_reason or None}


def _audit(draft: Draft, actor: Actor, action: str, before: Any, after: Any, **meta: Any) -> None:
    AuditLog.objects.record(
        actor,
        action,
        conversation_id=draft.conversation_id,
        draft_id=draft.pk,
        message_id=draft.message_id,
        before=before,
        after=after,
        **meta,
    )


def _lock_open(draft_id: Any) -> Draft:
    """The draft, locked; Draft.DoesNotExist if there is none, Conflict if it is closed."""
    draft = Draft.objects.select_for_update().get(pk=draft_id)
    if draft.status not in OPEN_STATUSES:
        raise Conflict(f"the draft is already {draft.status}")
    return draft


def _mark_reviewed(draft: Draft, actor: Actor, status: str) -> None:
    draft.status = status
    draft.reviewed_by = actor.user
    draft.reviewed_at = timezone.now()
    draft.run_started_at = None


def _agent_message(
    conversation_id: Any,
    actor: Actor,
    text: str,
    automated: bool = False,
    draft: Draft | None = None,
    **metadata: str,
) -> Message:
    """A message to the customer: stored, the conversation bumped, and handed to the outbound
    seam (support/outbound/), which delivers it by the conversation's channel after commit.
    `draft`: the draft it sends (its rating is evidence about that draft)."""
    if draft is not None:
        metadata["draft_id"] = str(draft.pk)
    reply = Message.objects.create(
        conversation_id=conversation_id,
        role=MessageRole.AGENT,
        body=text,
        author=actor.user,
        automated=automated,
        draft=draft,
        metadata={**metadata, "actor": actor.label},
    )
    Conversation.objects.filter(pk=conversation_id).update(
        last_message_at=reply.created_at, updated_at=reply.created_at
    )
    outbound.queue_reply(reply)
    return reply


def _send(
    draft: Draft, actor: Actor, text: str, automated: bool = False, offered: str | None = None
) -> Message:
    """The draft's reply goes out (as `text`) and the draft is SENT. `offered`: the answer as
    the reviewer was given it to send, when it is not the draft's own (an action that did not
    happen says its fallback sentence): the words the person changed are counted from it, so a
    fallback the system put in is not their edit (the autonomy evidence, the edit rate)."""
    reply = _agent_message(draft.conversation_id, actor, text, automated=automated, draft=draft)
    judged = evidence.is_suggestion(draft) and actor.actor_type in PEOPLE
    offered = draft.answer if offered is None else offered
    _mark_reviewed(draft, actor, DraftStatus.SENT)
    draft.sent_text = text
    draft.edit_distance = word_edit_distance(offered, text)
    draft.automated = automated
    if judged and not automated:
        draft.review_verdict = evidence.judge(draft.status, offered, draft.edit_distance)
    draft.save()
    return reply


def _decided_actions(draft: Draft) -> list[Any]:
    """The draft's actions, once none may still change things: Conflict while one is proposed
    or executing (the reply would state what has not happened yet)."""
    actions = list(draft.actions.all())
    if any(action.status in action_text.UNDECIDED for action in actions):
        raise Conflict("decide the actions first: one is still proposed or executing")
    return actions


def approve(
    draft_id: Any, actor: Actor, edited: str | None = None, basis: str | None = None
) -> Draft:
    """Sends the draft (or `edited`); each of its actions that was rejected or failed has its
    confirmation sentence replaced by its fallback in what is sent. `basis`: the answer_digest
    of the answer the agent read and edited; refused (409) if the answer changed since, as
    deciding an action does (its sentence restated with the amount approved): the agent's text
    would state the old one, and settle() could not find the new sentence to take back."""
    with transaction.atomic():
        draft = _lock_open(draft_id)
        if basis is not None and basis != draft.answer_digest:
            raise Conflict(
                "the answer changed since you read it (an action was decided): check the new"
                " answer, then approve"
            )
        actions = _decided_actions(draft)
        answer = action_text.settle(draft.answer, actions)
        text = action_text.settle((edited if edited is not None else answer), actions).strip()
        if not text:
            raise ReviewError("there is no answer to send: pass the reply as 'edited'")
        before = _snapshot(draft)
        if text != answer.strip():
            _audit(draft, actor, AuditAction.EDITED, {"answer": answer}, {"answer": text})
        reply = _send(draft, actor, text, offered=answer)
        _audit(draft, actor, AuditAction.APPROVED, before, _snapshot(draft))
        _audit(draft, actor, AuditAction.SENT, None, {"message_id": str(reply.pk)})
        announce_draft(draft)
        learn_later(OBSERVE_DRAFT_ACTOR, draft.pk)
        _reweigh_later(draft)
    return draft


def _reweigh_later(draft: Draft) -> None:
    """A human judged one of the intent's drafts: its autonomy rung is re-weighed after commit
    (support/autonomy/ladder.py; the periodic sweep catches a lost message)."""
    if draft.intent:
        learn_later(UPDATE_AUTONOMY_ACTOR, draft.intent)


def auto_send(draft_id: Any, canary: bool = False) -> Draft:
    """The auto-send policy (support/autosend.py) sends a SUGGESTED draft as it is, unless its
    recipient already had as many automatic e-mails this hour as AUTO_REPLY_LIMIT_PER_HOUR
    allows: then it stays SUGGESTED for a human, and the audit trail says why."""
    with transaction.atomic():
        draft = _lock_open(draft_id)
        if draft.status != DraftStatus.SUGGESTED:
            raise Conflict(f"only SUGGESTED drafts are sent automatically, not {draft.status}")
        if draft.actions.exists():
            # An action waits for a human (money always does): so does the reply stating it.
            raise Conflict("a draft with actions is never sent automatically")
        before = _snapshot(draft)
        actor = Actor.auto_send()
        if not outbound.may_auto_reply(draft.conversation_id, draft.message_id):
            _audit(draft, actor, AuditAction.AUTO_SEND_HELD, before, before)
            return draft
        reply = _send(draft, actor, draft.answer.strip(), automated=True)
        after = {**_snapshot(draft), "message_id": str(reply.pk)}
        _audit(
            draft,
            actor,
            AuditAction.AUTO_SENT,
            before,
            after,
            confidence=draft.confidence,
            intent=draft.intent,
            canary=canary,  # sent during its intent's canary (support/autosend.py)
        )
        announce_draft(draft)
    return draft


def write_to_customer(conversation_id: Any, actor: Actor, text: str) -> Message:
    """A message an agent types outside any draft (a follow-up, a correction)."""
    text = text.strip()
    if not text:
        raise ReviewError("the message is empty")
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        reply = _agent_message(conversation.pk, actor, text)
        AuditLog.objects.record(
            actor,
            AuditAction.SENT,
            conversation_id=conversation.pk,
            message_id=reply.pk,
            after={"message_id": str(reply.pk)},
        )
        event = make_event(
            EventType.MESSAGE_SENT, message_id=reply.pk, conversation_id=conversation.pk
        )
        transaction.on_commit(partial(broadcast, event))
        learn_later(OBSERVE_REPLY_ACTOR, reply.pk)
    return reply


def reject(draft_id: Any, actor: Actor, reason: str = "", category: str = "") -> Draft:
    """`category`: one of RejectCategory ("" = not given)."""
    if category and category not in RejectCategory.values:
        raise ReviewError(f"category must be one of {', '.join(RejectCategory.values)}")
    with transaction.atomic():
        draft = _lock_open(draft_id)
        before = _snapshot(draft)
        # A person's verdict (a user, or an integration's key acting for one), on a suggestion.
        judged = evidence.is_suggestion(draft) and actor.actor_type in PEOPLE
        _mark_reviewed(draft, actor, DraftStatus.REJECTED)
        if judged:
            draft.review_verdict = ReviewVerdict.REJECTED
        draft.reject_reason = reason.strip()
        draft.reject_category = category
        draft.save()
        reject_undecided(draft.pk, actor, "the draft was rejected")
        after = {**_snapshot(draft), "reason": reason}
        if category:
            after["category"] = category
        _audit(draft, actor, AuditAction.REJECTED, before, after)
        # A human rejected a suggestion of an auto intent at or above its threshold: taken back
        # to review at once (the draft is locked first, then the intent's row: the order
        # auto-send takes them in); ladder.demote applies policy.take_back_on_review.
        ladder.demote_for_draft(draft, DemotionReason.REJECTED, actor)
        announce_draft(draft)
        learn_later(OBSERVE_DRAFT_ACTOR, draft.pk)  # "incorrect", "outdated", "policy" teach
        _reweigh_later(draft)
    return draft


def correct(draft_id: Any, actor: Actor, text: str) -> Message:
    """An agent corrects a reply sent without a human, after the fact: the correction goes to
    the customer through the one outbound seam, the audit trail records it against the draft,
    and the draft's intent is taken back to review (CORRECTED)."""
    text = text.strip()
    if not text:
        raise ReviewError("the correction is empty")
    with transaction.atomic():
        draft = Draft.objects.select_for_update().get(pk=draft_id)
        if draft.status != DraftStatus.SENT or not draft.automated:
            raise Conflict("only a reply sent automatically is corrected: send a message instead")
        reply = _agent_message(draft.conversation_id, actor, text, corrects_draft=str(draft.pk))
        after = {"message_id": str(reply.pk), "corrects": draft.sent_text}
        _audit(draft, actor, AuditAction.CORRECTED, None, after)
        ladder.demote_for_draft(draft, DemotionReason.CORRECTED, actor)
        event = make_event(
            EventType.MESSAGE_SENT, message_id=reply.pk, conversation_id=draft.conversation_id
        )
        transaction.on_commit(partial(broadcast, event))
    return reply


def relabel(draft_id: Any, actor: Actor, intent: str, category: str = "") -> Draft:
    """A human corrects the triage of a finished draft: the intent must be one the KB's
    taxonomy knows; the category defaults to the intent's. The learning loop gathers re-labels
    into triage examples."""
    known = taxonomy()
    if intent not in known:
        raise ReviewError(f"unknown intent {intent!r}: use one of the knowledge base's intents")
    category = category or known[intent]
    if category not in set(known.values()):
        raise ReviewError(f"unknown category {category!r}")
    with transaction.atomic():
        draft = Draft.objects.select_for_update().get(pk=draft_id)
        if draft.status == DraftStatus.PENDING:
            # The run would overwrite the label (and teach the model its own guess).
            raise Conflict("the draft is still being prepared: re-label it once it is done")
        before = {"intent": draft.intent, "category": draft.category}
        if before == {"intent": intent, "category": category}:
            return draft
        draft.intent, draft.category = intent, category
        draft.save(update_fields=["intent", "category", "updated_at"])
        after = {"intent": intent, "category": category}
        _audit(draft, actor, AuditAction.RELABELLED, before, after)
        # The console shows the new label; webhooks heard of the status already (a SENT
        # draft's draft.sent again would tell an integration to deliver its reply twice).
        announce_draft(draft, to_webhooks=False)
        learn_later(OBSERVE_RELABEL_ACTOR, draft.pk)
    return draft


def escalate(draft_id: Any, actor: Actor) -> Draft:
    """A human hands the conversation to a specialist; the AI's reason, if any, is kept."""
    with transaction.atomic():
        draft = _lock_open(draft_id)
        if draft.status == DraftStatus.ESCALATED:
            raise Conflict("the draft is already ESCALATED")
        before = _snapshot(draft)
        draft.status = DraftStatus.ESCALATED
        draft.run_started_at = None
        draft.save()
        Conversation.objects.escalate(draft.conversation_id)
        _audit(draft, actor, AuditAction.ESCALATED, before, _snapshot(draft))
        announce_draft(draft)
    return draft


def _close_unreviewed(
    draft: Draft, actor: Actor, reason: str, closed: CloseReason, **meta: Any
) -> None:
    """An open draft nobody will act on any more (a reprocess replaced it, or its conversation
    was resolved) is closed; a worker still running it then records nothing. Announced as
    `draft.closed` with the reason: no human judged its answer."""
    before = _snapshot(draft)
    draft.status = DraftStatus.REJECTED
    draft.reject_reason = reason
    draft.run_started_at = None
    draft.save()
    reject_undecided(draft.pk, actor, reason)
    _audit(draft, actor, AuditAction.REJECTED, before, _snapshot(draft), **meta)
    announce_draft(draft, closed=closed)


def _requeue_stuck(draft: Draft, actor: Actor) -> None:
    """A PENDING draft nobody is working on (its enqueue failed, or it was dead-lettered, or its
    worker died) is queued again; one a worker holds is left alone."""
    if draft.run_started_at and draft.run_started_at > timezone.now() - DRAFT_CLAIM_LEASE:
        raise Conflict("a draft for this message is already being prepared")
    # Not queued until the send after commit says so: Redis down, the outbox sweep sends it.
    Draft.objects.filter(pk=draft.pk).update(enqueued_at=None)
    _audit(draft, actor, AuditAction.REPROCESSED, None, {"draft_id": str(draft.pk)}, requeued=True)


def reprocess(message_id: Any, actor: Actor) -> Draft:
    """A fresh agent run for a customer message (say, after the KB was fixed). Its open drafts
    are closed as superseded, so the queue never shows two answers to one message."""
    with transaction.atomic():
        message = Message.objects.select_for_update().get(pk=message_id)
        if message.role != MessageRole.CUSTOMER:
            raise ReviewError("only customer messages can be reprocessed")
        drafts = list(
            Draft.objects.select_for_update()
            .filter(message=message)
            .keyed_in_status(*OPEN_STATUSES)
        )
        pending = next((d for d in drafts if d.status == DraftStatus.PENDING), None)
        if pending is not None:
            _requeue_stuck(pending, actor)
            draft = pending
        else:
            for old in drafts:
                _close_unreviewed(old, actor, SUPERSEDED, CloseReason.SUPERSEDED, superseded=True)
            draft = Draft.objects.create(
                message=message,
                conversation_id=message.conversation_id,
                trace_id=message.trace_id,
            )
            _audit(draft, actor, AuditAction.REPROCESSED, None, {"draft_id": str(draft.pk)})
        # Not queued (Redis down): the outbox sweep queues it; the console hears of the PENDING
        # draft through the message.created event either way.
        transaction.on_commit(partial(enqueue_and_announce, message, draft.pk), robust=True)
    return draft


def resolve(conversation_id: Any, actor: Actor) -> Conversation:
    """An agent closes the conversation: its open drafts are closed unanswered, it leaves the
    queue, and it stays RESOLVED until the customer writes again (which reopens it)."""
    with transaction.atomic():
        # Its drafts before the conversation: the order auto-send and record_outcome lock in
        # (support/autosend.py), so a send in flight finishes first instead of deadlocking.
        open_drafts = list(
            Draft.objects.select_for_update()
            .filter(conversation_id=conversation_id)
            .keyed_in_status(*OPEN_STATUSES)
            .order_by("created_at", "pk")
        )
        conversation = Conversation.objects.select_for_update().get(pk=conversation_id)
        if conversation.status == ConversationStatus.RESOLVED:
            raise Conflict("the conversation is already RESOLVED")
        # A customer message stored while this waited for the conversation's lock (its draft
        # committed after the drafts above were read) would be left unanswered in a resolved
        # conversation: the agent sees it first. Read only: locking it now would take the locks
        # in the other order.
        seen = [draft.pk for draft in open_drafts]
        arrived = Draft.objects.filter(conversation_id=conversation_id).exclude(pk__in=seen)
        if arrived.keyed_in_status(*OPEN_STATUSES).exists():
            raise Conflict("the customer wrote again meanwhile: read the new message first")
        before = {"status": conversation.status}
        for draft in open_drafts:
            _close_unreviewed(draft, actor, CLOSED_BY_RESOLVE, CloseReason.RESOLVED, resolved=True)
        conversation.status = ConversationStatus.RESOLVED
        conversation.resolved_at = timezone.now()
        conversation.save(update_fields=["status", "resolved_at", "updated_at"])
        AuditLog.objects.record(
            actor,
            AuditAction.RESOLVED,
            conversation_id=conversation.pk,
            before=before,
            after={"status": conversation.status},
        )
        event = make_event(EventType.CONVERSATION_RESOLVED, conversation_id=conversation.pk)
        transaction.on_commit(partial(broadcast, event))
        # What a later draft for the same verified customer will see of it (support/memory.py).
        summarise_later(conversation.pk)
    return conversation
