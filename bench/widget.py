"""Widget benchmark (#7 target): agent approval → reply visible in the customer's widget.

uvicorn (one process, as `make run` starts it) on the bench's own services (var/bench); Debian
Chromium (Playwright) opens /widget/demo/ (the first message starts the conversation). Each
round the customer sends a message from the widget, then an agent approves its draft
(support.review.approve, as the console and the API do). A MutationObserver on the widget's
shadow root stamps the wall-clock time at which the reply appears; the latency is that stamp
minus the draft's `reviewed_at`, set inside the approving transaction (so its commit is inside
the measure). Browser and server share the machine's clock. Also reports widget.js's size
(target ≤ 30 KB).
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _setup import ROOT, latency_summary, setup_django, write_result
from ingest import HOST, start_server

from resolver.polling import wait_for

PORT = 8767
BASE = f"http://{HOST}:{PORT}"

OBSERVER = """
() => {
  window.__seen = {};
  const root = document.querySelector('[data-resolver-widget]').shadowRoot;
  new MutationObserver(() => {
    for (const item of root.querySelectorAll('.msg.agent')) {
      const text = item.firstChild.textContent;
      if (!(text in window.__seen)) {
        window.__seen[text] = performance.timeOrigin + performance.now();
      }
    }
  }).observe(root, {subtree: true, childList: true});
}
"""


def open_widget(playwright: Any) -> tuple[Any, Any]:
    from tests.helpers import launch_chromium

    browser = launch_chromium(playwright)
    page = browser.new_page()
    page.goto(f"{BASE}/widget/demo/")
    page.get_by_role("button", name="Open chat").click()
    page.get_by_text("Hi! How can we help?").wait_for()
    page.evaluate(OBSERVER)
    return browser, page


def round_trip(page: Any, pool: ThreadPoolExecutor, n: int, agent: Any) -> float:
    from resolver.audit_actor import Actor
    from support import review
    from support.models import Draft

    page.get_by_label("Message").fill(f"question {n}: how do I change my password?")
    page.get_by_label("Message").press("Enter")
    # The first message starts the conversation: its id is stored once the start has answered.
    stored = "Object.entries(localStorage).find(([k]) => k.startsWith('resolver-widget:'))"
    page.wait_for_function(f"!!{stored}", timeout=10_000)
    conversation = page.evaluate(f"JSON.parse({stored}[1])")["conversation_id"]
    pending = Draft.objects.filter(
        conversation_id=conversation, message__body__startswith=f"question {n}:"
    )
    if not wait_for(pending.exists, 10, interval=0.01):
        raise RuntimeError("the widget's message never arrived")
    reply = f"Reply number {n}."
    draft = pool.submit(review.approve, pending.get().pk, Actor.for_user(agent), reply).result()
    script = f"window.__seen[{reply!r}]"
    if not wait_for(lambda: page.evaluate(script), 10, interval=0.005):
        raise RuntimeError(f"reply {n} never showed up in the widget")
    assert draft.reviewed_at is not None, "approve() stamps reviewed_at"
    return float(page.evaluate(script)) - draft.reviewed_at.timestamp() * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args()
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are plain
    # sync code, which Django would otherwise refuse as "async".
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # One customer sending 60 messages in a minute would be rate-limited (30 per token); this
    # measures reply delivery, not the limiter. The server inherits the setting.
    os.environ["WIDGET_RATE_LIMIT_PER_MINUTE"] = "0"
    setup_django()
    from django.contrib.auth.models import User
    from playwright.sync_api import sync_playwright

    from resolver.processes import stop_all

    agent, _ = User.objects.get_or_create(username="bench-widget-agent")
    server = start_server("resolver.settings", PORT)
    pool = ThreadPoolExecutor(1)  # approvals broadcast after commit: not from Playwright's loop
    latencies = []
    try:
        with sync_playwright() as playwright:
            browser, page = open_widget(playwright)
            for n in range(args.rounds):
                latencies.append(round_trip(page, pool, n, agent))
                time.sleep(0.05)
            browser.close()
    finally:
        stop_all([server])
    size = (ROOT / "static" / "widget.js").stat().st_size
    write_result(
        "widget",
        {
            "reply_visible_after_approval_ms": latency_summary(latencies),
            "widget_js_bytes": size,
            "targets": {"reply_visible_p95_ms": 150, "widget_js_bytes": 30 * 1024},
        },
    )


if __name__ == "__main__":
    main()
