"""Approving and rejecting the copilot's actions with the builtin backend (the Order rows): the
policy re-checked on the facts as they are at approval, corrected arguments, every decision
audited, an action approved twice (even at once) executes once, money only on a human's word,
and the draft's reply waiting for its actions, saying the fallback of one that did not happen."""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from support import autosend, review
from support.actions import decide
from support.actions.catalogue import CATALOGUE
from support.models import (
    Action,
    AuditAction,
    AuditLog,
    Draft,
    DraftStatus,
    Order,
    OrderStatus,
    Task,
)
from support.tests.action_fixtures import (
    CONFIRMATION,
    FALLBACK,
    customer_draft,
    order_for,
    propose,
)
from support.tests.autonomy_fixtures import make_auto
from support.tests.conftest import key_client, post_json
from support.vocabulary import ActionStatus, ReviewVerdict, TaskCreator, TaskStatus


def human(agent_user: Any) -> Actor:
    return Actor.for_user(agent_user)


def audit_actions(action: Action) -> list[str]:
    rows = AuditLog.objects.filter(metadata__action_id=str(action.pk)).order_by("id")
    return [row.action for row in rows]


def test_approval_cancels_the_order_and_audits_both_steps(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)

    approved = decide.approve(action.pk, human(agent_user))

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert (approved.status, (approved.result or {})["status"]) == (
        ActionStatus.EXECUTED,
        "CANCELLED",
    )
    assert approved.decided_by == agent_user and approved.executed_at is not None
    assert audit_actions(action) == [AuditAction.ACTION_APPROVED, AuditAction.ACTION_EXECUTED]
    row = AuditLog.objects.get(action=AuditAction.ACTION_APPROVED)
    assert (row.actor, row.draft_id, (row.before or {})["status"]) == (
        f"user:{agent_user.username}",
        draft.pk,
        ActionStatus.PROPOSED,
    )


def test_an_action_approved_twice_executes_once(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount=30)

    first = decide.approve(action.pk, human(agent_user))
    second = decide.approve(action.pk, human(agent_user))

    order.refresh_from_db()
    assert order.refunded == Decimal("30.00")
    assert (first.status, second.status) == (ActionStatus.EXECUTED, ActionStatus.EXECUTED)
    assert audit_actions(action).count(AuditAction.ACTION_EXECUTED) == 1


def test_a_second_approval_with_other_arguments_is_refused(db: None, agent_user: Any) -> None:
    """A stale page approves 25 after a colleague's 80 ran: refused, so it never says "done";
    the same arguments again (a retry, written as the form writes them) stay idempotent."""
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount="80.00")
    decide.approve(action.pk, human(agent_user))

    with pytest.raises(decide.ActionConflict, match="already executed with other arguments"):
        decide.approve(action.pk, human(agent_user), {"order_number": order.number, "amount": 25})
    again = decide.approve(
        action.pk, human(agent_user), {"order_number": order.number, "amount": 80.0}
    )

    assert again.status == ActionStatus.EXECUTED
    order.refresh_from_db()
    assert order.refunded == Decimal("80.00")
    assert audit_actions(action).count(AuditAction.ACTION_EXECUTED) == 1


def test_two_agents_approving_at_once_execute_it_once(
    transactional_db: None, agent_user: Any
) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount=25)
    start = threading.Barrier(2)
    answers: list[str] = []

    def approve() -> None:
        try:
            start.wait()
            answers.append(decide.approve(action.pk, human(agent_user)).status)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    order.refresh_from_db()
    assert answers == [ActionStatus.EXECUTED, ActionStatus.EXECUTED]
    assert order.refunded == Decimal("25.00")
    assert audit_actions(action).count(AuditAction.ACTION_EXECUTED) == 1


def test_corrected_arguments_are_checked_and_the_proposal_kept(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount=80)

    Order.objects.filter(pk=order.pk).update(refunded=Decimal("10.00"))  # refunded meanwhile
    with pytest.raises(decide.ActionError, match="at most 70"):
        decide.approve(action.pk, human(agent_user))
    approved = decide.approve(
        action.pk, human(agent_user), {"order_number": order.number, "amount": 20.5}
    )

    order.refresh_from_db()
    assert order.refunded == Decimal("30.50")
    assert approved.arguments["amount"] == 20.5
    assert approved.proposed_arguments == {"order_number": order.number, "amount": 80}


def test_a_corrected_refund_says_the_corrected_amount(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft, currency="EUR")
    spec = CATALOGUE["refund_order"]
    proposed = {"order_number": order.number, "amount": "49.99"}
    Draft.objects.filter(pk=draft.pk).update(
        answer=f"Sorry for the trouble. {spec.confirm(proposed, 'EUR')} Anything else?"
    )
    action = Action.objects.create(
        draft=draft,
        conversation_id=draft.conversation_id,
        name="refund_order",
        arguments=proposed,
        confirmation=spec.confirm(proposed, "EUR"),
        fallback=spec.fallback(proposed, "EUR"),
    )

    approved = decide.approve(
        action.pk, human(agent_user), {"order_number": order.number, "amount": 20}
    )
    draft.refresh_from_db()
    sent = review.approve(draft.pk, human(agent_user))

    assert approved.confirmation == "I've refunded €20.00 for order NW-10001."
    assert approved.confirmation in draft.answer and "49.99" not in draft.answer
    assert "€20.00" in sent.sent_text and "49.99" not in sent.sent_text


def test_the_policy_is_checked_again_on_the_facts_at_approval(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.SHIPPED)  # the store moved on

    with pytest.raises(decide.ActionError, match="is shipped: it can be cancelled only while"):
        decide.approve(action.pk, human(agent_user))

    action.refresh_from_db()
    order.refresh_from_db()
    assert (action.status, order.status) == (ActionStatus.PROPOSED, OrderStatus.SHIPPED)
    assert audit_actions(action) == []


def test_arguments_outside_the_schema_are_refused(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "update_shipping_address", order_number=order.number, address="")

    with pytest.raises(decide.ActionError):
        decide.approve(action.pk, human(agent_user))
    with pytest.raises(decide.ActionError):
        decide.approve(action.pk, human(agent_user), {"order_number": order.number, "x": 1})
    approved = decide.approve(
        action.pk,
        human(agent_user),
        {"order_number": order.number, "address": "22 New Road, Shelbyville"},
    )

    order.refresh_from_db()
    assert approved.status == ActionStatus.EXECUTED
    assert order.shipping_address == "22 New Road, Shelbyville"


def test_an_unverified_sender_gets_no_action_on_the_order(db: None, agent_user: Any) -> None:
    owner = customer_draft()
    order = order_for(owner)
    stranger = customer_draft(ref="cust-1", verified=False)  # the same ref, claimed unverified
    assert stranger.conversation.customer is None
    action = propose(stranger, "cancel_order", order_number=order.number)

    with pytest.raises(decide.ActionError, match="not a verified customer"):
        decide.approve(action.pk, human(agent_user))
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING


@pytest.mark.parametrize("automatic", [Actor.auto_send(), Actor.agent(), Actor.system("x")])
def test_money_never_moves_without_a_human(db: None, automatic: Actor) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount=5)

    with pytest.raises(decide.ActionForbidden, match="console user"):
        decide.approve(action.pk, automatic)

    order.refresh_from_db()
    assert order.refunded == 0
    assert Action.objects.get(pk=action.pk).status == ActionStatus.PROPOSED


def test_rejection_is_audited_and_final(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)

    rejected = decide.reject(action.pk, human(agent_user), "customer called, keeps it")
    again = decide.reject(action.pk, human(agent_user), "twice")
    with pytest.raises(decide.ActionConflict):
        decide.approve(action.pk, human(agent_user))

    order.refresh_from_db()
    assert (rejected.status, rejected.error) == (ActionStatus.REJECTED, "customer called, keeps it")
    assert again.error == "customer called, keeps it"
    assert order.status == OrderStatus.PROCESSING
    assert audit_actions(action) == [AuditAction.ACTION_REJECTED]


def test_a_draft_waits_for_its_actions_then_says_what_happened(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    cancel = propose(draft, "cancel_order", order_number=order.number)

    with pytest.raises(review.Conflict, match="decide the actions first"):
        review.approve(draft.pk, human(agent_user))
    decide.approve(cancel.pk, human(agent_user))
    sent = review.approve(draft.pk, human(agent_user))

    assert CONFIRMATION in sent.sent_text
    assert not AuditLog.objects.filter(draft_id=draft.pk, action=AuditAction.EDITED).exists()


def test_a_rejected_actions_confirmation_is_replaced_by_its_fallback(
    db: None, agent_user: Any
) -> None:
    draft = customer_draft()
    order = order_for(draft)
    cancel = propose(draft, "cancel_order", order_number=order.number)
    decide.reject(cancel.pk, human(agent_user), "not now")

    sent = review.approve(draft.pk, human(agent_user))

    assert CONFIRMATION not in sent.sent_text and FALLBACK in sent.sent_text
    assert sent.sent_text == f"Sorry for the trouble. {FALLBACK} Anything else?"
    # The agent changed nothing: the fallback is not their edit, nor evidence against the
    # suggestion (autonomy, the edit rate).
    assert not AuditLog.objects.filter(draft_id=draft.pk, action=AuditAction.EDITED).exists()
    assert (sent.edit_distance, sent.review_verdict) == (0, ReviewVerdict.SENT_UNCHANGED)


def test_a_failed_actions_confirmation_is_replaced_in_an_edited_reply_too(
    db: None, agent_user: Any
) -> None:
    draft = customer_draft()
    order = order_for(draft)
    cancel = propose(draft, "cancel_order", order_number=order.number)
    Action.objects.filter(pk=cancel.pk).update(status=ActionStatus.FAILED, error="HTTP 409")

    sent = review.approve(draft.pk, human(agent_user), f"Hello! {CONFIRMATION}")

    assert sent.sent_text == f"Hello! {FALLBACK}"


def test_rejecting_the_draft_rejects_its_undecided_actions(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    cancel = propose(draft, "cancel_order", order_number=order.number)

    review.reject(draft.pk, human(agent_user), "wrong customer")

    cancel.refresh_from_db()
    assert (cancel.status, cancel.error) == (ActionStatus.REJECTED, "the draft was rejected")
    with pytest.raises(decide.ActionConflict):
        decide.approve(cancel.pk, human(agent_user))


def test_a_draft_with_actions_is_never_sent_automatically(db: None, settings: Any) -> None:
    draft = customer_draft()
    make_auto(draft.intent, settings)  # whatever its intent's rung
    order = order_for(draft)
    propose(draft, "refund_order", order_number=order.number, amount=5)

    assert autosend.qualifies(draft) is False
    with pytest.raises(review.Conflict, match="never sent automatically"):
        review.auto_send(draft.pk)
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SUGGESTED


# ---------- the API ----------


def action_path(action: Action, verb: str) -> str:
    return f"/drafts/{action.draft_id}/actions/{action.pk}/{verb}"


def test_api_approves_with_corrected_arguments(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount=80)
    client = Client()  # a console user's session: money needs a person
    client.force_login(agent_user)

    reply = post_json(
        client,
        action_path(action, "approve"),
        {"arguments": {"order_number": "NW-10001", "amount": 12}},
    )

    assert reply.status_code == 200, reply.content
    body = reply.json()
    assert (body["id"], body["status"], body["arguments"]["amount"]) == (
        str(action.pk),
        ActionStatus.EXECUTED,
        12,
    )
    assert body["result"]["refunded"] == "12.00" and body["decided_at"]
    assert AuditLog.objects.get(action=AuditAction.ACTION_APPROVED).actor.startswith("user:")


def test_an_api_key_may_not_approve_a_refund(db: None) -> None:
    draft = customer_draft()
    order = order_for(draft)
    refund = propose(draft, "refund_order", order_number=order.number, amount=12)
    cancel = propose(draft, "cancel_order", order_number=order.number)
    client = key_client("act")

    refused = post_json(client, action_path(refund, "approve"))
    cancelled = post_json(client, action_path(cancel, "approve"))

    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert "console user" in refused.json()["detail"]
    order.refresh_from_db()
    assert order.refunded == 0
    assert Action.objects.get(pk=refund.pk).status == ActionStatus.PROPOSED
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, ActionStatus.EXECUTED)


def test_api_refusals_are_4xx_with_a_reason(db: None) -> None:
    draft = customer_draft()
    order = order_for(draft, status=OrderStatus.DELIVERED)
    action = propose(draft, "cancel_order", order_number=order.number)
    other = customer_draft(ref="cust-2")

    refused = post_json(key_client("act"), action_path(action, "approve"))
    wrong_draft = post_json(key_client("act"), f"/drafts/{other.pk}/actions/{action.pk}/approve")
    not_a_dict = post_json(key_client("act"), action_path(action, "approve"), {"arguments": [1]})
    read_only = post_json(key_client("read"), action_path(action, "approve"))

    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_action")
    assert "NW-10001 is delivered" in refused.json()["detail"]
    assert wrong_draft.status_code == 404
    assert not_a_dict.status_code == 422
    assert read_only.status_code == 403


@pytest.mark.parametrize("bad", ["NW-\u0000", "NW-\ud800"])
def test_api_refuses_arguments_the_database_cannot_store(db: None, bad: str) -> None:
    draft = customer_draft()
    order = order_for(draft)
    cancel = propose(draft, "cancel_order", order_number=order.number)
    follow_up = propose(draft, "create_follow_up", title="Call back")
    client = key_client("act")

    as_value = post_json(
        client, action_path(cancel, "approve"), {"arguments": {"order_number": bad}}
    )
    as_key = post_json(
        client, action_path(follow_up, "approve"), {"arguments": {"title": "x", bad: "y"}}
    )
    nested = post_json(
        client, action_path(follow_up, "approve"), {"arguments": {"title": ["ok", bad]}}
    )

    for reply in (as_value, as_key, nested):
        assert reply.status_code == 422, reply.content
        assert reply["Content-Type"].startswith("application/json")
        assert reply.json()["detail"].startswith("arguments")
    assert Action.objects.filter(status=ActionStatus.PROPOSED).count() == 2
    order.refresh_from_db()
    assert order.status == OrderStatus.PROCESSING


def test_api_rejects_and_the_draft_cannot_be_sent_before(db: None, api: Client) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)

    early = post_json(api, f"/drafts/{draft.pk}/approve")
    rejected = post_json(api, action_path(action, "reject"), {"reason": "customer changed mind"})
    sent = post_json(api, f"/drafts/{draft.pk}/approve")

    assert (early.status_code, early.json()["code"]) == (409, "conflict")
    assert "decide the actions first" in early.json()["detail"]
    assert (rejected.status_code, rejected.json()["status"]) == (200, ActionStatus.REJECTED)
    assert rejected.json()["error"] == "customer changed mind"
    assert sent.status_code == 200 and FALLBACK in sent.json()["sent_text"]


def test_an_approved_follow_up_makes_one_ai_task(db: None, agent_user: Any) -> None:
    draft = customer_draft(verified=False)  # a task touches no order: any sender may get one
    due = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    action = propose(
        draft, "create_follow_up", title="Call back about the refund", due_at=due.isoformat()
    )

    approved = decide.approve(action.pk, human(agent_user))
    decide.approve(action.pk, human(agent_user))

    task = Task.objects.get(action=action)
    assert (task.title, task.due_at, task.created_by, task.status) == (
        "Call back about the refund",
        due,
        TaskCreator.AI,
        TaskStatus.OPEN,
    )
    assert task.conversation_id == draft.conversation_id
    assert approved.status == ActionStatus.EXECUTED
    assert (approved.result or {})["task_id"] == str(task.pk)
    assert Task.objects.count() == 1


def test_order_status_and_resend_change_nothing(db: None, agent_user: Any) -> None:
    draft = customer_draft()
    order = order_for(draft, number="NW-10002", status=OrderStatus.SHIPPED)
    looked_up = decide.approve(
        propose(draft, "order_status", order_number="nw-10002").pk, human(agent_user)
    )
    resent = decide.approve(
        propose(draft, "resend_confirmation", order_number="NW-10002").pk, human(agent_user)
    )

    assert (looked_up.status, (looked_up.result or {})["status"]) == (
        ActionStatus.EXECUTED,
        OrderStatus.SHIPPED,
    )
    assert resent.status == ActionStatus.EXECUTED
    assert Order.objects.get(pk=order.pk).updated_at == order.updated_at


def test_an_action_of_a_sent_draft_cannot_be_decided_any_more(db: None, api: Client) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.SENT)  # sent by another path

    approved = post_json(api, action_path(action, "approve"))
    rejected = post_json(api, action_path(action, "reject"))

    assert (approved.status_code, approved.json()["code"]) == (409, "conflict")
    assert "the draft is already SENT" in approved.json()["detail"]
    assert rejected.status_code == 200  # refusing it is still recorded
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PROCESSING
