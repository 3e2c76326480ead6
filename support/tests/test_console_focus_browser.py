"""The console keeps the agent's place through live pushes and actions, in a real browser (Debian
Chromium + Playwright against uvicorn): typed text is never dropped (a reprocess moves it into the
new draft's box, a draft sent by someone else leaves a copy), the focus stays on its element or
its equivalent, the queue's selection holds its place when its row leaves, the polite count is
rewritten only when it changes, and long words and phone widths never scroll a page sideways.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from support.models import Draft
from support.tests.conftest import Api
from tests.helpers import log_in_to_console

pytestmark = pytest.mark.django_db(transaction=True)

# 67 characters: a reference (an e-mail address, say) wider than a phone's heading.
LONG_REF = "someone.with.a.very.long.address.name@example-company-domain.com.ab"
LONG_WORD = "Z" * 60
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
# How far the sender chip sticks out of its bubble (px; 0 or less: inside).
CHIP_OUT = """() => { const chip = document.querySelector('#timeline .bubble .meta .identity');
  const bubble = chip.closest('.bubble');
  return chip.getBoundingClientRect().right - bubble.getBoundingClientRect().right; }"""
# Counts the changes of the queue's polite live region from now on.
WATCH_SUMMARY = """() => { window.summaryChanges = 0;
  new MutationObserver(changes => { window.summaryChanges += changes.length; })
    .observe(document.getElementById('queue-summary'),
             {childList: true, characterData: true, subtree: true}); }"""


def _live(page: Page) -> None:
    """Waits until the page's WebSocket is open (and its snapshot applied)."""
    page.locator("body[data-live='open']").wait_for(state="attached")


def test_a_colleague_s_changes_keep_the_agent_s_text_and_focus(
    browser: Any, browser_env: Path, live_server_url: str, agent_user: Any, make_draft: Any
) -> None:
    """On a phone: another agent escalates, reprocesses and sends the draft being edited; then
    the agent's own actions. No worker runs, so a reprocessed draft stays PENDING."""
    draft = make_draft(f"My order {LONG_WORD} never arrived.", customer_ref=LONG_REF)
    api = Api(live_server_url)
    page = log_in_to_console(browser, live_server_url, width=390, height=844)
    page.goto(f"{live_server_url}/console/conversations/{draft.conversation_id}/")
    _live(page)
    assert page.evaluate(SIDEWAYS) <= 0  # the long reference wraps, the nav too
    assert page.evaluate(CHIP_OUT) <= 0  # "unverified sender" stays in its bubble
    status = page.locator("[data-status]")

    # A push keeps the focus on a button without an id: the same button of the same card.
    reject = page.get_by_role("button", name="Reject")
    reject.focus()
    api.post(f"/drafts/{draft.pk}/escalate")
    expect(status).to_have_text("ESCALATED")
    expect(reject).to_be_focused()

    # Reprocessed by someone else while the agent writes: the text moves into the new draft.
    mine = "My carefully written reply that took five minutes."
    answer = page.get_by_label("Answer")
    answer.fill(mine)
    api.post(f"/messages/{draft.message_id}/reprocess")
    expect(page.locator(f"#draft-{draft.pk}")).to_have_count(0)
    expect(status).to_have_text("PENDING")
    expect(answer).to_have_value(mine)
    expect(answer).to_be_focused()
    expect(page.locator("#draft-cards .notice")).to_contain_text("your text was kept here")
    page.screenshot(path=browser_env / "console-kept-after-reprocess-390.png", full_page=True)

    # Sent by someone else while the agent writes: a copy of the text stays, focused.
    answer.press("End")
    page.keyboard.type(" And more.")
    second = Draft.objects.exclude(pk=draft.pk).get()
    api.post(f"/drafts/{second.pk}/approve", {"edited": "A colleague's reply."})
    expect(status).to_have_text("SENT")
    kept = page.locator("#kept-edits .notice")
    expect(kept).to_contain_text("This draft was sent while you were writing")
    expect(kept.locator(".edited-copy")).to_have_text(mine + " And more.")
    expect(kept).to_be_focused()

    # The agent's own action takes the focused button away: focus goes to the new card.
    page.get_by_role("button", name="Reprocess").click()
    expect(status).to_have_text("PENDING")
    heading = page.locator("[data-card-heading]")
    expect(heading).to_be_focused()
    # Approving their own reply loses nothing: no copy, the focus on the card.
    answer.fill("Our own reply.")
    answer.press("Control+Enter")
    expect(status).to_have_text("SENT")
    expect(heading).to_be_focused()
    expect(kept).to_have_count(1)
    assert page.evaluate(SIDEWAYS) <= 0


def test_the_queue_keeps_its_place_and_says_only_news(
    browser: Any, browser_env: Path, live_server_url: str, agent_user: Any, make_draft: Any
) -> None:
    """Pushes while an agent walks the queue with j: the focused row keeps the focus, the
    selection moves to the row taking the place of one a colleague took, and the polite count
    is rewritten only when it changes. A long word wraps on a desktop; a phone never scrolls."""
    for n in range(5):
        make_draft(
            f"{LONG_WORD if n == 0 else 'question'} {n} about an order", customer_ref=f"j-{n}"
        )
    api = Api(live_server_url)
    page = log_in_to_console(browser, live_server_url)
    _live(page)
    assert page.evaluate(SIDEWAYS) <= 0
    order = page.locator("#queue-rows tr.row").evaluate_all("rows => rows.map(r => r.id)")
    page.evaluate(WATCH_SUMMARY)
    for _ in range(3):
        page.keyboard.press("j")
    selected = page.locator("#queue-rows tr[aria-selected=true]")
    expect(selected).to_have_id(order[2])

    # The count stays: the region is left alone, and the focused row's link keeps the focus.
    api.post(f"/drafts/{order[0].removeprefix('row-')}/escalate")
    expect(page.locator(f"#{order[0]} .status")).to_have_text("ESCALATED")
    expect(page.locator(f"#{order[2]} a")).to_be_focused()
    assert page.evaluate("window.summaryChanges") == 0

    # A colleague takes the selected row: the next one takes its place, and j goes on from it.
    api.post(f"/drafts/{order[2].removeprefix('row-')}/approve", {"edited": "Done."})
    expect(page.locator(f"#{order[2]}")).to_have_count(0)
    expect(page.locator("#queue-summary")).to_have_text("4 waiting")
    expect(selected).to_have_id(order[3])
    expect(page.locator(f"#{order[3]} a")).to_be_focused()
    page.keyboard.press("j")
    expect(selected).to_have_id(order[4])
    assert page.evaluate("window.summaryChanges") > 0

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(SIDEWAYS) <= 0  # the top bar's links wrap
    page.screenshot(path=browser_env / "console-queue-long-word-390.png", full_page=True)
