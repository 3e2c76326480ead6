"""The widget's behaviour for people using a phone, a keyboard or a screen reader, in Debian's
Chromium against the real ASGI server: on a phone the open panel is a modal dialog (the launcher
hidden under it, Tab kept inside); suggestions are announced once per new set; an agent typing is
announced once, not per frame; a failed message says so and is sent again in its own bubble; a
reply rated before is not asked about again after a reload."""

from __future__ import annotations

import re
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from resolver.audit_actor import Actor
from support import review
from support.announce import tell_widget
from support.models import Draft, Message
from support.vocabulary import OPEN_STATUSES

pytestmark = pytest.mark.django_db(transaction=True)
PHONE = {"width": 375, "height": 667}
SHADOW = "document.querySelector('[data-resolver-widget]').shadowRoot"
# The focused element's accessible name inside the widget, or "outside" (the host page).
FOCUSED = f"""() => {{ const a = {SHADOW}.activeElement;
  if (!a) {{ return 'outside'; }}
  return a.getAttribute('aria-label') || (a.labels && a.labels[0] && a.labels[0].textContent)
    || a.textContent.trim(); }}"""
# Records what the widget's status regions say, each time one is written.
RECORD_STATUS = f"""() => {{ window.__said = [];
  const regions = {SHADOW}.querySelectorAll('.panel > [role=status]');
  const shown = () => [...{SHADOW}.querySelectorAll('.suggest li strong')].map(e => e.textContent);
  for (const region of regions) {{
    new MutationObserver(() => window.__said.push({{text: region.textContent, set: shown()}}))
      .observe(region, {{childList: true, characterData: true, subtree: true}});
  }} }}"""


@pytest.fixture
def phone(browser: Any, browser_env: Path) -> Any:
    expect.set_options(timeout=20_000)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    yield context
    context.close()


def _tab(page: Page, key: str, times: int) -> list[str]:
    names = []
    for _ in range(times):
        page.keyboard.press(key)
        names.append(page.evaluate(FOCUSED))
    return names


def _session(page: Page) -> dict[str, Any]:
    script = "Object.entries(localStorage).find(([k]) => k.startsWith('resolver-widget:'))[1]"
    return dict(page.evaluate(f"JSON.parse({script})"))


def test_on_a_phone_the_panel_keeps_the_focus_and_announces_suggestions_once(
    phone: Any, live_server_url: str, small_kb: dict, browser_env: Path
) -> None:
    page = phone.new_page()
    suggests: list[str] = []

    def asked(request: Any) -> None:
        if "/widget/suggest" in request.url:
            suggests.append(request.url)

    page.on("request", asked)
    page.goto(f"{live_server_url}/widget/demo/")
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_label("Message")
    expect(box).to_be_focused()
    # The panel covers the page: the launcher under it is gone, the dialog is modal.
    expect(page.get_by_role("button", name="Hide chat")).to_be_hidden()
    expect(page.get_by_role("dialog")).to_have_attribute("aria-modal", "true")
    # Tab and Shift+Tab go round the panel, never to the launcher or the page behind it.
    assert _tab(page, "Tab", 4) == ["Send", "New conversation", "Close chat", "Message"]
    assert _tab(page, "Shift+Tab", 4) == ["Close chat", "New conversation", "Send", "Message"]

    # Suggestions are announced once per new set, however often they are asked for.
    page.evaluate(RECORD_STATUS)
    box.press_sequentially("how do I change my password", delay=30)
    suggested = page.get_by_role("region", name="Suggested articles").get_by_role("button")
    expect(suggested.first).to_be_visible()
    count = suggested.count()
    plural = "1 article may" if count == 1 else f"{count} articles may"
    expect(
        page.get_by_role("status").filter(has_text=f"{plural} answer your question")
    ).to_be_attached()
    box.press_sequentially(" please", delay=450)  # a request after each pause
    page.wait_for_timeout(1_000)
    page.screenshot(path=browser_env / "widget-ux-phone-suggest.png")
    said = [entry for entry in page.evaluate("window.__said") if entry["text"]]
    assert len(suggests) >= 3, suggests
    assert said and all("may answer your question" in entry["text"] for entry in said), said
    sets = [entry["set"] for entry in said]
    assert all(a != b for a, b in pairwise(sets)), said  # no set twice running

    page.keyboard.press("Escape")
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_focused()
    expect(page.get_by_role("dialog", include_hidden=True)).to_have_attribute("aria-modal", "false")


def test_typing_a_failed_message_and_a_rating_after_a_reload(
    phone: Any, live_server_url: str, agent_user: Any, browser_env: Path
) -> None:
    page = phone.new_page()
    page.goto(f"{live_server_url}/widget/demo/")
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_label("Message")
    box.fill("where is my parcel?")
    box.press("Enter")
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    conversation_id = _session(page)["conversation_id"]

    # An agent typing sends a frame every 2 s: the status region is written once for it.
    page.evaluate(RECORD_STATUS)
    for _ in range(3):
        tell_widget(conversation_id, {"type": "typing"})
        time.sleep(0.5)
    expect(page.get_by_text("is typing…")).to_be_visible()
    page.wait_for_timeout(500)
    said = [entry["text"] for entry in page.evaluate("window.__said")]
    assert said == ["Northwind Outfitters is typing…"], said

    # A message that could not be sent says so in words, and goes again in the same bubble:
    # with Enter (the text is put back in the box) or with its Retry button.
    for text, resend in (("are you there?", "Enter"), ("one more thing", "Retry")):
        phone.set_offline(True)
        box.fill(text)
        box.press("Enter")
        failed = page.locator(".msg.customer").filter(has_text=text)
        expect(failed).to_contain_text("Not sent.")
        expect(box).to_have_value(text)
        page.screenshot(path=browser_env / "widget-ux-phone-failed.png")
        phone.set_offline(False)
        if resend == "Enter":
            box.press("Enter")
        else:
            failed.get_by_role("button", name="Retry").click()
            expect(box).to_have_value("")
        expect(failed).to_have_count(1)
        expect(failed).not_to_have_class(re.compile(r"sending|failed"))
        expect(failed).not_to_contain_text("Not sent.")
        expect(failed.get_by_role("button", name="Retry")).to_have_count(0)
        assert Message.objects.filter(conversation_id=conversation_id, body=text).count() == 1

    # A rated reply is shown as rated after a reload, not asked about again.
    draft = Draft.objects.filter(conversation_id=conversation_id, status__in=OPEN_STATUSES).latest(
        "created_at"
    )
    review.approve(draft.pk, Actor.for_user(agent_user), "Your parcel left the depot today.")
    expect(page.get_by_text("Your parcel left the depot today.")).to_be_visible()
    page.get_by_role("button", name="Helpful", exact=True).click()
    expect(page.get_by_text("Thanks for your feedback.")).to_be_visible()
    page.reload()
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_text("Your parcel left the depot today.")).to_be_visible()
    rating = page.get_by_role("group", name="Rate this answer")
    expect(rating).to_contain_text("You found this helpful.")
    expect(rating.get_by_role("button", name="Helpful", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(rating.get_by_role("button", name="Not helpful")).to_have_attribute(
        "aria-pressed", "false"
    )
    page.screenshot(path=browser_env / "widget-ux-phone-rated.png")
