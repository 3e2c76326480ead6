"""Decisions that race on one draft or conversation, on the real database with separate
connections: an action approved while its draft is being rejected, a conversation resolved while
the customer's next message is being stored. Each race is made certain by holding the first
transaction open (a pause inside it) while the second starts."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, transaction

from resolver.audit_actor import Actor
from support import review
from support.actions import decide
from support.inbound import receive_message
from support.models import Conversation, ConversationStatus, Draft, DraftStatus, Order
from support.tests.action_fixtures import customer_draft, order_for, propose
from support.vocabulary import ActionStatus

HOLD_SECONDS = 1.0


def test_an_action_is_not_approved_while_its_draft_is_being_rejected(
    transactional_db: None, agent_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = customer_draft()
    order = order_for(draft)
    refund = propose(draft, "refund_order", order_number=order.number, amount=25)
    rejecting = threading.Event()
    original = review.reject_undecided

    def paused(*args: Any) -> int:
        # review.reject has closed the draft (locked) and is about to reject its actions.
        rejecting.set()
        time.sleep(HOLD_SECONDS)
        return original(*args)

    monkeypatch.setattr(review, "reject_undecided", paused)

    def reject() -> None:
        try:
            review.reject(draft.pk, Actor.for_user(agent_user), "wrong customer")
        finally:
            connection.close()

    thread = threading.Thread(target=reject)
    thread.start()
    assert rejecting.wait(10)
    try:
        with pytest.raises(decide.ActionConflict):
            decide.approve(refund.pk, Actor.for_user(agent_user))
    finally:
        thread.join()

    refund.refresh_from_db()
    assert refund.status == ActionStatus.REJECTED
    assert Order.objects.get(pk=order.pk).refunded == Decimal("0.00")


def test_a_conversation_is_not_resolved_over_a_message_being_stored(
    transactional_db: None, agent_user: Any
) -> None:
    draft = customer_draft()
    conversation = draft.conversation
    storing = threading.Event()
    stored: list[Draft] = []

    def customer_writes() -> None:
        try:
            with transaction.atomic():
                stored.append(
                    receive_message(
                        "and my other order?", conversation=conversation, enqueue=False
                    )[1]
                )
                storing.set()
                time.sleep(HOLD_SECONDS)
        finally:
            connection.close()

    thread = threading.Thread(target=customer_writes)
    thread.start()
    assert storing.wait(10)
    try:
        with pytest.raises(review.Conflict, match="wrote again"):
            review.resolve(conversation.pk, Actor.for_user(agent_user))
    finally:
        thread.join()

    conversation.refresh_from_db()
    assert conversation.status != ConversationStatus.RESOLVED
    assert Draft.objects.get(pk=stored[0].pk).status == DraftStatus.PENDING
    # Nothing of it was closed: the agent reads the new message, then resolves.
    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.SUGGESTED
    review.resolve(conversation.pk, Actor.for_user(agent_user))
    assert Conversation.objects.get(pk=conversation.pk).status == ConversationStatus.RESOLVED
