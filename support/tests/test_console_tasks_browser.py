"""Follow-up tasks in a real browser (Debian Chromium + Playwright) against the real ASGI server,
PostgreSQL and Redis: an agent adds a task on the conversation page (htmx, no reload), marks it
done and reopens it, and finds it on the Tasks page. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from support.tests.conftest import Api
from tests.helpers import log_in_to_console

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_agent_adds_completes_and_finds_a_task(
    browser: Any, browser_env: Path, live_server_url: str, agent_user: Any
) -> None:
    api = Api(live_server_url)
    created = api.post("/messages", {"body": "my replacement never came", "customer_ref": "ella"})
    page = log_in_to_console(browser, live_server_url)
    page.goto(f"{live_server_url}/console/conversations/{created['conversation_id']}/")
    page.locator("body[data-live='open']").wait_for(state="attached")

    tomorrow = timezone.localdate() + timedelta(days=1)
    page.get_by_label("New task").fill("Check the replacement shipped")
    page.get_by_label("Due").fill(tomorrow.isoformat())
    expect(page.get_by_label("For")).to_have_value("agnes")  # me, unless I choose another
    page.get_by_role("button", name="Add task").click()

    tasks = page.locator("#conversation-tasks")
    expect(tasks).to_contain_text("Check the replacement shipped")  # no reload: htmx swapped it
    expect(tasks).to_contain_text(f"due {tomorrow.strftime('%b')} {tomorrow.day}")
    expect(page.get_by_label("New task")).to_have_value("")  # the form was reset
    page.screenshot(path=browser_env / "console-conversation-tasks.png", full_page=True)

    tasks.get_by_role("button", name=re.compile("done")).click()
    expect(tasks.get_by_role("button", name="Reopen")).to_be_visible()
    tasks.get_by_role("button", name="Reopen").click()
    expect(tasks.get_by_role("button", name=re.compile("done"))).to_be_visible()

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Tasks").click()
    expect(page).to_have_url(f"{live_server_url}/console/tasks/")
    mine = page.locator("section", has=page.get_by_role("heading", name="My open tasks"))
    expect(mine).to_contain_text("Check the replacement shipped")
    expect(mine.get_by_role("link", name="ella")).to_have_attribute(
        "href", f"/console/conversations/{created['conversation_id']}/"
    )
    page.screenshot(path=browser_env / "console-tasks.png", full_page=True)
    mine.get_by_role("button", name=re.compile("done")).click()
    expect(page).to_have_url(f"{live_server_url}/console/tasks/")
    expect(mine).to_contain_text("Nothing assigned to you is open.")
