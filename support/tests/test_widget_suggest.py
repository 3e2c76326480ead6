"""The widget's help articles (#31) on the real database and Redis: suggestions while the
visitor types, the article opened in the widget, deflections and the dashboard's figures."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone

from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.models import DocumentSource, HelpCategory, KBDocument
from support import dashboard_figures
from support.deflections import query_hash
from support.inbound import receive_message
from support.models import Channel, Conversation, Deflection, WidgetKey
from support.tests.conftest import API, SHOP

pytestmark = pytest.mark.django_db


def _client() -> Client:
    """A client at an address of its own: rate-limit counts of other tests do not reach it."""
    return Client(REMOTE_ADDR=f"198.51.{random.randrange(256)}.{random.randrange(1, 255)}")


def _suggest(client: Client, key: WidgetKey | None, q: Any, **headers: str) -> Any:
    if key is not None:
        headers = {"X-Widget-Key": key.public_key, "Origin": SHOP, **headers}
    params = {} if q is None else {"q": q}
    return client.get(f"{API}/widget/suggest", params, headers=headers)


def _deflect(
    client: Client,
    key: WidgetKey,
    body: dict[str, Any],
    origin: str = SHOP,
    address: str = "127.0.0.1",
) -> Any:
    return client.post(
        f"{API}/widget/deflections",
        body,
        content_type="application/json",
        headers={"X-Widget-Key": key.public_key, "Origin": origin},
        REMOTE_ADDR=address,
    )


@pytest.fixture
def kb(small_kb: dict[str, KBDocument]) -> dict[str, KBDocument]:
    # Embedded like any article: the search would find it if it were allowed to.
    spec = DocumentSpec(
        source=DocumentSource.POLICY,
        external_id="refund-rules",
        title="Refund rules for agents",
        content="Agents may refund up to 50 euros; money back over that needs a lead.",
        category="POLICY",
    )
    upsert_documents([spec])
    return {**small_kb, "internal": KBDocument.objects.get(external_id="refund-rules")}


def test_suggest_returns_up_to_three_public_articles(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    response = _suggest(_client(), widget_key, "I want my money back for a refund")
    assert response.status_code == 200
    items = response.json()["items"]
    assert 1 <= len(items) <= 3
    refund = kb["refund"]
    assert items[0] == {
        "id": refund.pk,
        "slug": refund.slug,
        "title": "Refund policy",
        "snippet": items[0]["snippet"],
        "url": f"http://testserver/help/{refund.slug}/",
    }
    assert "original payment method" in items[0]["snippet"]
    assert kb["internal"].pk not in [item["id"] for item in items]
    assert response["Access-Control-Allow-Origin"] == SHOP


def test_suggest_leaves_out_what_the_help_center_hides(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    KBDocument.objects.filter(pk=kb["refund"].pk).update(public=False)
    HelpCategory.objects.create(code="ACCOUNT", enabled=False)
    for q in ("refund money back", "forgot password"):
        ids = {item["id"] for item in _suggest(_client(), widget_key, q).json()["items"]}
        assert not ids & {kb["refund"].pk, kb["password"].pk, kb["internal"].pk}


def test_an_article_unpublished_after_the_search_is_left_out(
    kb: dict[str, KBDocument], widget_key: WidgetKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An admin unpublishes the refund article between the search and the read of its link:
    the suggestions leave it out (it was a KeyError, a 500 on the public widget)."""
    from support.api import widget_help

    searched = widget_help.hybrid_search

    def hybrid_search(*args: Any, **kwargs: Any) -> Any:
        hits = searched(*args, **kwargs)
        KBDocument.objects.filter(pk=kb["refund"].pk).update(public=False)
        return hits

    monkeypatch.setattr(widget_help, "hybrid_search", hybrid_search)
    response = _suggest(_client(), widget_key, "I want my money back for a refund")
    assert response.status_code == 200
    assert kb["refund"].pk not in [item["id"] for item in response.json()["items"]]


def test_a_short_query_suggests_nothing(kb: dict[str, KBDocument], widget_key: WidgetKey) -> None:
    assert _suggest(_client(), widget_key, "re").json() == {"items": []}


@pytest.mark.parametrize(
    ("key", "headers", "status"),
    [
        (None, {}, 401),
        (None, {"X-Widget-Key": "pk_nonexistent"}, 401),
        ("ok", {"Origin": "https://elsewhere.example"}, 403),
    ],
)
def test_suggest_needs_a_widget_key_from_an_allowed_origin(
    kb: dict[str, KBDocument], widget_key: WidgetKey, key: Any, headers: dict, status: int
) -> None:
    response = _suggest(_client(), widget_key if key else None, "refund", **headers)
    assert response.status_code == status
    assert response.json()["code"] in ("unauthorized", "origin_not_allowed")


def test_an_inactive_key_is_refused(kb: dict[str, KBDocument], widget_key: WidgetKey) -> None:
    WidgetKey.objects.filter(pk=widget_key.pk).update(active=False)
    assert _suggest(_client(), widget_key, "refund").status_code == 401


def test_a_same_origin_page_sends_no_origin_and_is_served(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    client = _client()
    response = client.get(
        f"{API}/widget/suggest", {"q": "refund"}, headers={"X-Widget-Key": widget_key.public_key}
    )
    assert response.status_code == 200 and response.json()["items"]


@pytest.mark.parametrize("q", [None, "", "   ", "abc\x00def", "x" * 501])
def test_bad_input_is_a_json_4xx(widget_key: WidgetKey, q: Any) -> None:
    response = _suggest(_client(), widget_key, q)
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_suggest_is_rate_limited_per_address(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    client = _client()
    with override_settings(WIDGET_IP_RATE_LIMIT_PER_MINUTE=3):
        statuses = [_suggest(client, widget_key, "refund").status_code for _ in range(4)]
        limited = _suggest(client, widget_key, "refund")
    assert statuses == [200, 200, 200, 429]
    assert limited.json()["code"] == "rate_limited" and int(limited["Retry-After"]) >= 1


def test_the_article_opened_inside_the_widget(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    client, password = _client(), kb["password"]
    headers = {"X-Widget-Key": widget_key.public_key, "Origin": SHOP}
    response = client.get(f"{API}/widget/articles/{password.slug}", headers=headers)
    assert response.status_code == 200
    assert response.json()["content"] == password.content
    hidden = client.get(f"{API}/widget/articles/{kb['internal'].slug}", headers=headers)
    assert hidden.status_code == 404 and hidden.json()["code"] == "not_found"
    assert client.get(f"{API}/widget/articles/{password.slug}").status_code == 401


def test_a_deflection_is_recorded_without_the_words(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    client, refund = _client(), kb["refund"]
    query = "I want my MONEY back"
    response = _deflect(client, widget_key, {"article_id": refund.pk, "query": query})
    assert response.status_code == 201
    deflection = Deflection.objects.get()
    assert (deflection.article_id, deflection.widget_key_id) == (refund.pk, widget_key.pk)
    assert deflection.query_hash == query_hash("i want my money   back")
    assert len(deflection.query_hash) == 64 and "money" not in deflection.query_hash
    assert not Conversation.objects.exists()


def test_a_visitor_saying_yes_again_is_one_deflection(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    """A loop of posts (a public key is all it takes) no longer inflates the dashboard's
    deflection rate: one per visitor, key and article a day."""
    client, refund = _client(), kb["refund"]
    first = _deflect(client, widget_key, {"article_id": refund.pk, "query": "money back"})
    assert first.status_code == 201
    for _ in range(5):
        again = _deflect(client, widget_key, {"article_id": refund.pk})
        assert (again.status_code, again.json()) == (200, first.json())
    assert Deflection.objects.count() == 1
    other = _deflect(
        _client(), widget_key, {"article_id": refund.pk}, address="203.0.113.9"
    )  # another visitor
    assert other.status_code == 201 and Deflection.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"article_id": 0}, 422),
        ({"article_id": "x"}, 422),
        ({"article_id": 1, "query": "a\x00b"}, 422),
        ({}, 422),
    ],
)
def test_a_bad_deflection_is_a_json_4xx(
    kb: dict[str, KBDocument], widget_key: WidgetKey, body: dict, status: int
) -> None:
    response = _deflect(_client(), widget_key, body)
    assert response.status_code == status and "detail" in response.json()
    assert not Deflection.objects.exists()


def test_only_a_public_article_can_deflect(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    client = _client()
    response = _deflect(client, widget_key, {"article_id": kb["internal"].pk})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    missing = _deflect(client, widget_key, {"article_id": 10**12})
    assert missing.status_code == 404
    other = _deflect(client, widget_key, {"article_id": kb["refund"].pk}, "https://evil.example")
    assert other.status_code == 403
    assert not Deflection.objects.exists()


def test_dashboard_figures_count_deflections_against_conversations(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    refund, password = kb["refund"], kb["password"]
    for article in (refund, refund, refund, password):
        Deflection.objects.create(article=article, widget_key=widget_key)
    old = Deflection.objects.create(article=password, widget_key=widget_key)
    Deflection.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=30))
    for n in range(4):  # widget conversations where the customer wrote
        conversation = Conversation.objects.create(channel=Channel.WIDGET)
        receive_message(f"question {n}", conversation=conversation, enqueue=False)
    Conversation.objects.create(channel=Channel.WIDGET)  # opened, nothing written
    receive_message("by e-mail", customer_ref="c", channel=Channel.EMAIL, enqueue=False)

    figures = dashboard_figures.deflections(timezone.now() - timedelta(days=7))
    assert figures == {
        "deflected": 4,
        "conversations": 4,
        "rate": 0.5,
        "top_articles": [
            {"kb_id": refund.pk, "title": "Refund policy", "count": 3},
            {"kb_id": password.pk, "title": "Reset your password", "count": 1},
        ],
    }
    KBDocument.objects.filter(pk=password.pk).delete()
    after = dashboard_figures.deflections(timezone.now() - timedelta(days=7))
    assert after["deflected"] == 4 and after["top_articles"][1]["kb_id"] is None


def test_the_dashboard_shows_the_deflection_rate_and_articles(
    console: Client, api: Client, kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    Deflection.objects.create(article=kb["refund"], widget_key=widget_key)
    page = console.get("/console/dashboard/").content.decode()
    assert "<strong data-deflection-rate>100%</strong>" in page
    assert 'aria-label="Articles that deflect most"' in page and "Refund policy: 1" in page
    stats = api.get(f"{API}/stats").json()["deflections"]
    assert (stats["deflected"], stats["rate"]) == (1, 1.0)


def test_suggest_prefers_the_visitors_language(
    kb: dict[str, KBDocument], widget_key: WidgetKey
) -> None:
    spec = DocumentSpec(
        source=DocumentSource.MANUAL,
        external_id="reembolso",
        title="Política de reembolso",
        content="Devolvemos el dinero al método de pago original en un plazo de 5 a 7 días.",
        category="REFUND",
        language="es",
    )
    upsert_documents([spec])
    spanish = KBDocument.objects.get(external_id="reembolso")
    query = "quiero un reembolso de mi dinero"
    client = _client()
    headers = {"X-Widget-Key": widget_key.public_key, "Origin": SHOP}
    spanish_first = client.get(f"{API}/widget/suggest", {"q": query, "lang": "es"}, headers=headers)
    assert spanish_first.json()["items"][0]["id"] == spanish.pk
    bad = client.get(f"{API}/widget/suggest", {"q": query, "lang": "spanish"}, headers=headers)
    assert bad.status_code == 422 and "lang" in str(bad.json())
