"""The Content-Security-Policy (resolver/security_headers.py) in a real browser: Debian's
Chromium loads the console, the admin, the API docs and the widget demo from the real ASGI
server and reports every violation (the `securitypolicyviolation` event and the console's CSP
errors). A page whose script, style or socket the policy blocked fails here, not in production."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from support.inbound import receive_message
from support.models import Channel

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

COLLECT = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || "inline"} in ${where}`);
});
"""


class Violations:
    """What the page reported: violation events and console errors that name the policy."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.console: list[str] = []
        page.add_init_script(COLLECT)
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def of(self, path: str) -> list[str]:
        events = self.page.evaluate("window.__csp || []")
        found = [f"{path}: {line}" for line in [*events, *self.console]]
        self.console.clear()
        return found


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    opened: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    opened.set_default_timeout(20_000)
    yield opened
    opened.close()


def _log_in(page: Page, url: str) -> None:
    page.goto(f"{url}/console/login/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("pw-root-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/console/")


def test_console_admin_and_widget_pages_break_no_policy(page: Page, live_server_url: str) -> None:
    root = User.objects.create_superuser("root", password="pw-root-123")
    message, draft = receive_message("where is my order?", channel=Channel.WIDGET, enqueue=False)
    violations = Violations(page)
    seen: list[str] = []

    def visit(path: str, ready: str | None = None) -> None:
        page.goto(f"{live_server_url}{path}")
        if ready:  # the page's own script ran (and its socket opened)
            page.locator(ready).wait_for(state="attached")
        page.wait_for_load_state("networkidle")
        seen.extend(violations.of(path))

    _log_in(page, live_server_url)
    seen.extend(violations.of("/console/login/"))
    live = "body[data-live='open']"  # set by console.js once /ws/console/ is open
    visit("/console/", live)
    visit(f"/console/conversations/{message.conversation_id}/", live)
    page.get_by_role("button", name="Reject").click()  # the console's own dialog
    expect(page.get_by_label("Reason")).to_be_visible()
    seen.extend(violations.of("reject dialog"))
    for path in (
        "/console/dashboard/",
        "/console/learning/",
        "/console/autonomy/",
        "/console/evals/",
    ):
        visit(path)

    for path in (
        "/admin/",
        f"/admin/support/conversation/{message.conversation_id}/change/",
        f"/admin/support/draft/{draft.pk}/change/",
        f"/admin/auth/user/{root.pk}/change/",  # the two-box group and permission pickers
        "/admin/knowledge/kbdocument/",  # templates/admin/knowledge: object tools
        "/admin/knowledge/kbdocument/add/",
        "/admin/support/widgetkey/add/",
        "/admin/support/order/add/",
    ):
        visit(path)
    page.locator("#calendarlink0").click()  # the admin's date picker, built by its script
    expect(page.locator("#calendarbox0")).to_be_visible()
    seen.extend(violations.of("admin date picker"))

    visit("/api/v1/docs")  # django-ninja's Swagger UI: its own scripts, a JSON data block
    expect(page.locator(".swagger-ui .info")).to_be_visible()
    seen.extend(violations.of("/api/v1/docs rendered"))

    visit("/widget/demo/")
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_label("Message")).to_be_visible()
    seen.extend(violations.of("widget"))
    assert seen == []
