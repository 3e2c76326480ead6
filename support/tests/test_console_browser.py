"""The console in a real browser (Debian Chromium + Playwright) against the real ASGI server,
a real worker, PostgreSQL and Redis: live queue, review, reject, keyboard, other agents' actions.
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from support.models import Draft
from support.tests.conftest import Api
from support.tests.customer_history import conversation
from tests.helpers import log_in_to_console

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "how do I change my password?"
ANSWERED = re.compile(r"^(SUGGESTED|ESCALATED)$")


@pytest.fixture
def console_page(
    browser: Any,
    browser_env: Path,
    live_server_url: str,
    live_worker: subprocess.Popen,
    small_kb: dict,
    agent_user: Any,
) -> Callable[..., Page]:
    def open_page(width: int = 1280, height: int = 900) -> Page:
        return log_in_to_console(browser, live_server_url, width=width, height=height)

    return open_page


def _live(page: Page) -> None:
    """Waits until the page's WebSocket is open (and its snapshot applied)."""
    # A selector, not wait_for_function: that evaluates a string, which the CSP forbids.
    page.locator("body[data-live='open']").wait_for(state="attached")


def test_ingested_message_appears_live_then_edit_and_approve(
    console_page: Callable[..., Page], live_server_url: str, browser_env: Path
) -> None:
    page = console_page()
    _live(page)
    api = Api(live_server_url)
    created = api.post("/messages", {"body": QUESTION, "customer_ref": "browser-1"})
    row = page.locator(f"#row-{created['draft_id']}")
    expect(row).to_contain_text(QUESTION)  # no reload: pushed over /ws/console/
    expect(row.locator(".status")).to_have_text(ANSWERED)
    page.screenshot(path=browser_env / "console-queue-1280.png", full_page=True)

    queue = console_page()  # a second console keeps the queue open
    _live(queue)
    expect(queue.locator(f"#row-{created['draft_id']}")).to_have_count(1)
    row.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/console/conversations/"))
    _live(page)
    answer = page.get_by_label("Answer")
    expect(answer).not_to_have_value("")
    answer.fill("Open the login page and choose 'Forgot password'. We are here if it fails.")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("[data-status]")).to_have_text("SENT")
    page.screenshot(path=browser_env / "console-conversation-1280.png", full_page=True)
    expect(queue.locator(f"#row-{created['draft_id']}")).to_have_count(0)  # gone, live

    conversation = api.get(f"/conversations/{created['conversation_id']}")
    assert [m["role"] for m in conversation["messages"]] == ["CUSTOMER", "AGENT"]
    assert conversation["messages"][0]["draft"]["status"] == "SENT"
    assert conversation["messages"][1]["body"] == (
        "Open the login page and choose 'Forgot password'. We are here if it fails."
    )


def test_reject_asks_for_a_reason(
    console_page: Callable[..., Page], live_server_url: str, browser_env: Path
) -> None:
    api = Api(live_server_url)
    # The customer wrote before: their history is beside the thread, and stays through pushes.
    earlier = conversation("my parcel never came", ref="browser-2", days_ago=3, intent="refund")
    created = api.post("/messages", {"body": QUESTION, "customer_ref": "browser-2"})
    page = console_page()
    page.goto(f"{live_server_url}/console/conversations/{created['conversation_id']}/")
    _live(page)
    expect(page.locator("[data-status]")).to_have_text(ANSWERED)
    history = page.locator(f"#customer-timeline #history-{earlier.pk}")
    expect(history).to_be_visible()
    expect(history).to_contain_text("my parcel never came")
    page.get_by_role("button", name="Reject").click()
    page.get_by_label("Reason").fill("cites the wrong article")
    page.get_by_role("button", name="Confirm").click()
    expect(page.locator("[data-status]")).to_have_text("REJECTED")
    expect(page.get_by_text("cites the wrong article").first).to_be_visible()
    expect(history).to_contain_text("refund")  # still there after the push
    page.screenshot(path=browser_env / "console-customer-history-1280.png", full_page=True)
    draft = Draft.objects.get(pk=created["draft_id"])
    assert (draft.status, draft.reject_reason) == ("REJECTED", "cites the wrong article")


def test_keyboard_flow(console_page: Callable[..., Page], live_server_url: str) -> None:
    api = Api(live_server_url)
    first = api.post("/messages", {"body": QUESTION, "customer_ref": "kb-1"})
    second = api.post(
        "/messages", {"body": "how do I add a new shipping address?", "customer_ref": "kb-2"}
    )
    page = console_page()
    _live(page)
    for created in (first, second):
        expect(page.locator(f"#row-{created['draft_id']} .status")).to_have_text(ANSWERED)
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    selected = page.locator("#queue-rows tr[aria-selected=true]")
    expect(selected).to_have_count(1)
    expected = page.locator("#queue-rows tr.row").first.get_attribute("id")
    assert selected.get_attribute("id") == expected
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/console/conversations/"))
    _live(page)
    expect(page.get_by_label("Answer")).not_to_have_value("")
    page.keyboard.press("a")
    expect(page.locator("[data-status]")).to_have_text("SENT")
    page.keyboard.press("n")  # the other conversation, next in the queue
    expect(page.locator("[data-status]")).to_have_text(ANSWERED)
    _live(page)
    page.keyboard.press("e")
    expect(page.locator("[data-status]")).to_have_text("ESCALATED")
    statuses = sorted(Draft.objects.values_list("status", flat=True))
    assert statuses == ["ESCALATED", "SENT"]


def test_another_agents_action_shows_live_on_a_phone(
    console_page: Callable[..., Page], live_server_url: str, browser_env: Path
) -> None:
    api = Api(live_server_url)
    created = api.post("/messages", {"body": QUESTION, "customer_ref": "phone-1"})
    page = console_page(width=390, height=844)
    page.goto(f"{live_server_url}/console/conversations/{created['conversation_id']}/")
    _live(page)
    expect(page.locator("[data-status]")).to_have_text(ANSWERED)
    page.get_by_label("Answer").fill("my unsent edit")
    api.post(f"/drafts/{created['draft_id']}/escalate")
    expect(page.locator("[data-status]")).to_have_text("ESCALATED")
    expect(page.get_by_text("Escalated by key:browser-test")).to_be_visible()
    expect(page.get_by_label("Answer")).to_have_value("my unsent edit")  # edits survive a push
    expect(page.get_by_label("Answer")).to_be_focused()  # and so does the focus
    page.screenshot(path=browser_env / "console-conversation-390.png", full_page=True)
    api.post(f"/drafts/{created['draft_id']}/approve")
    expect(page.locator("[data-status]")).to_have_text("SENT")
    page.goto(f"{live_server_url}/console/")
    page.screenshot(path=browser_env / "console-queue-390.png", full_page=True)


def test_a_reconnecting_page_resyncs(
    console_page: Callable[..., Page], asgi_server: Any, agent_user: Any
) -> None:
    from resolver.audit_actor import Actor
    from support import review

    api = Api(asgi_server.url)
    created = api.post("/messages", {"body": QUESTION, "customer_ref": "reconnect-1"})
    page = console_page()
    page.goto(f"{asgi_server.url}/console/conversations/{created['conversation_id']}/")
    _live(page)
    expect(page.locator("[data-status]")).to_have_text(ANSWERED)
    asgi_server.stop()  # the socket drops; the change below is broadcast to nobody
    expect(page.get_by_text("Reconnecting…")).to_be_visible()
    review.approve(created["draft_id"], Actor.for_user(agent_user), "Sent while you were away")
    asgi_server.start()  # same port: the page reconnects by itself and gets a fresh snapshot
    expect(page.locator("[data-status]")).to_have_text("SENT")
    expect(page.get_by_text("Sent while you were away").first).to_be_visible()
    expect(page.get_by_text("Reconnecting…")).to_be_hidden()


def test_an_agent_s_own_reply_on_a_pending_draft_is_kept(
    browser: Any, browser_env: Path, live_server_url: str, small_kb: dict, agent_user: Any
) -> None:
    """No worker runs: the draft stays PENDING while the agent writes, then the assistant's
    answer lands (run here, in another thread, as a worker would) and is pushed to the page."""
    from concurrent.futures import ThreadPoolExecutor

    from agents.actors import process_message
    from support.inbound import message_created, receive_message

    message, draft = receive_message(QUESTION, customer_ref="pending-1", enqueue=False)
    page = log_in_to_console(browser, live_server_url)
    page.goto(f"{live_server_url}/console/conversations/{message.conversation_id}/")
    _live(page)
    expect(page.locator("[data-status]")).to_have_text("PENDING")
    page.get_by_label("Answer").fill("My own reply, written while the assistant was drafting")
    event = message_created(message)
    with ThreadPoolExecutor(1) as pool:  # its broadcast cannot run on Playwright's event loop
        pool.submit(process_message.fn, str(message.pk), event["event_id"], event=event).result()
    expect(page.locator("[data-status]")).to_have_text(ANSWERED)
    answer = page.get_by_label("Answer")
    expect(answer).to_have_value("My own reply, written while the assistant was drafting")
    page.get_by_role("button", name="Use the assistant's answer").click()
    draft.refresh_from_db()
    expect(answer).to_have_value(draft.answer)
    assert draft.answer and draft.answer != "My own reply, written while the assistant was drafting"


def test_a_draft_never_drafted_needs_the_agent_s_reply_to_approve(
    browser: Any, browser_env: Path, live_server_url: str, agent_user: Any
) -> None:
    """Escalated straight from retrieval (no worker needed): "not drafted" rather than failed
    checks, and Approve follows what is in the answer box."""
    from django.utils import timezone

    from support.inbound import receive_message
    from support.models import DraftStatus, EscalationReason
    from support.vocabulary import not_drafted_guard

    message, draft = receive_message(
        "what is the capital of pakistan", customer_ref="undrafted-1", enqueue=False
    )
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.ESCALATED,
        escalation_reason=EscalationReason.RETRIEVAL_WEAK,
        guard=not_drafted_guard(),
        completed_at=timezone.now(),
    )
    page = log_in_to_console(browser, live_server_url)
    page.goto(f"{live_server_url}/console/conversations/{message.conversation_id}/")
    _live(page)
    expect(page.get_by_text("Not drafted: no checks ran.")).to_be_visible()
    expect(page.locator(".guard .fail")).to_have_count(0)
    approve = page.get_by_role("button", name="Approve")
    expect(approve).to_be_disabled()
    answer = page.get_by_label("Answer")
    answer.fill("We can only help with orders from our shop.")
    expect(approve).to_be_enabled()
    answer.fill("  ")
    expect(approve).to_be_disabled()
    answer.fill("We can only help with orders from our shop.")
    approve.click()
    expect(page.locator("[data-status]")).to_have_text("SENT")
