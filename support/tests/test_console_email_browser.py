"""An e-mail conversation in the console, in a real browser (Debian Chromium + Playwright) against
the real ASGI server, PostgreSQL and Redis: the e-mail comes in through POST /inbound/email, the
page shows its subject, sender and files without one CSP violation, a file downloads, and the
original e-mail's page shows its inline image under its own policy."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page, expect

from support.tests.conftest import Api
from support.tests.email_fixtures import unique_sender
from support.tests.emails.build import PDF, PNG, SUPPORT, build
from tests.test_csp_browser import Violations

pytestmark = pytest.mark.django_db(transaction=True)

SUBJECT = "Cracked lid on order 1042"


def _post_email(url: str) -> dict[str, Any]:
    sender, _ = unique_sender("Anna Keller")
    raw = build(
        "Hi,\n\nThe lid arrived cracked, photo and invoice attached.\n\nAnna\n",
        sender=sender,
        to=SUPPORT,
        subject=SUBJECT,
        headers={"Cc": "Bob Keller <bob@gmail.example>"},
        html='<p>The lid arrived <b>cracked</b>:</p><img alt="lid" src="cid:lid@client.example">',
        attachments=[
            {
                "data": PNG,
                "type": "image/png",
                "filename": "lid.png",
                "cid": "<lid@client.example>",
                "disposition": "inline",
            },
            {"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"},
        ],
    )
    response = Api(url).client.post(
        "/inbound/email", content=raw, headers={"Content-Type": "message/rfc822"}
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def test_an_email_conversation_in_the_browser(
    browser: Any, live_server_url: str, agent_user: User
) -> None:
    received = _post_email(live_server_url)
    page: Page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(20_000)
    violations = Violations(page)
    page.goto(f"{live_server_url}/console/login/")
    page.get_by_label("Username").fill("agnes")
    page.get_by_label("Password").fill("pw-agnes-123")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{live_server_url}/console/")
    expect(page.locator(f"#row-{received['draft_id']} .chip.channel")).to_have_text(
        f"E-mail: {SUBJECT}"
    )

    page.goto(f"{live_server_url}/console/conversations/{received['conversation_id']}/")
    page.locator("body[data-live='open']").wait_for(state="attached")
    expect(page.locator(".conversation-subject")).to_have_text(SUBJECT)
    expect(page.locator(".email-cc")).to_have_text("bob@gmail.example")
    with page.expect_download() as download:
        page.get_by_role("link", name="invoice.pdf").click()
    assert download.value.suggested_filename == "invoice.pdf"
    with open(download.value.path(), "rb") as file:
        assert file.read() == PDF
    seen = violations.of("conversation")

    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Original e-mail").click()
    original = opened.value
    original.wait_for_load_state("load")
    expect(original.locator("b")).to_have_text("cracked")
    # Its inline image loaded from the attachment endpoint, under the page's own policy.
    assert original.locator("img[alt=lid]").evaluate("img => img.naturalWidth") > 0
    page.close()
    original.close()
    assert seen == []
