"""The widget's identity attributes in a real browser (Debian Chromium + Playwright) against the
real ASGI server: the host page's data-customer-ref and data-customer-hash make the visitor that
customer; another ref on the same browser starts another conversation, anonymous without its
hash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from conftest import AsgiServer
from support.models import Conversation, Message, MessageRole, WidgetKey
from support.vocabulary import Verification
from support.widget.identity import customer_hash

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "browser-identity-secret"


class _ShopPage(BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.pages.get(self.path, b""))

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server(transactional_db: None) -> Iterator[AsgiServer]:
    running = AsgiServer(WIDGET_IDENTITY_SECRET=SECRET)
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def shop(server: AsgiServer) -> Iterator[str]:
    """The shop's site: /anna (logged in, with the hash its server computed), /mallory (claims a
    ref, with a hash for another one)."""
    http = ThreadingHTTPServer(("127.0.0.1", 0), _ShopPage)
    origin = f"http://127.0.0.1:{http.server_address[1]}"
    key = WidgetKey.objects.create(name="Shop", allowed_origins=[origin], company_name="Shop")

    def page(ref: str, given: str) -> bytes:
        tag = (
            f'<script src="{server.url}/static/widget.js" data-key="{key.public_key}" '
            f'data-customer-ref="{ref}" data-customer-hash="{given}" defer></script>'
        )
        return f"<!doctype html><title>Shop</title><h1>Shop</h1>{tag}".encode()

    right = customer_hash("C-1042", SECRET)
    _ShopPage.pages = {"/anna": page("C-1042", right), "/mallory": page("C-2000", right)}
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield origin
    http.shutdown()


def _ask(page: Page, text: str) -> Message:
    page.get_by_role("button", name="Open chat").click()
    box = page.get_by_label("Message")
    box.fill(text)
    box.press("Enter")
    expect(page.get_by_text("An agent is reviewing your question.")).to_be_visible()
    message = Message.objects.filter(body=text, role=MessageRole.CUSTOMER)
    return message.select_related("conversation").get()


def test_the_host_pages_identity_reaches_the_conversation(browser: Any, shop: str) -> None:
    expect.set_options(timeout=20_000)
    page = browser.new_page()
    page.goto(f"{shop}/anna")
    anna = _ask(page, "Where is my order?")
    assert anna.conversation.customer_ref == "C-1042"
    assert anna.verified_by == Verification.WIDGET_HASH

    # Someone else logs in on the same browser: not Anna's conversation, and a hash that is not
    # theirs leaves them anonymous.
    page.goto(f"{shop}/mallory")
    mallory = _ask(page, "Refund my order")
    assert mallory.conversation_id != anna.conversation_id
    assert mallory.conversation.customer_ref == "widget:C-2000"
    assert mallory.verified_by == Verification.NONE
    assert Conversation.objects.filter(customer__ref="C-1042").count() == 1
