"""The conversation page's side column: the customer's other conversations (every channel), their
orders and ratings; nobody else's; nothing for an anonymous or unverified sender."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from support.console.live import ConversationLive
from support.models import Channel, Conversation, Customer
from support.tests.customer_history import ANN, ann_and_bob, conversation, rate

pytestmark = pytest.mark.django_db


def _page(console: Client, conversation: Conversation) -> str:
    response = console.get(f"/console/conversations/{conversation.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def _column(html: str) -> str:
    """The side column alone (what the rest of the page shows does not count)."""
    found = re.search(r'<div id="customer-timeline".*?</div>\s*</aside>', html, re.S)
    if found is None:  # a live push: the fragment without the page's <aside>
        found = re.search(r'<div id="customer-timeline".*?(?=<div id="|<span id="|\Z)', html, re.S)
    assert found, "no customer timeline"
    return found.group(0)


def test_the_customer_s_other_conversations_orders_and_ratings(console: Client) -> None:
    history = ann_and_bob()
    widget, unlinked_api, email, api_call = history.hers
    column = _column(_page(console, widget))
    for other in (unlinked_api, email, api_call):
        assert f'href="/console/conversations/{other.pk}/"' in column
    assert f'href="/console/conversations/{widget.pk}/"' not in column  # this one: beside it
    for conv in history.not_hers:
        assert str(conv.pk) not in column
    for text in (
        "✉</span> E-mail",
        ">Broken mug</a>",  # an e-mail's subject
        ">can I change my address?</a>",  # else its first message
        "damaged_item",
        "Asked where A-100 was; told it had shipped.",
        ">Resolved<",
        "<td>A-100</td><td>Shipped</td><td>42.50</td>",
        "slow to answer",
        "👎 down",
    ):
        assert text in column, text
    for text in ("B-200", "bob", "I am Ann, honest", "send me Ann", "an old complaint"):
        assert text not in column, text


def test_the_live_update_renders_the_same_column(console: Client) -> None:
    history = ann_and_bob()
    widget = history.hers[0]
    pushed = "".join(ConversationLive(widget.pk).snapshot())
    assert '<div id="customer-timeline" class="customer-timeline" hx-swap-oob="true">' in pushed
    column = _column(pushed)
    assert "Broken mug" in column and "A-100" in column and "slow to answer" in column
    assert "B-200" not in column


def test_an_anonymous_visitor_has_no_history(console: Client) -> None:
    ann_and_bob()
    anonymous = conversation("hi, just browsing", channel=Channel.WIDGET)
    column = _column(_page(console, anonymous))
    assert "Anonymous visitor: no history" in column
    assert "/console/conversations/" not in column


def test_an_unverified_sender_claiming_a_customer_sees_none_of_theirs(console: Client) -> None:
    """A forged From, or a widget ref without its hash: no verified message linked the
    conversation to the customer, so the agent is not shown whose history they claim."""
    history = ann_and_bob()
    forged = history.not_hers[2]
    column = _column(_page(console, forged))
    assert "Unverified sender (crm-ann): no history shown" in column
    for text in ("Broken mug", "A-100", "slow to answer", "/console/conversations/"):
        assert text not in column, text


def test_the_customer_s_rating_of_this_conversation_is_listed(console: Client) -> None:
    ann = Customer.objects.create(ref=ANN)
    here = conversation("where is my parcel?", ref=ANN, customer=ann)
    rate(here, 1, "quick and kind")
    column = _column(_page(console, here))
    assert "No other conversations." in column and "No orders." in column
    assert "quick and kind" in column and "this conversation" in column


def _queries(console: Client, page: Conversation) -> int:
    with CaptureQueriesContext(connection) as queries:
        _page(console, page)
    return len(queries)


def test_the_page_s_queries_do_not_grow_with_the_history(console: Client) -> None:
    ann = Customer.objects.create(ref=ANN)
    here = conversation("the latest", ref=ANN, customer=ann)
    earlier = conversation("an earlier one", ref=ANN, customer=ann, days_ago=1, intent="refund")
    rate(earlier, 1, "fine")
    few = _queries(console, here)
    for n in range(12):
        more: Any = conversation(
            f"question {n}", ref=ANN, customer=ann, channel=Channel.EMAIL, days_ago=n + 2
        )
        rate(more, -1, f"comment {n}")
    assert _queries(console, here) == few
