"""Console benchmarks (#6 targets): draft committed → visible in an open console, and the queue
page's server time with 10,000 drafts in the database.

1. Visibility. uvicorn (one process, as `make run` starts it) and one warm Dramatiq worker on the
   bench's own services (var/bench); Debian Chromium (Playwright) keeps a console page open. One
   customer message at a time is ingested; the worker drafts it and commits. A MutationObserver in
   the page stamps the wall-clock time at which the draft shows SUGGESTED/ESCALATED. The latency
   is that stamp minus the draft's `completed_at`, which the worker sets just before its commit
   (so the commit itself is inside the measure). Same clock: browser and server share the
   machine. Pages: the queue (filtered to the bench's customer: new drafts sort after every
   older open one, and other benches leave theirs open), before and after seeding 10,000 open
   drafts (every push re-runs the page's query over all drafts and re-renders its rows for each
   open console), and, seeded, a conversation page receiving follow-up messages. Each answered
   draft is then rejected, as an agent would close it, so the pages do not fill up.
2. Server time. GET /console/ in process (middleware, session, queries, template) with 10,000
   open drafts: the default view, a status filter and a text search.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from _setup import latency_summary, setup_django, write_result
from ingest import HOST, start_server

from resolver.polling import wait_for

PORT = 8766
BASE = f"http://{HOST}:{PORT}"
SEED_REF = "seeded-queue"
USER, PASSWORD = "bench-agent", "bench-agent-pw-1"
QUESTIONS = [
    "how do I change my password?",
    "I can't log in to my profile",
    "I want my money back",
    "how do I clean the Zephyr 3000 jug?",
    "what is your refund policy?",
]

# Stamps, per draft id, when its queue row or card first shows an answered status.
OBSERVER = """
window.__seen = {};
new MutationObserver(() => {
  for (const row of document.querySelectorAll('#queue-rows tr.row, #draft-cards [data-draft]')) {
    const id = row.id.replace(/^(row|draft)-/, '');
    const status = row.querySelector('.status').textContent.trim();
    if (!(id in window.__seen) && (status === 'SUGGESTED' || status === 'ESCALATED')) {
      window.__seen[id] = performance.timeOrigin + performance.now();
    }
  }
}).observe(document.body, {subtree: true, childList: true, characterData: true});
"""


def _agent() -> None:
    from django.contrib.auth.models import User

    from resolver.bootstrap import ensure_agents_group

    user, _ = User.objects.get_or_create(username=USER)
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(ensure_agents_group())


def _kb() -> None:
    """The demo KB, as `make run` loads it (a no-op when the bench's KB has articles)."""
    from django.core.management import call_command

    call_command("load_demo_kb")


def seed(count: int) -> None:
    """`count` open drafts (mixed status, urgency, intent) with their conversations and messages."""
    from support.models import Conversation, Draft, DraftStatus, Message, MessageRole

    rng = random.Random(7)
    statuses = [DraftStatus.SUGGESTED, DraftStatus.ESCALATED, DraftStatus.PENDING]
    conversations = [Conversation(customer_ref=SEED_REF) for _ in range(count)]
    Conversation.objects.bulk_create(conversations, batch_size=2000)
    messages = [
        Message(conversation=c, role=MessageRole.CUSTOMER, body=f"{rng.choice(QUESTIONS)} #{n}")
        for n, c in enumerate(conversations)
    ]
    Message.objects.bulk_create(messages, batch_size=2000)
    drafts = []
    for message in messages:
        status = rng.choice(statuses)
        answered = status != DraftStatus.PENDING
        drafts.append(
            Draft(
                message=message,
                conversation_id=message.conversation_id,
                status=status,
                escalation_reason="low_confidence" if status == DraftStatus.ESCALATED else "",
                intent=rng.choice(["recover_password", "get_refund", "track_order"])
                if answered
                else "",
                urgency=rng.choice(["LOW", "NORMAL", "HIGH"]) if answered else "",
                sentiment="NEUTRAL" if answered else "",
                confidence=round(rng.random(), 3) if answered else None,
                answer="A seeded answer." if answered else "",
            )
        )
    Draft.objects.bulk_create(drafts, batch_size=2000)


def unseed() -> None:
    from support.models import AuditLog, Conversation

    conversations = Conversation.objects.filter(customer_ref__in=[SEED_REF, "bench-console"])
    AuditLog.objects.filter(conversation__in=conversations).delete()
    conversations.delete()


def open_console(playwright: Any, path: str = "/console/") -> Any:
    from tests.helpers import launch_chromium

    browser = launch_chromium(playwright)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{BASE}/console/")
    page.get_by_label("Username").fill(USER)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{BASE}/console/")
    if path != "/console/":
        page.goto(f"{BASE}{path}")
    # A selector, not wait_for_function: that evaluates a string, which the CSP forbids.
    page.locator("body[data-live='open']").wait_for(state="attached")
    page.evaluate(OBSERVER)
    return browser, page


def _ingest(pool: ThreadPoolExecutor, body: str, conversation: Any = None) -> Any:
    """A customer message, committed and broadcast from another thread: this one runs
    Playwright's event loop, where the broadcast after commit (async_to_sync) may not run."""
    from support.inbound import receive_message

    future = pool.submit(
        receive_message, body, conversation=conversation, customer_ref="bench-console"
    )
    return future.result()[1]


def _visible_after_commit(page: Any, draft: Any) -> float:
    from support.models import Draft

    script = f"window.__seen['{draft.pk}']"
    if not wait_for(lambda: page.evaluate(script), 30, interval=0.01):
        raise RuntimeError(f"draft {draft.pk} never showed up in the console")
    completed = Draft.objects.values_list("completed_at", flat=True).get(pk=draft.pk)
    assert completed is not None, "a draft the console shows as answered is completed"
    return float(page.evaluate(script)) - completed.timestamp() * 1000


def _close(pool: ThreadPoolExecutor, draft: Any) -> None:
    """Rejects the draft, as an agent would close it, so the page does not fill up."""
    from resolver.audit_actor import Actor
    from support import review

    pool.submit(review.reject, draft.pk, Actor.agent(), "bench").result()
    time.sleep(0.1)


def queue_visibility(page: Any, pool: ThreadPoolExecutor, count: int) -> dict[str, Any]:
    latencies = []
    for n in range(count):
        draft = _ingest(pool, QUESTIONS[n % len(QUESTIONS)])
        latencies.append(_visible_after_commit(page, draft))
        _close(pool, draft)
    return latency_summary(latencies)


def conversation_visibility(playwright: Any, pool: ThreadPoolExecutor, count: int) -> Any:
    from support.models import Draft

    first = _ingest(pool, QUESTIONS[0])
    wait_for(lambda: Draft.objects.get(pk=first.pk).completed_at is not None, 30)
    browser, page = open_console(playwright, f"/console/conversations/{first.conversation_id}/")
    latencies = []
    for n in range(count):
        draft = _ingest(pool, QUESTIONS[n % len(QUESTIONS)], first.conversation)
        latencies.append(_visible_after_commit(page, draft))
        _close(pool, draft)
    browser.close()
    return latency_summary(latencies)


def server_time(requests: int) -> dict[str, Any]:
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client(HTTP_HOST=HOST)
    client.force_login(User.objects.get(username=USER))
    result = {}
    for name, query in (
        ("default", ""),
        ("status_filter", "?status=ESCALATED"),
        ("search", "?q=jug"),
    ):
        client.get(f"/console/{query}")  # warm
        timings = []
        for _ in range(requests):
            started = time.perf_counter()
            response = client.get(f"/console/{query}")
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        result[name] = latency_summary(timings)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=60)
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    # Playwright's sync API keeps an event loop in this thread; the ORM calls here are plain
    # sync code, which Django would otherwise refuse as "async".
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    setup_django()
    from playwright.sync_api import sync_playwright

    from resolver.broker import start_worker
    from resolver.processes import stop_all
    from support.models import Draft

    unseed()
    _agent()
    _kb()
    server = start_server("resolver.settings", PORT)
    worker = start_worker(threads=1)
    pool = ThreadPoolExecutor(1)
    try:
        # New drafts sort after every older open one (other benches leave theirs open), so
        # the queue page is filtered to the bench's customer; the filter runs over all drafts.
        queue_page = "/console/?q=bench-console"
        with sync_playwright() as playwright:
            open_before = Draft.objects.needing_human().count()
            browser, page = open_console(playwright, queue_page)
            short = queue_visibility(page, pool, args.messages)
            browser.close()
            seed(args.drafts)
            open_drafts = Draft.objects.needing_human().count()
            browser, page = open_console(playwright, queue_page)
            loaded = queue_visibility(page, pool, args.messages)
            browser.close()
            conversation = conversation_visibility(playwright, pool, args.messages)
        times = server_time(args.requests)
    finally:
        stop_all([server, worker])
        unseed()
    write_result(
        "console",
        {
            "visible_after_commit_ms": {
                "queue_page": short,
                "queue_page_with_seeded_drafts": loaded,
                "conversation_page_with_seeded_drafts": conversation,
            },
            "open_drafts": {"before_seeding": open_before, "after_seeding": open_drafts},
            "queue_page_server_ms": times,
            "targets": {"visible_p95_ms": 100, "queue_page_ms": 50},
        },
    )


if __name__ == "__main__":
    main()
