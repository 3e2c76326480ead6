"""The one way a reply reaches a customer: whatever a human or auto-send sends
(support/review.py:_agent_message) goes through `queue_reply`, which dispatches on the
conversation's channel to its transport, one module each:

- `widget.py`: pushed to the open chat widget (no delivery row: the widget reloads the thread);
- `email.py`: an e-mail threaded into the customer's, through Django's EMAIL_BACKEND;
- `webhook.py`: the `reply.sent` event to the API integration's webhook endpoints.

A delivered reply has a ReplyDelivery row, written in the transaction that stores the message
(queued), sent after commit (the `deliver_reply` actor for e-mail, the webhook outbox for the
API), retried with backoff, `failed` and dead-lettered after the last attempt, queued again by the
outbox sweep when its queue message was lost, and shown on the message (API, console, live).
A new channel is a transport module here with a `queue(message, conversation)` function."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from support.autonomy.ladder import drafted_intent
from support.autonomy.switch import still_sends_alone
from support.models import Channel, Conversation, Message, ReplyDelivery, ReplyDeliveryStatus
from support.outbound import email, webhook, widget
from support.outbound.deliveries import (
    NOT_SENT_ERASED,
    backoff,
    error_text,
    mark_failed,
    mark_retry,
    mark_sent,
    requeue,
)
from support.outbound.limits import take_auto_reply

Transport = Callable[[Message, Conversation], ReplyDelivery | None]

TRANSPORTS: dict[str, Transport] = {
    Channel.WIDGET: widget.queue,
    Channel.API: webhook.queue,
    Channel.EMAIL: email.queue,
}
# Channels whose deliveries the `deliver_reply` actor sends (the API's go through the webhook
# outbox, which has its own actor and sweep).
SENDERS: dict[str, Callable[[Message], None]] = {Channel.EMAIL: email.send}
PERMANENT: dict[str, Callable[[BaseException], bool]] = {Channel.EMAIL: email.is_permanent}
# A queue message may arrive a little before the row's own time.
DUE_SLACK = timedelta(seconds=1)


def queue_reply(message: Message) -> ReplyDelivery | None:
    """Call inside the transaction that created the AGENT message: its delivery (if its channel
    has one) is written now and sent after commit. Returns the delivery row, or None."""
    conversation = Conversation.objects.get(pk=message.conversation_id)
    return TRANSPORTS[conversation.channel](message, conversation)


def may_auto_reply(conversation_id: Any, answering: Any = None) -> bool:
    """Whether auto-send may answer now: an automatic e-mail counts against its
    recipient's hourly limit (limits.py: the sender of `answering`, the customer message the
    draft answers); other channels answer whoever asked, once."""
    conversation = Conversation.objects.get(pk=conversation_id)
    if conversation.channel != Channel.EMAIL:
        return True
    address = email.recipient(conversation, answering)
    return not address or take_auto_reply(address)


def attempt(message_id: Any) -> timedelta | None:
    """One try at a queued, due delivery; the delay before the next try, or None (sent, failed
    for good, not due yet, or another worker is sending it).

    The row stays locked (FOR UPDATE) while the mail goes out and is marked sent in the same
    transaction: a second worker skips it, and a delivery marked sent is never sent again. A
    crash after the server accepted the mail and before that commit leaves it queued, and it is
    sent again (README, "Replies")."""
    with transaction.atomic():
        delivery = (
            ReplyDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                pk=message_id,
                status=ReplyDeliveryStatus.QUEUED,
                channel__in=list(SENDERS),
                next_attempt_at__lte=timezone.now() + DUE_SLACK,
            )
            .first()
        )
        if delivery is None:
            return None
        message = Message.objects.select_related("draft").get(pk=delivery.pk)
        if held := held_auto_reply(message):
            mark_failed(delivery, message.conversation_id, delivery.attempts, held)
            return None
        attempts = delivery.attempts + 1
        try:
            SENDERS[delivery.channel](message)
        except Exception as exc:
            return _failed(delivery, message, attempts, exc)
        mark_sent(delivery, message.conversation_id, attempts)
    return None


HELD = (
    "held: auto-send was stopped (or this intent taken back to review) before this automatic"
    " reply was delivered; answer the customer yourself"
)


def held_auto_reply(message: Message) -> str:
    """Why an automatic reply must not go out now ("" when it may): a lead who stops auto-send
    during an outage must not see the queued wrong answers delivered once the mail server is
    back. A replayed dead letter is held the same way until auto-send is on again."""
    if not message.automated or message.draft is None:
        return ""
    return "" if still_sends_alone(drafted_intent(message.draft)) else HELD


def _failed(
    delivery: ReplyDelivery, message: Message, attempts: int, exc: Exception
) -> timedelta | None:
    error = error_text(exc)
    permanent = PERMANENT[delivery.channel](exc)
    if permanent or attempts >= settings.EMAIL_DELIVERY_MAX_ATTEMPTS:
        mark_failed(delivery, message.conversation_id, attempts, error)
        return None
    delay = backoff(attempts, settings.EMAIL_DELIVERY_BACKOFF_SECONDS)
    mark_retry(delivery, message.conversation_id, attempts, error, delay)
    return delay


def retry(message_id: Any) -> ReplyDelivery | None:
    """A failed delivery queued again with fresh attempts (a dead letter replayed, the admin's
    action); the delivery, or None when it was not failed. One the `deliver_reply` actor sends
    (`channel in SENDERS`) is the caller's to queue; the API's webhook deliveries are queued
    here, after commit."""
    with transaction.atomic():
        delivery = (
            ReplyDelivery.objects.select_for_update()
            .select_related("message")
            .filter(pk=message_id, status=ReplyDeliveryStatus.FAILED)
            .exclude(last_error=NOT_SENT_ERASED)
            .first()
        )
        if delivery is None:
            return None
        conversation_id = delivery.message.conversation_id
        if delivery.channel in SENDERS:
            requeue(delivery, conversation_id)
        elif not webhook.retry(delivery, conversation_id):
            return None
    return delivery
