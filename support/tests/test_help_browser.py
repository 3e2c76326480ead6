"""The help center and the widget's answers-as-you-type in a real browser (Debian Chromium +
Playwright) against the real ASGI server, PostgreSQL and Redis, with every CSP violation
collected (tests/test_csp_browser.py:Violations): none may happen."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from knowledge.models import KBDocument
from support import dashboard_figures
from support.deflections import query_hash
from support.models import Channel, Conversation, Deflection, Message, MessageRole
from tests.test_csp_browser import Violations

pytestmark = pytest.mark.django_db(transaction=True)

QUESTION = "I want my money back"
# The live server's first search loads the embedding model: on a busy shared machine that alone
# has taken over 20 s, so what waits on a search waits this long.
FIRST_SEARCH_MS = 120_000


@pytest.fixture
def page(browser: Any, live_server_url: str, small_kb: dict) -> Iterator[Page]:
    expect.set_options(timeout=20_000)
    opened: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    opened.set_default_timeout(20_000)
    yield opened
    opened.close()


def _tab_to(page: Page, name: str, presses: int = 30) -> None:
    """Tab through the page until the element whose accessible text is `name` has the focus."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement && document.activeElement.textContent")
        if focused and focused.strip() == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


def test_help_home_search_and_article_by_keyboard(
    page: Page, live_server_url: str, browser_env: Path, small_kb: dict
) -> None:
    violations = Violations(page)
    page.goto(f"{live_server_url}/help/")
    expect(page.get_by_role("heading", level=1)).to_have_text("How can we help?")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")  # skips the header: the next Tab lands in the content
    page.keyboard.press("Tab")
    first_link = page.evaluate("document.activeElement.closest('main') !== null")
    assert first_link, "the skip link did not move the focus into the main content"
    page.screenshot(path=browser_env / "help-home-1280.png")

    search = page.get_by_role("searchbox", name="Search the help center")
    search.focus()
    page.keyboard.type("refund money back")
    page.keyboard.press("Enter")
    expect(page).to_have_url(
        f"{live_server_url}/help/search/?q=refund+money+back&lang=en", timeout=FIRST_SEARCH_MS
    )
    expect(page.get_by_role("status")).to_contain_text("found")
    refund = small_kb["refund"]
    _tab_to(page, "Refund policy")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server_url}/help/{refund.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Refund policy")
    expect(page.get_by_role("article")).to_contain_text("original payment method")
    canonical = page.locator("link[rel=canonical]").get_attribute("href")
    assert canonical == f"{live_server_url}/help/{refund.slug}/"
    page.screenshot(path=browser_env / "help-article-1280.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=browser_env / "help-article-390.png")
    assert violations.of("help center") == []


def _suggest_and_open(page: Page, live_server_url: str, text: str) -> None:
    page.goto(f"{live_server_url}/widget/demo/")
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_label("Message")
    expect(box).to_be_focused()
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()  # the key's greeting
    box.press_sequentially(text, delay=40)  # typed: the widget asks once the typing pauses
    suggestions = page.get_by_role("region", name="Suggested articles")
    expect(suggestions.get_by_role("button")).not_to_have_count(0, timeout=FIRST_SEARCH_MS)
    assert suggestions.get_by_role("button").count() <= 3
    choice = suggestions.get_by_role("button").filter(has_text="Refund policy")
    choice.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Refund policy")).to_be_focused()
    expect(page.get_by_text("within 5-7 business days")).to_be_visible()  # the whole article
    expect(page.get_by_role("group", name="Did this answer your question?")).to_be_visible()


def test_a_suggested_article_that_answers_is_a_deflection(
    page: Page, live_server_url: str, browser_env: Path, small_kb: dict
) -> None:
    violations = Violations(page)
    _suggest_and_open(page, live_server_url, QUESTION)
    page.screenshot(path=browser_env / "widget-suggested-article.png")
    page.get_by_role("button", name="Yes").click()
    expect(page.get_by_role("button", name="Open chat")).to_be_visible()  # closed
    expect(page.get_by_label("Message")).to_be_hidden()

    refund: KBDocument = small_kb["refund"]
    for _ in range(100):  # the POST goes out as the panel closes
        if Deflection.objects.exists():
            break
        page.wait_for_timeout(100)
    deflection = Deflection.objects.get()
    assert deflection.article_id == refund.pk
    assert deflection.query_hash == query_hash(QUESTION)
    assert not Message.objects.exists()  # nothing was sent: no draft, no agent's work
    # Nor an empty conversation: the widget starts one only with the first message.
    assert not Conversation.objects.exists()
    figures = dashboard_figures.deflections(timezone.now() - timedelta(days=1))
    assert (figures["deflected"], figures["rate"]) == (1, 1.0)
    assert figures["top_articles"][0]["kb_id"] == refund.pk
    assert violations.of("widget suggestions, yes") == []


def test_a_suggested_article_that_does_not_answer_keeps_the_text_for_the_chat(
    page: Page, live_server_url: str, small_kb: dict
) -> None:
    violations = Violations(page)
    _suggest_and_open(page, live_server_url, QUESTION)
    page.get_by_role("button", name="No").click()
    box = page.get_by_label("Message")
    expect(box).to_be_focused()
    expect(box).to_have_value(QUESTION)
    expect(page.get_by_role("region", name="Suggested articles")).to_be_hidden()
    assert not Conversation.objects.exists()  # reading and declining wrote nothing
    box.press("Enter")
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    conversation = Conversation.objects.get()  # exactly one, started by the message
    message = Message.objects.get(role=MessageRole.CUSTOMER)
    assert (message.conversation_id, message.body) == (conversation.pk, QUESTION)
    assert conversation.channel == Channel.WIDGET
    assert Message.objects.filter(conversation=conversation).count() == 1
    assert not Deflection.objects.exists()
    assert violations.of("widget suggestions, no") == []
