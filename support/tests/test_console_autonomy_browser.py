"""The Autonomy page in a real browser (Debian Chromium + Playwright) against the real ASGI
server and PostgreSQL: a lead stops all auto-send and switches an intent off with htmx (no
reload), and both are audited. Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from support.models import AuditAction, AuditLog, AutonomySwitch, IntentAutonomy
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
