"""Auto-send, earned per intent (support/autosend.py): only SUGGESTED drafts of an intent on the
`auto` rung, with AUTONOMY_ENABLED on, confident enough for the intent's calibrated threshold,
guard clean, without actions, mismatching documents or an escalated conversation, and from a
verified sender when AUTONOMY_CUSTOMERS=verified. Everything else waits for a human."""

from __future__ import annotations

from typing import Any

import pytest

from agents.actors import process_message
from support.autonomy.evidence import canary_pick
from support.autosend import auto_send_if_allowed
from support.inbound import message_created, receive_message
from support.models import (
    AuditLog,
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    IntentAutonomy,
    Message,
    MessageRole,
)
from support.tests.action_fixtures import customer_draft, order_for, propose
from support.tests.autonomy_fixtures import make_auto, reload
from support.tests.conftest import MakeDraft
from support.vocabulary import Verification

pytestmark = pytest.mark.django_db
MISMATCH = {"field": "amount", "document": "EUR 59.00", "record": "EUR 49.00"}


def _agent_replies(draft: Draft) -> int:
    return Message.objects.filter(
        conversation_id=draft.conversation_id, role=MessageRole.AGENT
    ).count()


def test_a_qualifying_draft_is_sent_and_marked_automated(
    make_draft: MakeDraft, settings: Any
) -> None:
    make_auto("track_order", settings, min_confidence=0.7)
    draft = make_draft(confidence=0.8)
    assert auto_send_if_allowed(draft) is True
    draft = reload(draft)
    assert (draft.status, draft.automated, draft.sent_text) == ("SENT", True, draft.answer)
    reply = Message.objects.get(conversation_id=draft.conversation_id, role=MessageRole.AGENT)
    assert (reply.automated, reply.author, reply.body) == (True, None, draft.answer)
    audit = AuditLog.objects.filter(draft=draft).order_by("created_at", "id").last()
    assert audit is not None
    assert (audit.actor, audit.action) == ("system:auto-send", "auto_sent")
    assert audit.metadata == {"confidence": 0.8, "intent": "track_order", "canary": False}


@pytest.mark.parametrize(
    ("rung", "fields"),
    [
        (None, {}),  # no rung: every intent starts in review
        ({"mode": "review"}, {}),
        ({"allowed": False}, {}),  # the team switched it off
        ({"min_confidence": 0.81}, {}),  # below the intent's calibrated threshold
        ({}, {"guard": {"grounded": True, "tone": True, "policy": False, "reasons": ["x"]}}),
        ({}, {"status": "ESCALATED", "escalation_reason": "low_confidence"}),
        ({}, {"intent": "get_refund"}),  # another intent's rung
        ({}, {"escalated_conversation": True}),
        ({}, {"context": {"documents": [{"mismatches": [MISMATCH]}]}}),
    ],
)
def test_everything_else_waits_for_a_human(
    make_draft: MakeDraft, settings: Any, rung: dict[str, Any] | None, fields: dict[str, Any]
) -> None:
    if rung is not None:
        make_auto("track_order", settings, **{"min_confidence": 0.5, **rung})
    settings.AUTONOMY_ENABLED = True
    escalate = fields.pop("escalated_conversation", False)
    draft = make_draft(confidence=0.8, **fields)
    if escalate:
        Conversation.objects.filter(pk=draft.conversation_id).update(
            status=ConversationStatus.ESCALATED
        )
    assert auto_send_if_allowed(draft) is False
    assert reload(draft).status == fields.get("status", "SUGGESTED")
    assert _agent_replies(draft) == 0


def test_autonomy_disabled_sends_nothing_whatever_the_rung(
    make_draft: MakeDraft, settings: Any
) -> None:
    make_auto("track_order", settings)
    settings.AUTONOMY_ENABLED = False
    drafts = [make_draft(f"where is order {n}?") for n in range(3)]
    assert [auto_send_if_allowed(d) for d in drafts] == [False, False, False]
    assert {reload(d).status for d in drafts} == {DraftStatus.SUGGESTED}


@pytest.mark.parametrize("action", ["refund_order", "cancel_order"])
def test_a_draft_with_an_action_is_never_sent_alone(settings: Any, action: str) -> None:
    """A money action (a refund) above all; any other action waits for a human's approval too,
    and so does the reply that states it."""
    draft = customer_draft()
    make_auto(draft.intent, settings)
    order = order_for(draft)
    arguments = {"amount": 5} if action == "refund_order" else {}
    propose(draft, action, order_number=order.number, **arguments)
    assert auto_send_if_allowed(draft) is False
    assert reload(draft).status == DraftStatus.SUGGESTED
    assert _agent_replies(draft) == 0


@pytest.mark.parametrize(
    ("customers", "verified_by", "sent"),
    [
        ("verified", "", False),
        ("verified", Verification.API_KEY, True),
        ("anyone", "", True),
    ],
)
def test_unverified_senders_wait_under_autonomy_customers_verified(
    make_draft: MakeDraft, settings: Any, customers: str, verified_by: str, sent: bool
) -> None:
    make_auto("track_order", settings)
    settings.AUTONOMY_CUSTOMERS = customers
    draft = make_draft()
    Message.objects.filter(pk=draft.message_id).update(verified_by=verified_by)
    assert auto_send_if_allowed(draft) is sent
    assert reload(draft).status == (DraftStatus.SENT if sent else DraftStatus.SUGGESTED)


def test_a_canary_sends_its_share_alone_and_leaves_the_rest_for_review(
    make_draft: MakeDraft, settings: Any
) -> None:
    make_auto("track_order", settings, canary=True)
    settings.AUTONOMY_CANARY_SHARE = 0.2
    drafts = [make_draft(f"where is order NW-{n}?", customer_ref=f"c{n}") for n in range(200)]
    outcomes = [auto_send_if_allowed(d) for d in drafts]

    sent = sum(outcomes)
    assert 20 <= sent <= 60, sent  # 40 expected; 3.5 standard deviations either side
    # Which ones is the stable pick, and the rest are still SUGGESTED for a person.
    for draft, was_sent in zip(drafts, outcomes, strict=True):
        assert was_sent is canary_pick(str(draft.pk), 0.2)
        assert reload(draft).status == (DraftStatus.SENT if was_sent else DraftStatus.SUGGESTED)
    canary_sends = AuditLog.objects.filter(action="auto_sent", metadata__canary=True).count()
    assert canary_sends == sent
    # The canary's end: all of them.
    make_auto("track_order", settings, canary=False)
    rest = [d for d, was_sent in zip(drafts, outcomes, strict=True) if not was_sent]
    assert all(auto_send_if_allowed(d) for d in rest[:5])


def test_the_worker_path_sends_automatically(
    small_kb: dict, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    """Auto-send runs after the outcome's commit (support.agent_runs.record_outcome)."""
    make_auto("recover_password", settings)
    message, draft = receive_message("how do I change my password?", enqueue=False)
    event = message_created(message)
    with django_capture_on_commit_callbacks(execute=True):
        process_message.fn(str(message.pk), event["event_id"], event=event)
    draft = reload(draft)
    assert (draft.intent, draft.status, draft.automated) == ("recover_password", "SENT", True)
    actions = list(
        AuditLog.objects.filter(draft=draft)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["created", "suggested", "auto_sent"]


def test_by_default_only_verified_senders_are_answered_alone(
    make_draft: MakeDraft, settings: Any
) -> None:
    """AUTONOMY_CUSTOMERS defaults to `verified`: an unverified sender waits for a person."""
    assert settings.AUTONOMY_CUSTOMERS == "verified"
    make_auto("track_order", settings, customers=settings.AUTONOMY_CUSTOMERS)
    draft = make_draft()
    assert auto_send_if_allowed(draft) is False
    Message.objects.filter(pk=draft.message_id).update(verified_by=Verification.API_KEY)
    assert auto_send_if_allowed(draft) is True


def test_an_intent_without_a_row_is_in_review(make_draft: MakeDraft, settings: Any) -> None:
    make_auto("track_order", settings)
    IntentAutonomy.objects.all().delete()
    draft = make_draft()
    assert auto_send_if_allowed(draft) is False
    assert reload(draft).status == DraftStatus.SUGGESTED
    assert not IntentAutonomy.objects.exists()  # nothing created either
