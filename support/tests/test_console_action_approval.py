"""The console's actions on a draft card: a proposed action's arguments in a form, "y" to approve
it (with the arguments as edited), a reject button; executed and failed ones with their result
or error; the reply held back until each is decided; and the card pushed live to an open page
when an action is decided (real database, real Redis channel layer)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.test import Client

from resolver.asgi import application
from resolver.audit_actor import Actor
from support.actions import decide
from support.models import Action, Order, OrderStatus
from support.tests.action_fixtures import (
    customer_draft,
    order_for,
    propose,
)
from support.vocabulary import ActionStatus, DraftStatus
from tests.helpers import session_headers

HTMX = {"HX-Request": "true"}


def page(console: Client, action: Action) -> str:
    reply = console.get(f"/console/conversations/{action.conversation_id}/")
    assert reply.status_code == 200
    return reply.content.decode()


def approve_button_of_draft(html: str) -> str:
    found = re.search(r"<button[^>]*data-approve(?:\s|>)[^>]*>", html)
    assert found, "no Approve button for the draft"
    return found.group(0)


def test_a_proposed_action_is_shown_with_its_arguments_editable(db: None, console: Client) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount=40)

    html = page(console, action)

    assert f'id="action-{action.pk}"' in html and "refund_order" in html
    assert 'class="chip risk money"' in html
    assert re.search(r'name="arg-amount" hx-preserve type="number" step="any" value="40"', html)
    assert re.search(
        rf'name="arg-order_number" hx-preserve type="text" value="{order.number}"', html
    )
    assert 'data-approve-action data-key="y"' in html
    # The reply waits: its Approve is disabled and says why.
    assert "disabled" in approve_button_of_draft(html)
    assert "Decide the actions first" in html


def test_y_approves_with_the_edited_arguments(db: None, console: Client) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount=40)

    reply = console.post(
        f"/console/actions/{action.pk}/approve/",
        {"arg-order_number": order.number, "arg-amount": "12.5"},
        headers=HTMX,
    )

    assert reply.status_code == 200
    action.refresh_from_db()
    order.refresh_from_db()
    assert (action.status, action.arguments["amount"]) == (ActionStatus.EXECUTED, 12.5)
    assert order.refunded == Decimal("12.50")
    html = reply.content.decode()
    assert "Executed" in html and "refunded 12.50" in html
    assert "disabled" not in approve_button_of_draft(html)  # the reply may go now


def test_approving_the_amount_as_proposed_is_no_correction(db: None, console: Client) -> None:
    """The graph stores "40.00"; the card's number field sends back 40.0: the same amount, so
    no correction is recorded and the answer keeps its sentence."""
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount="40.00")

    reply = console.post(
        f"/console/actions/{action.pk}/approve/",
        {"arg-order_number": order.number, "arg-amount": "40.00"},
        headers=HTMX,
    )

    assert reply.status_code == 200
    action.refresh_from_db()
    assert (action.status, action.proposed_arguments) == (ActionStatus.EXECUTED, None)
    assert action.arguments == {"order_number": order.number, "amount": "40.00"}


def test_a_refused_approval_says_why_and_changes_nothing(db: None, console: Client) -> None:
    draft = customer_draft()
    order = order_for(draft, status=OrderStatus.SHIPPED)
    action = propose(draft, "cancel_order", order_number=order.number)

    reply = console.post(
        f"/console/actions/{action.pk}/approve/", {"arg-order_number": order.number}, headers=HTMX
    )
    wrong_type = console.post(
        f"/console/actions/{action.pk}/approve/", {"arg-order_number": ""}, headers=HTMX
    )

    assert reply.status_code == 422 and "order NW-10001 is shipped" in reply.content.decode()
    assert wrong_type.status_code == 422
    action.refresh_from_db()
    assert action.status == ActionStatus.PROPOSED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def test_reject_then_the_card_shows_it_and_the_reply_says_the_fallback(
    db: None, console: Client
) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)

    reply = console.post(
        f"/console/actions/{action.pk}/reject/", {"reason": "keeps the order"}, headers=HTMX
    )
    sent = console.post(f"/console/drafts/{draft.pk}/approve/", headers=HTMX)

    assert reply.status_code == 200
    assert "<strong>Rejected:</strong> keeps the order" in reply.content.decode()
    assert sent.status_code == 200
    draft.refresh_from_db()
    assert draft.sent_text and "I've asked our team to cancel" in draft.sent_text


def test_an_approval_made_on_an_answer_rewritten_since_is_refused(
    db: None, console: Client, agent_user: User
) -> None:
    """The page showed the refund of 80.00; a colleague approved it corrected to 25.00, which
    rewrote the answer. An approval naming the answer as first read (its box's basis) would send
    "refunded 80.00": it is refused, nothing is sent, and the page shows the new answer."""
    draft = customer_draft("please refund NW-10001")
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount="80.00")
    read = re.search(r'name="basis" value="([0-9a-f]+)"', page(console, action))
    assert read is not None
    colleague = Actor.for_user(agent_user)
    decide.approve(action.pk, colleague, {"order_number": order.number, "amount": "25"})
    draft.refresh_from_db()
    stale_text = draft.answer.replace("€25.00", "€80.00")

    stale = console.post(
        f"/console/drafts/{draft.pk}/approve/",
        {"edited": stale_text, "basis": read.group(1)},
        headers=HTMX,
    )

    assert stale.status_code == 409 and "the answer changed" in stale.content.decode()
    assert f'name="basis" value="{draft.answer_digest}"' in stale.content.decode()
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SUGGESTED and not draft.sent_text
    fresh = console.post(
        f"/console/drafts/{draft.pk}/approve/",
        {"edited": draft.answer, "basis": draft.answer_digest},
        headers=HTMX,
    )
    assert fresh.status_code == 200
    draft.refresh_from_db()
    assert "€25.00" in draft.sent_text


def _draft_over_api(api: Client, draft_id: Any) -> dict[str, Any]:
    from support.tests.conftest import API

    items = api.get(f"{API}/drafts", {"status": "SUGGESTED"}).json()["items"]
    return next(item for item in items if item["id"] == str(draft_id))


def test_the_api_refuses_an_approval_made_on_an_answer_rewritten_since(
    db: None, agent_user: User
) -> None:
    """An integration read the draft (its answer_digest) before a colleague's approval of the
    refund at 25 rewrote the answer: its edited text, stating 80.00, is refused with `basis`."""
    from support.tests.conftest import key_client, post_json

    api = key_client("read", "act")
    draft = customer_draft("please refund NW-10001")
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount="80.00")
    read = _draft_over_api(api, draft.pk)
    decide.approve(
        action.pk, Actor.for_user(agent_user), {"order_number": order.number, "amount": "25"}
    )

    stale = post_json(
        api,
        f"/drafts/{draft.pk}/approve",
        {"edited": read["answer"], "basis": read["answer_digest"]},
    )

    assert stale.status_code == 409 and "the answer changed" in stale.json()["detail"]
    fresh = _draft_over_api(api, draft.pk)
    sent = post_json(
        api,
        f"/drafts/{draft.pk}/approve",
        {"edited": fresh["answer"], "basis": fresh["answer_digest"]},
    )
    assert sent.status_code == 200 and "€25.00" in sent.json()["sent_text"]


def test_a_failed_action_shows_its_error(db: None, console: Client) -> None:
    draft = customer_draft()
    action = propose(draft, "cancel_order", order_number="NW-10001")
    Action.objects.filter(pk=action.pk).update(
        status=ActionStatus.FAILED, error='HTTP 409: {"error": "the order has shipped"}'
    )

    html = page(console, action)

    assert "<strong>Failed:</strong> HTTP 409" in html
    assert f'action="/console/actions/{action.pk}/approve/"' not in html


@pytest.mark.django_db(transaction=True)
async def test_an_open_page_sees_the_decision_live(agent_user: User) -> None:
    draft = await database_sync_to_async(customer_draft)()
    order = await database_sync_to_async(order_for)(draft)
    action = await database_sync_to_async(propose)(draft, "cancel_order", order_number=order.number)
    headers = await database_sync_to_async(session_headers)(agent_user)
    socket = WebsocketCommunicator(
        application, f"/ws/console/?conversation={draft.conversation_id}", headers=headers
    )
    assert (await socket.connect())[0]
    assert "Proposed" in await socket.receive_from(timeout=5)  # the snapshot

    approve = decide.approve
    await database_sync_to_async(approve)(action.pk, Actor.for_user(agent_user))

    pushed = await socket.receive_from(timeout=5)
    assert f'id="action-{action.pk}"' in pushed and "Executed" in pushed
    await socket.disconnect()


def test_the_approve_form_refuses_text_the_database_cannot_store(db: None, console: Client) -> None:
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "update_shipping_address", order_number=order.number, address="x")

    reply = console.post(
        f"/console/actions/{action.pk}/approve/",
        {"arg-order_number": order.number, "arg-address": "22 New Road\x00"},
        headers=HTMX,
    )
    rejected = console.post(
        f"/console/actions/{action.pk}/reject/", {"reason": "no\x00"}, headers=HTMX
    )

    assert (reply.status_code, rejected.status_code) == (422, 422)
    assert "NUL" in reply.content.decode()
    action.refresh_from_db()
    order.refresh_from_db()
    assert action.status == ActionStatus.PROPOSED
    assert order.shipping_address == "1 Old Street, Springfield"
