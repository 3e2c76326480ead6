"""The widget in a real browser (Debian Chromium + Playwright) against the real ASGI server, a
worker, PostgreSQL and Redis: the demo page, another site that the key allows, one it does not."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from support.models import Conversation, Message, WidgetKey
from support.tests.conftest import Api

pytestmark = pytest.mark.django_db(transaction=True)
QUESTION = "how do I change my password?"


@pytest.fixture
def widget_env(
    browser: Any,
    browser_env: Path,
    live_server_url: str,
    live_worker: subprocess.Popen,
    small_kb: dict,
) -> Path:
    expect.set_options(timeout=20_000)
    return browser_env


def _open_chat(page: Page) -> None:
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_label("Message")).to_be_focused()


def _send(page: Page, text: str) -> None:
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_text(text)).to_be_visible()


def _session(page: Page) -> dict[str, Any]:
    script = "Object.entries(localStorage).find(([k]) => k.startsWith('resolver-widget:'))[1]"
    return dict(page.evaluate(f"JSON.parse({script})"))


def test_demo_page_round_trip_history_and_privacy(
    browser: Any, widget_env: Path, live_server_url: str
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{live_server_url}/widget/demo/")
    _open_chat(page)
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()
    assert not Conversation.objects.exists()  # opening the panel starts nothing
    _send(page, QUESTION)
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    session = _session(page)
    assert [str(pk) for pk in Conversation.objects.values_list("pk", flat=True)] == [
        session["conversation_id"]
    ]
    api = Api(live_server_url)
    conversation = api.get(f"/conversations/{session['conversation_id']}")
    draft_id = conversation["messages"][0]["draft"]["id"]
    api.post(
        f"/drafts/{draft_id}/approve", {"edited": "Use 'Forgot password' <b>on</b> the login page."}
    )
    reply = page.get_by_text("Use 'Forgot password' <b>on</b> the login page.")
    expect(reply).to_be_visible()  # live, and as text: the <b> is not markup
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_hidden()
    page.screenshot(path=widget_env / "widget-demo-1280.png")

    page.reload()
    _open_chat(page)
    expect(page.get_by_text(QUESTION)).to_be_visible()  # memory across visits
    expect(page.get_by_text("Use 'Forgot password' <b>on</b> the login page.")).to_be_visible()

    stranger = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
    stranger.goto(f"{live_server_url}/widget/demo/")
    _open_chat(stranger)
    expect(stranger.get_by_text("Hi! How can we help?")).to_be_visible()
    expect(stranger.get_by_text(QUESTION)).to_have_count(0)
    _send(stranger, "Do you ship abroad?")  # their own conversation starts with their message
    expect(stranger.get_by_text("An agent is reviewing your question.")).to_be_visible()
    own = _session(stranger)
    assert own["conversation_id"] != session["conversation_id"]
    status = stranger.evaluate(
        """([id, token]) => fetch('/api/v1/widget/conversations/' + id,
               {headers: {Authorization: 'Bearer ' + token}}).then(r => r.status)""",
        [session["conversation_id"], own["token"]],
    )
    assert status == 403
    stranger.screenshot(path=widget_env / "widget-demo-390.png")


def test_new_conversation_starts_with_the_next_message(
    browser: Any, widget_env: Path, live_server_url: str
) -> None:
    page = browser.new_page()
    page.goto(f"{live_server_url}/widget/demo/")
    _open_chat(page)
    _send(page, QUESTION)
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    first = _session(page)["conversation_id"]

    page.get_by_role("button", name="New conversation").click()
    expect(page.get_by_label("Message")).to_be_focused()
    expect(page.get_by_text(QUESTION)).to_have_count(0)
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()
    assert page.evaluate("Object.keys(localStorage).length") == 0  # the old one is forgotten
    page.reload()  # and stays forgotten; still nothing new on the server
    _open_chat(page)
    expect(page.get_by_text("Hi! How can we help?")).to_be_visible()
    expect(page.get_by_text(QUESTION)).to_have_count(0)
    assert [str(pk) for pk in Conversation.objects.values_list("pk", flat=True)] == [first]

    _send(page, "And where is my parcel?")
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    second = _session(page)["conversation_id"]
    assert second != first
    assert Conversation.objects.count() == 2
    assert Message.objects.get(conversation_id=second).body == "And where is my parcel?"


class _ShopPage(BaseHTTPRequestHandler):
    html = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def shop(live_server_url: str, db: None) -> Iterator[tuple[str, WidgetKey]]:
    """A customer's website on another origin, embedding the widget with its own key."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _ShopPage)
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    key = WidgetKey.objects.create(name="Shop", allowed_origins=[origin], company_name="Shop")
    tag = f'<script src="{live_server_url}/static/widget.js" data-key="{key.public_key}" defer>'
    _ShopPage.html = f"<!doctype html><title>Shop</title><h1>Shop</h1>{tag}</script>".encode()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield origin, key
    server.shutdown()


def test_another_site_that_the_key_allows(
    browser: Any, widget_env: Path, live_server_url: str, shop: tuple[str, WidgetKey]
) -> None:
    origin, _ = shop
    page = browser.new_page()
    page.goto(origin)
    _open_chat(page)
    _send(page, QUESTION)
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    conversation_id = _session(page)["conversation_id"]
    api = Api(live_server_url)
    draft_id = api.get(f"/conversations/{conversation_id}")["messages"][0]["draft"]["id"]
    api.post(f"/drafts/{draft_id}/approve", {"edited": "Cross-origin reply"})
    expect(page.get_by_text("Cross-origin reply")).to_be_visible()


def test_a_site_the_key_does_not_allow_is_refused(
    browser: Any, widget_env: Path, shop: tuple[str, WidgetKey]
) -> None:
    origin, key = shop
    WidgetKey.objects.filter(pk=key.pk).update(allowed_origins=["https://elsewhere.example"])
    page = browser.new_page()
    page.goto(origin)
    page.get_by_role("button", name="Open chat").click()
    # The preflight is refused, which a script cannot tell from being offline.
    expect(page.get_by_role("alert")).to_contain_text("may not be allowed to use it")
    assert not Conversation.objects.exists()


def test_the_widget_catches_up_after_a_reconnect(
    browser: Any, widget_env: Path, asgi_server: Any, agent_user: Any
) -> None:
    from resolver.audit_actor import Actor
    from support import review
    from support.models import Draft

    page = browser.new_page()
    page.goto(f"{asgi_server.url}/widget/demo/")
    _open_chat(page)
    _send(page, QUESTION)
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    conversation_id = _session(page)["conversation_id"]
    asgi_server.stop()  # the reply below is pushed to nobody
    draft = Draft.objects.get(conversation_id=conversation_id)
    review.approve(draft.pk, Actor.for_user(agent_user), "Answered while you were offline")
    asgi_server.start()  # same port: the widget reconnects with backoff and catches up
    expect(page.get_by_text("Answered while you were offline")).to_be_visible()


def test_the_customer_rates_the_agents_reply_and_comments(
    browser: Any, widget_env: Path, live_server_url: str
) -> None:
    from support.models import CustomerRating

    page = browser.new_page()
    page.goto(f"{live_server_url}/widget/demo/")
    _open_chat(page)
    _send(page, QUESTION)
    # Shown once the server has stored the message (the message itself shows before that).
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    expect(page.get_by_role("group", name="Rate this answer")).to_have_count(0)  # no reply yet
    api = Api(live_server_url)
    conversation_id = _session(page)["conversation_id"]
    draft_id = api.get(f"/conversations/{conversation_id}")["messages"][0]["draft"]["id"]
    api.post(f"/drafts/{draft_id}/approve", {"edited": "Use 'Forgot password' on the login page."})
    expect(page.get_by_text("Use 'Forgot password' on the login page.")).to_be_visible()
    page.get_by_role("button", name="Not helpful").click()
    expect(page.get_by_role("status").get_by_text("Thanks for your feedback.")).to_be_visible()
    rating = CustomerRating.objects.get()
    assert (str(rating.conversation_id), rating.score, rating.comment) == (conversation_id, -1, "")
    # Then an optional comment, which updates the same rating.
    comment = page.get_by_label("Tell us more (optional)")
    expect(comment).to_be_focused()  # the thumb that was clicked is gone
    comment.fill("I could not find the login page.")
    page.screenshot(path=widget_env / "widget-rating-comment.png")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_text("We received your comment.")).to_be_visible()
    expect(comment).to_have_count(0)
    rating = CustomerRating.objects.get()
    assert (rating.score, rating.comment) == (-1, "I could not find the login page.")
