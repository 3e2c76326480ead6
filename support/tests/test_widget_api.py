"""/api/v1/widget: widget keys bound to origins, conversation tokens, the same ingest path."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.test import Client, override_settings
from django.utils import timezone

from resolver.audit_actor import Actor
from support.models import Channel, Conversation, Draft, Message, MessageRole, WidgetKey
from support.models.widget import DEMO_ORIGINS
from support.review import approve
from support.tests.conftest import API, SHOP, start_widget, token_headers
from support.widget import tokens

pytestmark = pytest.mark.django_db


def _post(client: Client, token: str, body: Any, **headers: str) -> Any:
    return client.post(
        f"{API}/widget/messages",
        {"body": body},
        content_type="application/json",
        headers={**token_headers(token), **headers},
    )


def test_start_returns_a_token_and_the_key_settings(client: Client, widget_key: WidgetKey) -> None:
    response = start_widget(client, widget_key, customer_ref="visitor-9")
    assert response.status_code == 201
    data = response.json()
    assert (data["company_name"], data["colour"], data["max_chars"]) == (
        "Shop Inc",
        "#123456",
        4000,
    )
    conversation = Conversation.objects.get(pk=data["conversation_id"])
    # The page's claim is namespaced: it can never name a real customer (and their orders).
    assert (conversation.channel, conversation.customer_ref) == (Channel.WIDGET, "widget:visitor-9")
    assert tokens.read(data["token"]).conversation_id == conversation.pk
    assert response["Access-Control-Allow-Origin"] == SHOP


@pytest.mark.parametrize(
    ("key", "origin", "status", "code"),
    [
        ("", SHOP, 401, "unauthorized"),
        ("pk_unknown", SHOP, 401, "unauthorized"),
        ("inactive", SHOP, 401, "unauthorized"),
        ("good", "https://evil.example", 403, "origin_not_allowed"),
        ("good", None, 403, "origin_not_allowed"),
    ],
)
def test_start_is_refused(
    client: Client, widget_key: WidgetKey, key: str, origin: str | None, status: int, code: str
) -> None:
    if key == "inactive":
        WidgetKey.objects.filter(pk=widget_key.pk).update(active=False)
    headers = {"X-Widget-Key": widget_key.public_key if key in ("good", "inactive") else key}
    if origin:
        headers["Origin"] = origin
    response = client.post(f"{API}/widget/conversations", {}, "application/json", headers=headers)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Conversation.objects.exists()
    # CORS headers go to origins an active key allows only (so their page can read the
    # refusal); the one key that allowed SHOP is switched off in the "inactive" case.
    assert ("Access-Control-Allow-Origin" in response) == (origin == SHOP and key != "inactive")


def test_a_claimed_ref_too_long_to_namespace_is_refused(
    client: Client, widget_key: WidgetKey
) -> None:
    # Stored as "widget:<ref>" in a 200-character column: 193 characters are left for it.
    assert start_widget(client, widget_key, customer_ref="x" * 193).status_code == 201
    refused = start_widget(client, widget_key, customer_ref="x" * 194)
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")
    assert "at most 193 characters" in refused.json()["detail"]


def test_cors_preflight(client: Client, widget_key: WidgetKey) -> None:
    preflight = client.options(
        f"{API}/widget/messages",
        headers={"Origin": SHOP, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == SHOP
    assert "Authorization" in preflight["Access-Control-Allow-Headers"]
    refused = client.options(f"{API}/widget/messages", headers={"Origin": "https://evil.example"})
    assert (refused.status_code, refused.json()["code"]) == (403, "origin_not_allowed")


def _config(client: Client, key: str, origin: str | None = SHOP) -> Any:
    headers = {"X-Widget-Key": key, **({"Origin": origin} if origin else {})}
    return client.get(f"{API}/widget/config", headers=headers)


def test_config_shows_the_key_settings_and_starts_nothing(
    client: Client, widget_key: WidgetKey
) -> None:
    response = _config(client, widget_key.public_key)
    assert response.status_code == 200
    assert response.json() == {
        "company_name": "Shop Inc",
        "colour": "#123456",
        "greeting": "Hi! How can we help?",
        "max_chars": 4000,
    }
    assert response["Access-Control-Allow-Origin"] == SHOP
    # A same-origin GET (the demo page's) carries no Origin: allowed, as for the help articles.
    assert _config(client, widget_key.public_key, origin=None).status_code == 200
    # The panel opened twice, nothing written: no conversation until a message is sent.
    assert not Conversation.objects.exists()
    # What start returns is the same settings, with the session.
    started = start_widget(client, widget_key).json()
    assert {name: started[name] for name in response.json()} == response.json()


@pytest.mark.parametrize(
    ("key", "origin", "status", "code"),
    [
        ("", SHOP, 401, "unauthorized"),
        ("pk_unknown", SHOP, 401, "unauthorized"),
        ("inactive", SHOP, 401, "unauthorized"),
        ("good", "https://evil.example", 403, "origin_not_allowed"),
    ],
)
def test_config_is_refused(
    client: Client, widget_key: WidgetKey, key: str, origin: str, status: int, code: str
) -> None:
    if key == "inactive":
        WidgetKey.objects.filter(pk=widget_key.pk).update(active=False)
    response = _config(
        client, widget_key.public_key if key in ("good", "inactive") else key, origin
    )
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_a_message_takes_the_ingest_path(client: Client, widget_key: WidgetKey) -> None:
    token = start_widget(client, widget_key).json()["token"]
    response = _post(client, token, "where is my order?", **{"Idempotency-Key": "k1"})
    assert response.status_code == 202
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.role, message.body) == (MessageRole.CUSTOMER, "where is my order?")
    assert Draft.objects.get(message=message).status == "PENDING"
    again = _post(client, token, "where is my order?", **{"Idempotency-Key": "k1"})
    assert again.json()["id"] == response.json()["id"]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("x" * 4001, 413, "message_too_long"),
        ("   ", 422, "validation_error"),
        ("a\x00b", 422, "validation_error"),
    ],
)
def test_bad_messages_are_refused_and_nothing_is_stored(
    client: Client, widget_key: WidgetKey, body: str, status: int, code: str
) -> None:
    token = start_widget(client, widget_key).json()["token"]
    response = _post(client, token, body)
    assert (response.status_code, response.json()["code"]) == (status, code)
    assert not Message.objects.exists()


def test_a_long_conversation_shows_its_latest_messages(
    client: Client, widget_key: WidgetKey, settings: Any
) -> None:
    from support.api import widget

    session = start_widget(client, widget_key).json()
    conversation_id = session["conversation_id"]
    created = Message.objects.bulk_create(
        Message(conversation_id=conversation_id, role=MessageRole.CUSTOMER, body=f"m{i}")
        for i in range(widget.HISTORY_MAX + 5)
    )
    start = timezone.now() - timedelta(hours=1)
    for i, message in enumerate(created):  # one second apart, in order
        Message.objects.filter(pk=message.pk).update(created_at=start + timedelta(seconds=i))
    url = f"{API}/widget/conversations/{conversation_id}"
    seen = client.get(url, headers=token_headers(session["token"])).json()
    bodies = [m["body"] for m in seen["messages"]]
    assert len(bodies) == widget.HISTORY_MAX and seen["earlier_omitted"] is True
    assert bodies[-1] == f"m{widget.HISTORY_MAX + 4}" and bodies[0] == "m5"  # oldest first


def test_tokens_are_checked(client: Client, widget_key: WidgetKey) -> None:
    first = start_widget(client, widget_key).json()
    second = start_widget(client, widget_key).json()
    url = f"{API}/widget/conversations/{first['conversation_id']}"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=token_headers("nonsense")).status_code == 401
    other = client.get(url, headers=token_headers(second["token"]))
    assert (other.status_code, other.json()["code"]) == (403, "forbidden")
    evil = client.get(url, headers=token_headers(first["token"], "https://evil.example"))
    assert (evil.status_code, evil.json()["code"]) == (403, "origin_not_allowed")
    assert client.get(url, headers=token_headers(first["token"], None)).status_code == 200
    WidgetKey.objects.filter(pk=widget_key.pk).update(active=False)
    assert client.get(url, headers=token_headers(first["token"])).status_code == 401


def _aged_token(conversation_id: Any, key_id: int, hours: float) -> str:
    """A token as tokens.issue() makes it, signed `hours` ago."""

    class Earlier(signing.TimestampSigner):
        def timestamp(self) -> str:
            return signing.b62_encode(int(time.time() - hours * 3600))

    return Earlier(salt=tokens.SALT).sign_object(tokens.claims(conversation_id, key_id))


def test_expired_tokens_can_be_refreshed_for_a_while(client: Client, widget_key: WidgetKey) -> None:
    conversation_id = start_widget(client, widget_key).json()["conversation_id"]
    url = f"{API}/widget/conversations/{conversation_id}"
    expired = _aged_token(conversation_id, widget_key.pk, hours=25)
    assert client.get(url, headers=token_headers(expired)).status_code == 401
    fresh = client.post(f"{API}/widget/token", headers=token_headers(expired))
    assert fresh.status_code == 200
    assert client.get(url, headers=token_headers(fresh.json()["token"])).status_code == 200
    too_old = _aged_token(conversation_id, widget_key.pk, hours=31 * 24)
    assert client.post(f"{API}/widget/token", headers=token_headers(too_old)).status_code == 401


def test_the_customer_sees_only_the_conversation(
    client: Client, widget_key: WidgetKey, agent_user: Any
) -> None:
    session = start_widget(client, widget_key).json()
    token = session["token"]
    url = f"{API}/widget/conversations/{session['conversation_id']}"
    assert client.get(url, headers=token_headers(token)).json()["waiting"] is False
    posted = _post(client, token, "hello <script>x</script>").json()
    seen = client.get(url, headers=token_headers(token)).json()
    assert seen["waiting"] is True
    assert [(m["role"], m["body"]) for m in seen["messages"]] == [
        ("customer", "hello <script>x</script>")
    ]
    draft = Draft.objects.get(message_id=posted["id"])
    Draft.objects.filter(pk=draft.pk).update(answer="AI draft text", status="SUGGESTED")
    assert "AI draft text" not in client.get(url, headers=token_headers(token)).content.decode()
    approve(draft.pk, Actor.for_user(agent_user), "Hi there")
    seen = client.get(url, headers=token_headers(token)).json()
    assert seen["waiting"] is False
    assert [(m["role"], m["body"], m["automated"]) for m in seen["messages"]][1] == (
        "agent",
        "Hi there",
        False,
    )


def test_the_conversation_says_whether_its_latest_reply_is_rated(
    client: Client, widget_key: WidgetKey, agent_user: Any
) -> None:
    """A reloaded widget does not ask again for a rating it has: the read carries the rating of
    the latest agent reply, and null once a newer reply is not rated yet."""
    session = start_widget(client, widget_key).json()
    headers = token_headers(session["token"])
    url = f"{API}/widget/conversations/{session['conversation_id']}"
    assert client.get(url, headers=headers).json()["rating"] is None  # nothing to rate
    posted = _post(client, session["token"], "where is my parcel?").json()
    approve(Draft.objects.get(message_id=posted["id"]).pk, Actor.for_user(agent_user), "Today.")
    seen = client.get(url, headers=headers).json()
    assert seen["rating"] is None  # a reply, not rated
    reply_id = seen["messages"][-1]["id"]
    rated = client.post(
        f"{url}/rating", {"score": -1}, content_type="application/json", headers=headers
    )
    assert rated.status_code == 201
    assert client.get(url, headers=headers).json()["rating"] == {
        "message_id": reply_id,
        "score": -1,
    }
    posted = _post(client, session["token"], "and the other one?").json()
    approve(Draft.objects.get(message_id=posted["id"]).pk, Actor.for_user(agent_user), "Soon.")
    assert client.get(url, headers=headers).json()["rating"] is None  # the newer one is not


@override_settings(WIDGET_RATE_LIMIT_PER_MINUTE=3)
def test_rate_limit_per_token(widget_key: WidgetKey) -> None:
    client = Client(REMOTE_ADDR="10.9.8.7")
    token = start_widget(client, widget_key).json()["token"]
    statuses = [_post(client, token, f"message {n}").status_code for n in range(4)]
    assert statuses == [202, 202, 202, 429]
    limited = _post(client, token, "again")
    assert limited["Retry-After"] and limited["Access-Control-Allow-Origin"] == SHOP
    assert Message.objects.count() == 3


@override_settings(WIDGET_RATE_LIMIT_PER_MINUTE=3)
def test_the_rate_limit_counts_the_conversation_whichever_token_it_is(
    widget_key: WidgetKey,
) -> None:
    """A refresh issues a new token string for the same conversation: counted by the string, a
    refresh every few messages reset the limit."""
    client = Client(REMOTE_ADDR="10.9.8.6")
    session = start_widget(client, widget_key).json()
    statuses = [_post(client, session["token"], f"message {n}").status_code for n in range(3)]
    other = _aged_token(session["conversation_id"], widget_key.pk, hours=1)  # another string
    assert other != session["token"]
    statuses.append(_post(client, other, "and again").status_code)
    assert statuses == [202, 202, 202, 429]
    # Another conversation from the same address has its own.
    second = start_widget(client, widget_key).json()["token"]
    assert _post(client, second, "hello").status_code == 202


def test_the_demo_key_keeps_a_few_origins_however_the_host_is_written(db: None) -> None:
    """/widget/demo/ allows the server's own origin, as the Host header spells it: each case
    or port used to append one more, for ever (an unauthenticated GET rewriting a growing row)."""
    for _ in range(3):
        key = WidgetKey.objects.demo_for("http://RESOLVER.example.com")
    assert key.allowed_origins == ["http://resolver.example.com"]
    for port in range(8000, 8050):
        key = WidgetKey.objects.demo_for(f"http://resolver.example.com:{port}")
    assert len(key.allowed_origins) == DEMO_ORIGINS
    assert key.allowed_origins[-1] == "http://resolver.example.com:8049"  # the latest allowed
    assert WidgetKey.objects.get(pk=key.pk).allowed_origins == key.allowed_origins
