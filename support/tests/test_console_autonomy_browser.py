"""The Autonomy page in a real browser (Debian Chromium + Playwright) against the real ASGI
server and PostgreSQL: a lead stops all auto-send and switches an intent off with htmx (no
reload), and both are audited. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from support import review
from support.inbound import receive_message
from support.models import AuditAction, AuditLog, AutonomySwitch, Draft, IntentAutonomy
from support.tests.conftest import SUGGESTION
from tests.helpers import log_in_to_console

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_lead_stops_auto_send_and_switches_an_intent_off(
    browser: Any, browser_env: Path, live_server_url: str, agent_user: Any, settings: Any
) -> None:
    IntentAutonomy.objects.create(intent="track_order")
    page = log_in_to_console(browser, live_server_url, width=1400)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Autonomy").click()
    expect(page).to_have_url(f"{live_server_url}/console/autonomy/")
    page.screenshot(path=browser_env / "console-autonomy.png", full_page=True)

    page.get_by_role("button", name="Stop all auto-send").click()
    expect(page.get_by_role("button", name="Allow auto-send again")).to_be_visible()
    assert AutonomySwitch.objects.get().on is False

    row = page.locator("#rung-track_order")
    row.get_by_role("button", name="Never auto-send track_order").click()
    expect(row.locator("[data-mode]")).to_have_text("switched off")
    assert IntentAutonomy.objects.get(intent="track_order").allowed is False
    assert AuditLog.objects.filter(action=AuditAction.AUTONOMY_SWITCHED).count() == 2
    page.close()


def test_a_correction_being_typed_survives_a_push(
    browser: Any, live_server_url: str, agent_user: Any
) -> None:
    """An agent typing a correction of an auto-sent reply keeps it when the conversation is
    pushed (the customer writes again); sent, it goes out and the box is emptied."""
    _, draft = receive_message("where is my order NW-1?", customer_ref="c-9", enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(**SUGGESTION)
    review.auto_send(draft.pk)
    page = log_in_to_console(browser, live_server_url)
    page.goto(f"{live_server_url}/console/conversations/{draft.conversation_id}/")
    page.locator("body[data-live='open']").wait_for(state="attached")
    page.get_by_text("Correct this reply").click()
    box = page.get_by_label("Correction to send the customer")
    box.fill("Sorry, that was the wrong order: NW-1 ships on Monday.")

    receive_message("hello? anyone there?", conversation=draft.conversation)  # pushed
    expect(page.locator("#timeline")).to_contain_text("hello? anyone there?")
    expect(box).to_have_value("Sorry, that was the wrong order: NW-1 ships on Monday.")

    page.get_by_role("button", name="Send correction").click()
    expect(page.locator("#timeline")).to_contain_text("NW-1 ships on Monday", timeout=10_000)
    expect(page.get_by_label("Correction to send the customer")).to_have_value("")
    page.close()
