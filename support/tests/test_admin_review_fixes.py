"""What an admin review found in support's admin, on the real database: a business profile whose
labels stopped every draft, bulk actions run by staff who may only look, deletions that bypassed
erasure or took a webhook's history, an export of any number of customers in one request, and
lists whose cost grew with the table (a query per row, DISTINCT and date_trunc over every row,
sorts without an index)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from resolver.audit_actor import ActorType
from support.models import (
    AuditLog,
    BusinessProfile,
    Conversation,
    ConversationStatus,
    Customer,
    Deflection,
    Draft,
    DraftStatus,
    IntentAutonomy,
    Message,
    Order,
    ReplyDelivery,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.tests.conftest import MakeDraft

pytestmark = pytest.mark.django_db


def staff_with(*codenames: str, app: str = "support") -> Client:
    """A signed-in staff user (not superuser) holding exactly these permissions of `app`."""
    user = User.objects.create_user(f"staff-{'-'.join(codenames)}"[:150], is_staff=True)
    user.user_permissions.set(
        [Permission.objects.get(content_type__app_label=app, codename=c) for c in codenames]
    )
    client = Client()
    client.force_login(user)
    return client


def offered(client: Client, changelist: str) -> set[str]:
    page = client.get(changelist)
    assert page.status_code == 200
    return set(re.findall(r'<option value="([a-z_]+)"', page.content.decode()))


# 1. The business profile's labels --------------------------------------------------------------

PROFILE = {
    "company_name": "Northwind",
    "website_url": "https://shop.example.com",
    "support_phone": "+1 555 0100",
    "support_email": "support@example.com",
    "support_hours": "9-5",
    "live_chat_label": "Live Chat",
}


@pytest.mark.parametrize(
    "labels",
    ['{"Online Order Interaction": 5}', '["Order History"]', '"Order History"', '{"a": null}'],
)
def test_profile_labels_that_are_not_text_to_text_are_refused(
    admin_client: Client, labels: str
) -> None:
    response = admin_client.post(
        "/admin/support/businessprofile/add/", {**PROFILE, "labels": labels}
    )

    assert response.status_code == 200  # the form again, with the reason
    assert "Labels must be a JSON object" in response.content.decode() or (
        "Each label must be text" in response.content.decode()
    )
    assert not BusinessProfile.objects.exists()


def test_profile_labels_of_text_are_saved(admin_client: Client) -> None:
    labels = {"Online Order Interaction": "My Orders"}
    response = admin_client.post(
        "/admin/support/businessprofile/add/", {**PROFILE, "labels": json.dumps(labels)}
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    assert BusinessProfile.objects.get().labels == labels


@pytest.fixture
def agent_kb(db: None) -> Iterator[None]:
    from agents.tests.conftest import _specs
    from knowledge.ingest import upsert_documents

    upsert_documents(_specs())
    yield


@pytest.mark.parametrize(
    "stored",
    [
        {"Online Order Interaction": 5, "Online Company Portal Info": "account page"},
        ["Order History"],
        {"Online Navigation Step": {"nested": "object"}},
    ],
)
def test_a_bad_stored_profile_does_not_stop_drafting(
    agent_kb: None, stored: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A row saved before the form checked (or by hand): its bad entries are skipped with a
    warning and the draft is made (a number crashed the guard's .lower(), a list the dict())."""
    from agents.graph import build_graph, run_graph
    from agents.profile import load_profile
    from agents.services import default_services
    from agents.state_builder import build_state

    BusinessProfile(labels=stored).save()

    with caplog.at_level(logging.WARNING, logger="agents.profile"):
        outcome = run_graph(
            build_graph(default_services()),
            build_state("how can I cancel my order, I changed my mind"),
        )
    assert outcome.status == "SUGGESTED", outcome
    assert "ignored" in caplog.text

    profile = load_profile()
    assert all(isinstance(v, str) for v in profile.labels.values())
    if isinstance(stored, dict) and "Online Company Portal Info" in stored:
        assert profile.labels == {"Online Company Portal Info": "account page"}


# 2. Bulk actions of staff who may only look --------------------------------------------------


def test_view_only_staff_cannot_rotate_or_replay_webhooks_nor_read_their_secrets() -> None:
    endpoint = WebhookEndpoint.objects.create(
        url="https://example.com/hook", events=["draft.ready"]
    )
    endpoint.rotate_secret()
    endpoint.refresh_from_db()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="e1", event_type="draft.ready", payload={}, status="FAILED"
    )
    viewer = staff_with("view_webhookendpoint", "view_webhookdelivery")

    assert "rotate_secret" not in offered(viewer, "/admin/support/webhookendpoint/")
    assert "replay" not in offered(viewer, "/admin/support/webhookdelivery/")
    viewer.post(
        "/admin/support/webhookendpoint/",
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )
    viewer.post(
        "/admin/support/webhookdelivery/", {"action": "replay", "_selected_action": [delivery.pk]}
    )
    secret = endpoint.secret
    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    assert endpoint.secret == secret
    assert (delivery.status, delivery.attempts) == ("FAILED", 0)

    page = viewer.get(f"/admin/support/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret not in page and endpoint.previous_secret not in page
    assert "hidden: needs the change permission" in page

    editor = staff_with("view_webhookendpoint", "change_webhookendpoint")
    page = editor.get(f"/admin/support/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert endpoint.secret in page and endpoint.previous_secret in page
    assert "rotate_secret" in offered(editor, "/admin/support/webhookendpoint/")


def test_view_only_staff_cannot_retry_replies_review_drafts_resolve_or_switch_intents(
    make_draft: MakeDraft,
) -> None:
    draft = make_draft("where is my parcel?")
    reply = Message.objects.create(conversation=draft.conversation, role="AGENT", body="On its way")
    delivery = ReplyDelivery.objects.create(message=reply, channel="api", status="failed")
    rung = IntentAutonomy.objects.create(intent="track_order")
    viewer = staff_with(
        "view_draft", "view_conversation", "view_replydelivery", "view_intentautonomy"
    )

    lists = {
        "/admin/support/draft/": ("approve", draft.pk),
        "/admin/support/conversation/": ("resolve", draft.conversation_id),
        "/admin/support/replydelivery/": ("retry", delivery.pk),
        "/admin/support/intentautonomy/": ("switch_off", rung.pk),
    }
    for changelist, (action, pk) in lists.items():
        assert action not in offered(viewer, changelist), changelist
        viewer.post(changelist, {"action": action, "_selected_action": [str(pk)]})

    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.SUGGESTED
    assert Conversation.objects.get(pk=draft.conversation_id).status != ConversationStatus.RESOLVED
    assert ReplyDelivery.objects.get(pk=delivery.pk).status == "failed"
    assert IntentAutonomy.objects.get(pk=rung.pk).allowed

    # Those who may change the rows still have them.
    editor = staff_with(
        "view_draft",
        "change_draft",
        "view_conversation",
        "change_conversation",
        "view_replydelivery",
        "change_replydelivery",
        "view_intentautonomy",
        "change_intentautonomy",
    )
    for changelist, (action, _) in lists.items():
        assert action in offered(editor, changelist), changelist


# 3. No deletion around erasure; 9b. exports capped; no deleting a webhook's history ------------


def test_customers_and_orders_are_erased_never_deleted(admin_client: Client) -> None:
    customer = Customer.objects.create(ref="crm-del-1", name="Alice Private")
    order = Order.objects.create(
        number="NW-DEL-1", customer=customer, shipping_address="12 Secret Lane", total=10
    )

    assert admin_client.get(f"/admin/support/customer/{customer.pk}/delete/").status_code == 403
    assert (
        admin_client.post(
            f"/admin/support/customer/{customer.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert (
        admin_client.post(f"/admin/support/order/{order.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    actions = offered(admin_client, "/admin/support/customer/")
    assert "delete_selected" not in actions
    assert "delete_selected" not in offered(admin_client, "/admin/support/order/")
    admin_client.post(
        "/admin/support/customer/",
        {"action": "delete_selected", "_selected_action": [customer.pk], "post": "yes"},
    )
    assert Customer.objects.filter(pk=customer.pk).exists()

    # The way: the erasure action, offered and working, audited.
    assert "erase_customer_data" in actions
    done = admin_client.post(
        "/admin/support/customer/",
        {"action": "erase_customer_data", "_selected_action": [customer.pk], "confirm": "yes"},
        follow=True,
    )
    assert "Erased the data of 1 customer(s)" in done.content.decode()
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert not Order.objects.filter(shipping_address__contains="Secret").exists()
    assert AuditLog.objects.filter(action="customer_erased").exists()


def test_admin_exports_at_most_twenty_customers_at_a_time(admin_client: Client) -> None:
    customers = [Customer.objects.create(ref=f"crm-x-{n}", name=f"C {n}") for n in range(21)]

    refused = admin_client.post(
        "/admin/support/customer/",
        {"action": "export_customer_data", "_selected_action": [c.pk for c in customers]},
        follow=True,
    )
    text = refused.content.decode()
    assert refused["Content-Type"].startswith("text/html")
    assert "names 21 customers" in text and "manage.py customer_data export REF" in text
    assert not AuditLog.objects.filter(action="customer_exported").exists()

    exported = admin_client.post(
        "/admin/support/customer/",
        {"action": "export_customer_data", "_selected_action": [c.pk for c in customers[:20]]},
    )
    assert exported["Content-Type"] == "application/json"
    assert len(json.loads(exported.content)) == 20


def test_a_webhook_endpoint_is_deactivated_not_deleted(admin_client: Client) -> None:
    endpoint = WebhookEndpoint.objects.create(
        url="https://example.com/hook", events=["draft.ready"]
    )
    WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="e1", event_type="draft.ready", payload={}
    )

    assert (
        admin_client.get(f"/admin/support/webhookendpoint/{endpoint.pk}/delete/").status_code == 403
    )
    assert "delete_selected" not in offered(admin_client, "/admin/support/webhookendpoint/")
    admin_client.post(
        "/admin/support/webhookendpoint/",
        {"action": "delete_selected", "_selected_action": [endpoint.pk], "post": "yes"},
    )
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 1


# 5. Lists whose cost does not grow with the table ---------------------------------------------


def queries_of(client: Client, path: str) -> list[str]:
    client.get(path)  # warm: content types, sessions
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


@pytest.fixture
def rows(make_draft: MakeDraft) -> Callable[[int], None]:
    """Adds `n` rows to each big table, their nullable keys set (what a list shows)."""
    from knowledge.models import KBDocument
    from resolver.models import ProcessedEvent
    from support.models import WidgetKey

    endpoint = WebhookEndpoint.objects.create(url="https://example.com/h", events=["draft.ready"])
    made = [0]

    def add(n: int) -> None:
        for _ in range(n):
            i = made[0] = made[0] + 1
            customer = Customer.objects.create(ref=f"crm-{i}", name=f"Customer {i}")
            draft = make_draft(f"where is order {i}?", customer_ref=f"crm-{i}")
            Conversation.objects.filter(pk=draft.conversation_id).update(customer=customer)
            Order.objects.create(number=f"NW-{i}", customer=customer, total=1)
            AuditLog.objects.create(
                actor_type=ActorType.SYSTEM,
                actor="system:test",
                action="suggested",
                conversation_id=draft.conversation_id,
                draft=draft,
            )
            article = KBDocument.objects.create(
                source="manual", external_id=f"a-{i}", title=f"Article {i}", content="Text."
            )
            key = WidgetKey.objects.create(name=f"key {i}")
            Deflection.objects.create(article=article, widget_key=key)
            WebhookDelivery.objects.create(
                endpoint=endpoint, event_id=f"e-{i}", event_type="draft.ready", payload={}
            )
            ProcessedEvent.objects.create(event_id=f"p-{i}", event_type="message.created")

    return add


LISTS = [
    "/admin/support/conversation/",
    "/admin/support/message/",
    "/admin/support/draft/",
    "/admin/support/auditlog/",
    "/admin/support/order/",
    "/admin/support/deflection/",
    "/admin/support/webhookdelivery/",
    "/admin/resolver/processedevent/",
]


def test_a_list_page_makes_as_many_queries_for_30_rows_as_for_3(
    admin_client: Client, rows: Callable[[int], None]
) -> None:
    rows(3)
    few = {path: len(queries_of(admin_client, path)) for path in LISTS}
    rows(27)
    many = {path: len(queries_of(admin_client, path)) for path in LISTS}
    assert many == few


BIG_TABLES = {
    "/admin/support/conversation/": "support_conversation",
    "/admin/support/message/": "support_message",
    "/admin/support/draft/": "support_draft",
    "/admin/support/auditlog/": "support_auditlog",
    "/admin/support/webhookdelivery/": "support_webhookdelivery",
    "/admin/resolver/processedevent/": "resolver_processedevent",
}


@pytest.mark.parametrize("path", list(BIG_TABLES))
def test_big_lists_read_no_distinct_values_nor_dates_of_the_whole_table(
    admin_client: Client, rows: Callable[[int], None], path: str
) -> None:
    """A filter's choices (SELECT DISTINCT), a date_hierarchy (date_trunc, MIN/MAX) and a second,
    unfiltered count read every row of the table, on every page."""
    rows(2)
    table = BIG_TABLES[path]
    for url in (path, f"{path}?q=order"):
        for sql in queries_of(admin_client, url):
            if f'FROM "{table}"' not in sql:
                continue
            assert "DISTINCT" not in sql, sql
            assert "DATE_TRUNC" not in sql.upper() and "MIN(" not in sql.upper(), sql
            if "?q=" in url:  # the total beside the search's count: the whole table counted
                assert not re.fullmatch(rf'SELECT COUNT\(\*\) AS "__count" FROM "{table}"', sql)


def test_draft_search_reads_no_message_body_nor_answer(admin_client: Client) -> None:
    searches = [
        sql.split(" WHERE ", 1)[1]
        for sql in queries_of(admin_client, "/admin/support/draft/?q=parcel")
        if 'FROM "support_draft"' in sql and " WHERE " in sql
    ]
    assert searches and all("parcel" in where for where in searches)
    for where in searches:
        assert '"support_message"."body"' not in where and '"support_draft"."answer"' not in where


def test_fixed_choice_filters_still_filter(
    admin_client: Client, rows: Callable[[int], None]
) -> None:
    rows(1)
    WebhookDelivery.objects.create(
        endpoint=WebhookEndpoint.objects.get(),
        event_id="sent-1",
        event_type="draft.sent",
        payload={},
    )
    page = admin_client.get("/admin/support/webhookdelivery/?event_type=draft.sent")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert "draft.closed" in page.content.decode()  # offered though no row has it

    Draft.objects.update(category="ORDER")
    page = admin_client.get("/admin/support/draft/?category=ORDER")
    assert page.context["cl"].result_count == 1
    page = admin_client.get("/admin/resolver/processedevent/?event_type=message.created")
    assert page.context["cl"].result_count == 1


@pytest.mark.parametrize(
    ("path", "index"),
    [
        ("/admin/support/auditlog/", "audit_created_idx"),
        ("/admin/support/message/", "message_created_idx"),
        ("/admin/support/webhookdelivery/", "webhook_delivery_created_idx"),
        ("/admin/resolver/processedevent/", "processedevent_processed_idx"),
    ],
)
def test_newest_first_lists_read_an_index_in_order(
    admin_client: Client, rows: Callable[[int], None], path: str, index: str
) -> None:
    """The page's query (ORDER BY time DESC, id DESC LIMIT 100) walks an index: no sort of the
    whole table."""
    rows(2)
    changelist = admin_client.get(path).context["cl"]
    # A page of a big table: the changelist's own query, limited as its paginator does.
    sql, params = changelist.queryset[: changelist.list_per_page].query.sql_with_params()
    with connection.cursor() as cursor:
        # As on a big table: reading it all, or sorting it, is the last resort (a few test rows
        # would be cheaper to sort); a plan without either needs an index in the list's order.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index in plan, plan
    assert "Sort" not in plan, plan


def test_view_only_staff_cannot_decide_proposals_enable_rules_nor_reprocess_e_mails() -> None:
    """The learning loop's decisions and the quarantine's reprocess are actions too: offered
    only to staff who may change those rows (they ran for view-only staff)."""
    from django.apps import apps
    from django.contrib import admin
    from django.test import RequestFactory

    lists = {
        ("knowledge", "proposal"): ("approve", "dismiss"),
        ("knowledge", "guardrule"): ("enable", "disable"),
        ("support", "inboundemail"): ("reprocess",),
    }
    for (app, model), actions in lists.items():
        model_admin = admin.site._registry[apps.get_model(app, model)]
        for codenames, offered_to in (
            ((f"view_{model}",), False),
            ((f"view_{model}", f"change_{model}"), True),
        ):
            request = RequestFactory().get("/admin/")
            request.user = User.objects.create_user(f"{model}-{len(codenames)}", is_staff=True)
            request.user.user_permissions.set(
                [Permission.objects.get(content_type__app_label=app, codename=c) for c in codenames]
            )
            available = set(model_admin.get_actions(request))
            assert all((action in available) == offered_to for action in actions), (
                model,
                codenames,
            )
