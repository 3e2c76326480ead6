"""The running totals /metrics and the dashboard read (support/tallies.py, kept by triggers) equal
the figures counted from the rows after every action that changes them: drafts created, drafted,
approved, rejected, escalated, auto-sent, conversations resolved, customers erased, retention,
deletions, webhook deliveries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from agents.actors import process_message
from resolver.audit_actor import Actor
from support import customer_data, review, tallies
from support.dashboard_figures import queue
from support.inbound import message_created, receive_message
from support.models import (
    Conversation,
    DeliveryStatus,
    Draft,
    DraftStatus,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.tests.conftest import MakeDraft

AGENT = Actor.system("test")


def _plain(figures: tallies.Figures) -> dict[str, Any]:
    drafts = {
        f"{status}/{reason}": {
            column: float(value) if isinstance(value, float | Decimal) else value
            for column, value in row.items()
        }
        for (status, reason), row in figures.drafts.items()
    }
    return {
        "drafts": drafts,
        "conversations": figures.conversations,
        "deliveries": figures.deliveries,
    }


def assert_same(actual: dict[str, Any], expected: dict[str, Any]) -> None:
    """Equal, the sums of seconds to within float rounding (added in another order)."""
    assert actual["conversations"] == expected["conversations"]
    assert actual["deliveries"] == expected["deliveries"]
    assert actual["drafts"].keys() == expected["drafts"].keys()
    for key, row in expected["drafts"].items():
        assert actual["drafts"][key] == pytest.approx(row), key


def assert_kept() -> tallies.Figures:
    """The tallies equal the recount, and the dashboard's queue and /metrics show them."""
    kept, counted = tallies.current(), tallies.from_rows()
    assert_same(_plain(kept), _plain(counted))
    shown = queue(timezone.now())
    by_status = counted.drafts_by_status()
    assert {s: n for s, n in shown["drafts_by_status"].items() if n} == {
        s: n for s, n in by_status.items() if n
    }
    assert shown["conversations"]["open"] == counted.conversations.get("OPEN", 0)
    text = Client().get("/metrics").content.decode()
    for status, n in by_status.items():
        if n:
            assert f'resolver_drafts{{status="{status}"}} {float(n)}' in text
    assert f"resolver_time_to_draft_seconds_count {float(counted.total('completed'))}" in text
    return kept


def _drafted(body: str, callbacks: Callable[..., Any]) -> Draft:
    """A customer message drafted by the agent graph, as a worker does."""
    message, draft = receive_message(body, customer_ref="cust-tally", enqueue=False)
    event = message_created(message)
    with callbacks(execute=True):
        process_message.fn(str(message.pk), event["event_id"], event=event)
    return Draft.objects.get(pk=draft.pk)


def test_the_tallies_follow_every_action(
    make_draft: MakeDraft, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hook")
    assert_kept()
    receive_message("where is my parcel?", customer_ref="cust-tally", enqueue=False)
    assert tallies.current().drafts_by_status() == {"PENDING": 1}
    assert_kept()

    drafted = [_drafted(body, django_capture_on_commit_callbacks) for body in ("refund?", "hi")]
    assert all(d.completed_at is not None for d in drafted)
    assert_kept()

    drafts = [make_draft(f"question {n}", customer_ref="cust-tally") for n in range(5)]
    Draft.objects.filter(pk=drafts[0].pk).update(tokens=700, cost=Decimal("0.0123"))
    with django_capture_on_commit_callbacks(execute=True):
        review.approve(drafts[0].pk, AGENT, "An edited reply.")
        review.reject(drafts[1].pk, AGENT, "wrong", "incorrect")
        review.escalate(drafts[2].pk, AGENT)
        review.auto_send(drafts[3].pk)
    assert Draft.objects.get(pk=drafts[3].pk).status == DraftStatus.SENT
    assert WebhookDelivery.objects.exists()
    kept = assert_kept()
    assert kept.total("tokens") >= 700

    with django_capture_on_commit_callbacks(execute=True):
        review.resolve(drafts[4].conversation_id, AGENT)
    first = WebhookDelivery.objects.order_by("pk").values_list("pk", flat=True)[:1]
    WebhookDelivery.objects.filter(pk__in=list(first)).update(status=DeliveryStatus.DELIVERED)
    assert_kept()

    make_draft("someone else's", customer_ref="cust-other")
    old = make_draft("an old one", customer_ref="cust-old")
    Conversation.objects.filter(pk=old.conversation_id).update(
        updated_at=timezone.now() - timedelta(days=400)
    )
    with django_capture_on_commit_callbacks(execute=True):
        customer_data.do_erase("cust-tally", AGENT)
        customer_data.anonymise_batch(365, Actor.system("retention"))
    assert_kept()

    Conversation.objects.filter(customer_ref="cust-other").delete()
    WebhookDelivery.objects.all().delete()
    assert_kept()


def test_recount_rebuilds_what_the_triggers_keep(make_draft: MakeDraft) -> None:
    for n in range(3):
        make_draft(f"question {n}", customer_ref=f"cust-{n}")
    before = _plain(tallies.current())
    with connection.cursor() as cursor:
        cursor.execute("UPDATE support_drafttally SET drafts = drafts + 5")
    assert _plain(tallies.current()) != before
    tallies.recount()
    assert_same(_plain(tallies.current()), before)
    assert_kept()
