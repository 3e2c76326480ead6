"""GET /customers/{ref}/conversations: a customer's timeline on every channel, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from django.test import Client
from django.utils.dateparse import parse_datetime

from support.inbound import receive_message
from support.models import Channel, Customer, Draft
from support.tests.conftest import API, key_client
from support.tests.customer_history import ANN, ann_and_bob, conversation

pytestmark = pytest.mark.django_db


def _time(text: str) -> datetime:
    parsed = parse_datetime(text)
    assert parsed is not None, text
    return parsed


def _ms(moment: datetime) -> datetime:
    """The API writes times to the millisecond."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _timeline(client: Client, ref: str, **params: Any) -> Any:
    return client.get(f"{API}/customers/{ref}/conversations", params)


def test_every_channel_of_the_customer_newest_first_and_nobody_else_s() -> None:
    history = ann_and_bob()
    response = _timeline(key_client("read"), ANN)
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["id"] for i in items] == [str(c.pk) for c in history.hers]
    assert [i["channel"] for i in items] == ["widget", "api", "email", "api"]
    _, unlinked_api, email, api_call = items
    oldest = history.hers[-1]
    assert {**api_call, "started_at": _time(api_call["started_at"])} == {
        "id": str(oldest.pk),
        "channel": "api",
        "status": "RESOLVED",
        "subject": None,
        "started_at": _ms(oldest.created_at),
        "last_message_at": api_call["last_message_at"],
        "intent": "track_order",
        "summary": "Asked where A-100 was; told it had shipped.",
    }
    assert oldest.last_message_at and _time(api_call["last_message_at"]) == _ms(
        oldest.last_message_at
    )
    assert (email["subject"], email["intent"], email["summary"]) == (
        "Broken mug",
        "damaged_item",
        None,
    )
    assert unlinked_api["intent"] is None  # its only draft is not triaged yet
    returned = {i["id"] for i in items}
    assert not returned & {str(c.pk) for c in history.not_hers}


def test_the_intent_is_the_latest_triaged_draft_s() -> None:
    ann = Customer.objects.create(ref=ANN)
    started = conversation("where is my order?", ref=ANN, customer=ann, intent="track_order")
    _, second = receive_message("actually, cancel it", conversation=started, enqueue=False)
    Draft.objects.filter(pk=second.pk).update(intent="cancel_order")
    # The newest draft, still pending, has no intent yet: the row keeps the last one known.
    receive_message("hello?", conversation=started, enqueue=False)
    items = _timeline(key_client("read"), ANN).json()["items"]
    assert [i["intent"] for i in items] == ["cancel_order"]


@pytest.mark.parametrize("limit", [0, 101, -1, "ten"])
def test_a_bad_limit_is_refused_with_a_reason(limit: Any) -> None:
    ann_and_bob()
    response = _timeline(key_client("read"), ANN, limit=limit)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "limit" in str(response.json()["detail"])


def test_the_limit_keeps_the_newest() -> None:
    history = ann_and_bob()
    client = key_client("read")
    one = _timeline(client, ANN, limit=1).json()["items"]
    assert [i["id"] for i in one] == [str(history.hers[0].pk)]
    every = _timeline(client, ANN, limit=100).json()["items"]
    assert len(every) == len(history.hers)


def test_an_unknown_reference_is_404_and_a_customer_without_conversations_is_empty() -> None:
    client = key_client("read")
    unknown = _timeline(client, "nobody")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    Customer.objects.create(ref="new-customer")
    assert _timeline(client, "new-customer").json() == {"items": []}
    too_long = _timeline(client, "x" * 201)
    assert (too_long.status_code, too_long.json()["code"]) == (422, "invalid")


def test_an_api_integration_s_reference_without_a_customer_record_is_known() -> None:
    started = conversation("hello", ref="crm-zed")
    assert [i["id"] for i in _timeline(key_client("read"), "crm-zed").json()["items"]] == [
        str(started.pk)
    ]
    # The same reference claimed in a widget is no integration's word: nothing is known.
    conversation("hello", ref="crm-yan", channel=Channel.WIDGET)
    assert _timeline(key_client("read"), "crm-yan").status_code == 404


def test_the_read_scope_is_needed() -> None:
    ann_and_bob()
    for scopes in (("ingest",), ("act",), ("ingest", "act")):
        response = _timeline(key_client(*scopes), ANN)
        assert (response.status_code, response.json()["code"]) == (403, "forbidden"), scopes
    assert _timeline(Client(), ANN).status_code == 401


def test_queries_do_not_grow_with_the_conversations(
    django_assert_max_num_queries: Any,
) -> None:
    ann = Customer.objects.create(ref=ANN)
    client = key_client("read")
    conversation("first", ref=ANN, customer=ann, intent="track_order")
    with django_assert_max_num_queries(QUERIES):
        assert len(_timeline(client, ANN).json()["items"]) == 1
    for n in range(15):
        conversation(f"message {n}", ref=ANN, customer=ann, days_ago=n, intent="refund")
    with django_assert_max_num_queries(QUERIES):
        assert len(_timeline(client, ANN).json()["items"]) == 16


# The key's look-up and its last-used stamp, then the one query of the timeline.
QUERIES = 3
