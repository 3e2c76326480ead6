"""The draft card's actions in a real browser (Debian Chromium + Playwright) against the real
ASGI server, PostgreSQL and Redis: an agent corrects a refund's amount and approves it, sees it
executed live, presses y for the next one, and only then may send the reply (a)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from playwright.sync_api import expect

from support.actions.catalogue import CATALOGUE
from support.models import Action, Draft, Order, Task
from support.tests.action_fixtures import customer_draft, order_for, propose
from support.vocabulary import ActionStatus
from tests.helpers import log_in_to_console

pytestmark = pytest.mark.django_db(transaction=True)


def test_correct_the_amount_approve_press_y_for_the_next_then_send(
    browser: Any, live_server_url: str, agent_user: Any
) -> None:
    draft = customer_draft("my parcel arrived broken, please refund NW-10001")
    order = order_for(draft)
    refund = propose(draft, "refund_order", order_number=order.number, amount="80.00")
    # The reply states the refund as proposed, as the graph writes it.
    said = CATALOGUE["refund_order"].confirm(refund.arguments, order.currency)
    Action.objects.filter(pk=refund.pk).update(confirmation=said)
    Draft.objects.filter(pk=draft.pk).update(answer=f"Sorry about the parcel. {said}")
    follow_up = propose(draft, "create_follow_up", title="Check the replacement arrived")
    page = log_in_to_console(browser, live_server_url)
    page.goto(f"{live_server_url}/console/conversations/{draft.conversation_id}/")
    page.locator("body[data-live='open']").wait_for(state="attached")
    send = page.locator("[data-approve]")
    expect(send).to_be_disabled()  # the reply waits for the actions' decisions
    box = page.locator(f"#answer-{draft.pk}")
    box.press("End")
    box.type(" Thanks for waiting.")  # an edit of the answer stating 80.00

    refund_row = page.locator(f"#action-{refund.pk}")
    refund_row.get_by_label("amount").fill("25")
    refund_row.get_by_label("amount").press("Enter")  # submits the action's form: approves it
    expect(refund_row.locator("[data-action-status]")).to_have_text("Executed")
    expect(send).to_be_disabled()  # the follow-up is still proposed
    # The answer was rewritten to the amount approved: the edited box (stating 80.00) is
    # replaced, and the agent is told, with a copy of their edit.
    expect(box).to_have_value(re.compile(r"€25\.00"))
    expect(page.locator(".notice .edited-copy")).to_have_text(re.compile("Thanks for waiting"))

    page.locator("h1").first.click()  # nothing focused that takes keys
    page.keyboard.press("y")  # approves the first action still proposed: the follow-up
    expect(page.locator(f"#action-{follow_up.pk} [data-action-status]")).to_have_text("Executed")
    expect(send).to_be_enabled()
    page.keyboard.press("a")
    expect(page.locator("[data-status]")).to_have_text("SENT")

    assert Order.objects.get(pk=order.pk).refunded == Decimal("25.00")
    statuses = set(Action.objects.filter(draft=draft).values_list("status", flat=True))
    assert statuses == {ActionStatus.EXECUTED}
    assert Task.objects.get(action=follow_up).title == "Check the replacement arrived"
    sent = Draft.objects.get(pk=draft.pk).sent_text
    assert "€25.00" in sent and "80.00" not in sent
