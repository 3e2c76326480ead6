"""Receiving a customer message: persist first (conversation, message, PENDING draft, audit),
then enqueue the agent run after commit. A message is never lost: if the queue is down the
rows exist and the draft stays PENDING for a reprocess."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone

from resolver.audit_actor import Actor
from resolver.broker import send_to_actor
from resolver.errors import ClientError
from resolver.events import EventType, make_event
from resolver.pipeline import pipelined
from resolver.tracing import joined, new_trace_id
from support.announce import broadcast
from support.autonomy import ladder
from support.customers import (
    REF_VERIFICATIONS,
    is_thread_customer,
    link,
    verified_customer,
)
from support.models import (
    AuditAction,
    AuditLog,
    Channel,
    Conversation,
    CustomerRating,
    Draft,
    DraftStatus,
    Message,
    MessageRole,
)
from support.observers import REWEIGH_ACTOR, UPDATE_AUTONOMY_ACTOR, learn_later
from support.vocabulary import DemotionReason, Verification

logger = logging.getLogger(__name__)

# The agent worker's actor for message.created (agents/actors.py registers it under these).
AGENT_RUN_ACTOR = "process_message"
AGENT_RUN_QUEUE = "drafts"


def _conversation(
    conversation: Conversation | None,
    customer_ref: str,
    channel: str,
    subject: str = "",
    verified_by: str = "",
) -> tuple[Conversation, str]:
    """The given conversation, or a new one (unsaved) for `customer_ref`, and how this
    message's sender is verified AS that conversation's customer. Linked to a Customer only when
    this message's sender is verified (support/customers.py): the sender's identity is
    `customer_ref` (an e-mail's From, an API caller's ref), else the conversation's own (a
    widget's ref, verified when it started). A verified sender who is someone else than the
    customer the conversation is linked to (a colleague in Cc writing into the thread) vouches
    for nobody here: stored unverified, so their draft gets none of that customer's orders or
    memory."""
    if conversation is None:
        if customer_ref and verified_by not in REF_VERIFICATIONS:
            # Verified by this very ref, verified_customer takes the lock itself: taking it here
            # too would be one more round trip per message for a lock already held.
            Conversation.objects.lock_customer(customer_ref)
        customer = verified_customer(verified_by, customer_ref)
        new = Conversation(
            customer_ref=customer_ref, customer=customer, channel=channel, subject=subject
        )
        return new, verified_by
    if not verified_by:
        return conversation, verified_by
    identity = customer_ref or conversation.customer_ref
    if conversation.customer_id is None:
        # Not linked yet (its first message unverified): only the thread's own customer may link
        # it; anyone else verified in it (a Cc'd colleague) would pour it into their history.
        if not is_thread_customer(verified_by, identity, conversation.customer_ref):
            return conversation, Verification.NONE
        link(conversation, verified_customer(verified_by, identity))
        return conversation, verified_by
    sender = verified_customer(verified_by, identity)
    if sender is None or sender.pk != conversation.customer_id:
        return conversation, Verification.NONE
    return conversation, verified_by


def receive_message(
    body: str,
    *,
    conversation: Conversation | None = None,
    customer_ref: str = "",
    channel: str = Channel.API,
    enqueue: bool = True,
    verified_by: str = "",
) -> tuple[Message, Draft]:
    message, draft = store_message(
        body,
        conversation=conversation,
        customer_ref=customer_ref,
        channel=channel,
        enqueue=enqueue,
        verified_by=verified_by,
    )
    if draft is None:  # only a message stored as ignored has none
        raise AssertionError("a customer message that is not ignored gets a draft")
    return message, draft


def store_message(
    body: str,
    *,
    conversation: Conversation | None = None,
    customer_ref: str = "",
    channel: str = Channel.API,
    enqueue: bool = True,
    subject: str = "",
    ignored_reason: str = "",
    verified_by: str = "",
) -> tuple[Message, Draft | None]:
    """The one way a customer message is stored, whatever the door (API, widget, e-mail): its
    conversation (a new one with `customer_ref`, `channel` and `subject` when none is given),
    the message, and a PENDING draft queued after commit; or, with `ignored_reason`
    (IgnoredReason), the message alone: stored and shown, never drafted. `verified_by`
    (Verification): how the door verified this message's sender ("" = unverified)."""
    # No savepoint when nested (the API's idempotency transaction): a failure here aborts the
    # caller's transaction anyway, and a savepoint is two more round trips per message.
    with transaction.atomic(savepoint=False):
        conversation, verified_by = _conversation(
            conversation, customer_ref, channel, subject, verified_by
        )
        # The writes below need no answer until the audit row's id: sent as one pipeline, they
        # cost one round trip to PostgreSQL instead of four.
        with pipelined():
            if conversation._state.adding:
                conversation.last_message_at = timezone.now()
                conversation.save()
            else:
                Conversation.objects.touched(conversation.pk, reopen=not ignored_reason)
            trace_id = new_trace_id()
            message = Message.objects.create(
                conversation=conversation,
                role=MessageRole.CUSTOMER,
                body=body,
                trace_id=trace_id,
                ignored_reason=ignored_reason,
                verified_by=verified_by,
            )
            if ignored_reason:
                AuditLog.objects.record(
                    Actor.customer(),
                    AuditAction.CREATED,
                    conversation_id=conversation.pk,
                    message_id=message.pk,
                    after={"message_id": str(message.pk), "ignored_reason": ignored_reason},
                )
                return message, None
            # enqueue=False: the caller runs the draft itself (CLI, evals): nothing for the outbox.
            draft = Draft.objects.create(
                message=message,
                conversation=conversation,
                enqueued_at=None if enqueue else timezone.now(),
                trace_id=trace_id,
            )
            AuditLog.objects.record(
                Actor.customer(),
                AuditAction.CREATED,
                conversation_id=conversation.pk,
                message_id=message.pk,
                draft_id=draft.pk,
                after={"message_id": str(message.pk), "draft_id": str(draft.pk)},
            )
        if enqueue:
            # A Redis outage must not turn a committed message into a 500 (and a retried,
            # duplicated message): the draft stays PENDING without `enqueued_at` and the outbox
            # sweep queues it once Redis is back.
            transaction.on_commit(partial(enqueue_and_announce, message, draft.pk), robust=True)
    return message, draft


def message_created(message: Message) -> dict[str, Any]:
    """The message.created event of a stored customer message (schema-validated)."""
    # Ids only (schema version 2): the worker reads the message from PostgreSQL, so customer
    # text never sits in Redis, in Dramatiq's failure logs or in dead letters.
    return make_event(
        EventType.MESSAGE_CREATED,
        trace_id=message.trace_id or None,
        message_id=message.pk,
        conversation_id=message.conversation_id,
    )


def enqueue_message(message: Message, draft_id: Any) -> dict[str, Any]:
    """Sends message.created to the agent worker (by actor name: support never imports the
    agent) and notes that the run of `message`'s PENDING draft `draft_id` reached the queue;
    returns the event. Raises when Redis is down: the draft stays PENDING with no `enqueued_at`
    and the outbox sweep sends it later."""
    event = message_created(message)
    _send(message, draft_id, event)
    return event


def _send(message: Message, draft_id: Any, event: dict[str, Any]) -> None:
    # Queued again by the outbox sweep or a reprocess, the run still joins the message's trace.
    with joined(event["trace_id"]):
        send_to_actor(
            AGENT_RUN_ACTOR, AGENT_RUN_QUEUE, str(message.pk), event["event_id"], event=event
        )
    # By its key (Draft.keyed_in_status): a backlog of PENDING drafts is not read per message.
    Draft.objects.filter(pk=draft_id).keyed_in_status(DraftStatus.PENDING).update(
        enqueued_at=timezone.now()
    )


def enqueue_and_announce(message: Message, draft_id: Any) -> None:
    """After commit: queue the run of `message`'s PENDING draft `draft_id` (or leave it to the
    outbox sweep when Redis is down) and tell the console about it through the same
    message.created event."""
    event = message_created(message)
    try:
        _send(message, draft_id, event)
    except Exception:
        logger.warning("message %s not queued; the outbox sweep will", message.pk, exc_info=True)
    broadcast(event)


class NothingToRate(ClientError):
    status_code = 409
    code = "nothing_to_rate"


def rate_reply(conversation_id: Any, score: int, comment: str = "") -> CustomerRating:
    """The customer rates the latest agent reply of their conversation (again: the rating
    changes). 409 when no agent has replied yet."""
    with transaction.atomic():
        reply = (
            Message.objects.filter(conversation_id=conversation_id, role=MessageRole.AGENT)
            .order_by("-created_at", "-id")
            .first()
        )
        if reply is None:
            raise NothingToRate("no agent has replied yet: there is nothing to rate")
        rating, _ = CustomerRating.objects.update_or_create(
            message=reply,
            defaults={
                "conversation_id": conversation_id,
                "score": score,
                "comment": comment.strip(),
            },
        )
        AuditLog.objects.record(
            Actor.customer(),
            AuditAction.RATED,
            conversation_id=conversation_id,
            message_id=reply.pk,
            after={"score": score, "comment": bool(comment.strip())},
        )
        learn_later(REWEIGH_ACTOR, conversation_id)  # the proposals it is a source of move
        draft = Draft.objects.filter(pk=reply.draft_id).first() if reply.draft_id else None
        if draft is not None:
            if score < 0 and draft.automated:
                # A 👎 on a reply sent without a human: its intent back to review at once.
                ladder.demote_for_draft(draft, DemotionReason.THUMBS_DOWN, Actor.customer())
            if draft.intent:
                # Any rating of a drafted reply is evidence (a 👎 on one a person sent turns it
                # bad): its intent is re-weighed after commit, not at the next sweep.
                learn_later(UPDATE_AUTONOMY_ACTOR, draft.intent)
    return rating
