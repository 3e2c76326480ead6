"""The outbound seam's other channels and what it tells: an API integration gets `reply.sent` once
(a re-label or any later change sends nothing again) through the signed webhook outbox, and the
reply's delivery follows it; a widget reply is pushed and has no delivery row; a draft the system
closes is `draft.closed` with its reason, a human's rejection `draft.rejected`; the console shows
a reply's delivery status live. Real database, Redis, a local webhook receiver, the SMTP server."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.http import QueryDict
from django.test import Client, override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from knowledge.models import TriageExample
from resolver.asgi import application
from resolver.audit_actor import Actor
from resolver.models import DeadLetter
from support import customer_data, outbound, review, webhooks
from support.actors import deliver_webhook
from support.inbound import receive_message
from support.models import (
    Channel,
    DeliveryStatus,
    Draft,
    ReplyDelivery,
    WebhookDelivery,
    WebhookEndpoint,
)
from support.outbound import webhook as reply_webhook
from support.outbound.actors import deliver_reply
from support.tests.conftest import API, SUGGESTION, MakeDraft, post_json
from support.tests.mail_threads import customer_mail, reply_to
from support.tests.receiver import webhook_receiver
from support.tests.smtp import SmtpServer
from tests.helpers import session_headers

Capture = Callable[..., Any]


def _hooks(event_type: str) -> list[WebhookDelivery]:
    return list(WebhookDelivery.objects.filter(event_type=event_type).order_by("id"))


@pytest.mark.django_db
@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_an_api_integration_gets_reply_sent_once_and_a_relabel_sends_nothing(
    api: Client,
    console: Client,
    make_draft: MakeDraft,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    TriageExample.objects.create(text="when will it come", intent="delivery_period")
    TriageExample.objects.create(text="where is it", intent="track_order")
    draft = make_draft()
    with webhook_receiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(
            url=receiver.url, events=["draft.sent", "reply.sent"]
        )
        with django_capture_on_commit_callbacks(execute=False):
            edited = {"edited": "It left the warehouse today."}
            assert post_json(api, f"/drafts/{draft.pk}/approve", edited).status_code == 200
        reply = reply_to(draft)
        delivery = ReplyDelivery.objects.get(pk=reply.pk)
        assert (delivery.status, delivery.channel) == ("queued", "api")
        (hook,) = _hooks("reply.sent")
        assert hook.event_id == str(reply.pk)  # one event per reply, whatever happens later
        for queued in WebhookDelivery.objects.all():
            deliver_webhook(queued.pk)  # the actor, as the worker runs it

        with django_capture_on_commit_callbacks(execute=True):
            relabel = {"intent": "delivery_period"}
            response = console.post(f"/console/drafts/{draft.pk}/relabel/", relabel)
            assert response.status_code in (200, 302), response.content
            review.relabel(draft.pk, Actor.agent(), "track_order")  # and back
        for queued in WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING):
            deliver_webhook(queued.pk)

    assert sorted(h["webhook-id"] for h, _ in receiver.requests) == sorted(
        d.event_id for d in WebhookDelivery.objects.all()
    )
    assert len(receiver.requests) == 2  # draft.sent and reply.sent, each once
    sent = [
        Webhook(endpoint.secret).verify(body, headers)
        for headers, body in receiver.requests
        if headers["webhook-id"] == str(reply.pk)
    ]
    assert len(sent) == 1
    assert {k: sent[0][k] for k in ("conversation_id", "message_id", "draft_id")} == {
        "conversation_id": str(draft.conversation_id),
        "message_id": str(reply.pk),
        "draft_id": str(draft.pk),
    }
    assert (sent[0]["type"], sent[0]["channel"], sent[0]["body"]) == (
        "reply.sent",
        "api",
        "It left the warehouse today.",
    )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert delivery.sent_at is not None
    thread = api.get(f"{API}/conversations/{draft.conversation_id}").json()
    assert thread["messages"][1]["delivery"]["status"] == "sent"


@pytest.mark.django_db
@override_settings(
    WEBHOOK_MAX_ATTEMPTS=2, WEBHOOK_BACKOFF_SECONDS=1.0, WEBHOOK_ALLOW_PRIVATE_TARGETS=True
)
def test_a_reply_the_integration_never_took_fails_and_a_replay_delivers_it(
    make_draft: MakeDraft, agent_user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    draft = make_draft()
    with webhook_receiver(500, 503) as receiver:
        WebhookEndpoint.objects.create(url=receiver.url, events=["reply.sent"])
        with django_capture_on_commit_callbacks(execute=False):
            review.approve(draft.pk, Actor.for_user(agent_user))
        reply = reply_to(draft)
        (hook,) = _hooks("reply.sent")
        deliver_webhook(hook.pk)
        delivery = ReplyDelivery.objects.get(pk=reply.pk)
        assert (delivery.status, delivery.attempts, delivery.last_error) == (
            "queued",
            1,
            "HTTP 500",
        )
        WebhookDelivery.objects.filter(pk=hook.pk).update(next_attempt_at=timezone.now())
        deliver_webhook(hook.pk)
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.last_error) == (
            "failed",
            2,
            "HTTP 503",
        )
        letter = DeadLetter.objects.get(actor_name="deliver_reply")

        deliver_reply(*letter.args, **letter.kwargs)  # an admin replays it
        delivery.refresh_from_db()
        assert delivery.status == "queued"
        deliver_webhook(hook.pk)  # queued again after the replay's commit

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert [h["webhook-id"] for h, _ in receiver.requests] == [str(reply.pk)] * 3


@pytest.mark.django_db
@override_settings(WEBHOOK_MAX_ATTEMPTS=1, WEBHOOK_ALLOW_PRIVATE_TARGETS=True)
def test_a_failed_api_reply_follows_its_webhook_replay_and_stays_failed_with_none_left(
    make_draft: MakeDraft, agent_user: User, django_capture_on_commit_callbacks: Capture
) -> None:
    """Replayed from the webhook deliveries' admin, the failed reply is queued again (not shown
    failed while it is retried); with no webhook delivery left to replay (its endpoint removed),
    a retry leaves it failed instead of queued for ever."""
    draft = make_draft()
    with webhook_receiver(500, 200) as receiver:
        endpoint = WebhookEndpoint.objects.create(url=receiver.url, events=["reply.sent"])
        with django_capture_on_commit_callbacks(execute=False):
            review.approve(draft.pk, Actor.for_user(agent_user))
        reply = reply_to(draft)
        (hook,) = _hooks("reply.sent")
        deliver_webhook(hook.pk)
        delivery = ReplyDelivery.objects.get(pk=reply.pk)
        assert delivery.status == "failed"
        with django_capture_on_commit_callbacks(execute=False):
            webhooks.replay(WebhookDelivery.objects.filter(pk=hook.pk))
        reply_webhook.settle(hook.pk)
        delivery.refresh_from_db()
        assert delivery.status == "queued"
        deliver_webhook(hook.pk)
        delivery.refresh_from_db()
        assert delivery.status == "sent"

    other = make_draft()
    with webhook_receiver(500) as receiver:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(url=receiver.url)
        with django_capture_on_commit_callbacks(execute=False):
            review.approve(other.pk, Actor.for_user(agent_user))
        second = reply_to(other)
        deliver_webhook(_hooks("reply.sent")[-1].pk)
    assert ReplyDelivery.objects.get(pk=second.pk).status == "failed"
    endpoint.delete()  # its deliveries go with it: nothing to replay
    assert outbound.retry(second.pk) is None
    assert ReplyDelivery.objects.get(pk=second.pk).status == "failed"


@pytest.mark.django_db
def test_without_a_subscriber_an_api_reply_has_no_delivery(
    api: Client, make_draft: MakeDraft, agent_user: User
) -> None:
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/x", events=["draft.sent"])
    draft = make_draft()
    review.approve(draft.pk, Actor.for_user(agent_user))
    assert not ReplyDelivery.objects.exists() and _hooks("reply.sent") == []
    thread = api.get(f"{API}/conversations/{draft.conversation_id}").json()
    assert thread["messages"][1]["delivery"] is None


@pytest.mark.django_db
def test_a_widget_reply_is_pushed_not_delivered(agent_user: User) -> None:
    """The push itself: support/tests/test_widget_socket.py."""
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/x", events=["reply.sent"])
    _, draft = receive_message("hello", channel=Channel.WIDGET, enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(**SUGGESTION)
    review.approve(draft.pk, Actor.for_user(agent_user))
    assert not ReplyDelivery.objects.exists() and _hooks("reply.sent") == []


def _payloads(event_type: str) -> list[dict[str, Any]]:
    return [hook.payload for hook in _hooks(event_type)]


@pytest.mark.django_db
def test_drafts_the_system_closes_are_closed_not_rejected(
    make_draft: MakeDraft, agent_user: User
) -> None:
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/x")  # every event
    agent = Actor.for_user(agent_user)
    resolved = make_draft("where is it?")
    review.resolve(resolved.conversation_id, agent)
    superseded = make_draft("and my refund?", customer_ref="cust-2")
    review.reprocess(superseded.message_id, agent)
    erased = make_draft("delete me", customer_ref="cust-3")
    customer_data.do_erase("cust-3", agent)
    judged = make_draft("hello?", customer_ref="cust-4")
    review.reject(judged.pk, agent, reason="wrong", category="incorrect")

    closed = {p["draft_id"]: (p["reason"], p["status"]) for p in _payloads("draft.closed")}
    assert closed == {
        str(resolved.pk): ("resolved", "REJECTED"),
        str(superseded.pk): ("superseded", "REJECTED"),
        str(erased.pk): ("erased", "REJECTED"),
    }
    rejected = _payloads("draft.rejected")
    assert [p["draft_id"] for p in rejected] == [str(judged.pk)]
    assert "reason" not in rejected[0]


@pytest.mark.django_db
def test_endpoints_that_heard_of_closes_as_rejections_keep_hearing_of_them() -> None:
    from django.apps import apps

    migration = importlib.import_module("support.migrations.0019_outbound_replies")
    rejected = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/a", events=["draft.rejected"])
    sent = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/b", events=["draft.sent"])
    migration.closes_reach_who_heard_of_them(apps, None)
    rejected.refresh_from_db()
    sent.refresh_from_db()
    assert (rejected.events, sent.events) == (["draft.rejected", "draft.closed"], ["draft.sent"])


# The console, live.


async def _open(user: User, conversation_id: Any) -> WebsocketCommunicator:
    headers = await database_sync_to_async(session_headers)(user)
    socket = WebsocketCommunicator(
        application, f"/ws/console/?conversation={conversation_id}", headers=headers
    )
    connected, _ = await socket.connect()
    assert connected
    return socket


@pytest.mark.django_db(transaction=True)
async def test_the_console_shows_a_replys_delivery_live(agent_user: User, smtp: SmtpServer) -> None:
    draft = await database_sync_to_async(customer_mail)()
    socket = await _open(agent_user, draft.conversation_id)
    assert "delivery-" not in await socket.receive_from(timeout=5)

    def approve() -> str:
        review.approve(draft.pk, Actor.for_user(agent_user), "On its way.")
        return str(reply_to(draft).pk)

    message_id = await database_sync_to_async(approve)()
    update = await socket.receive_from(timeout=5)
    assert f'id="delivery-{message_id}"' in update
    assert "Queued" in update and "To alice@example.com" in update

    smtp.stop()  # an attempt fails: the page says when the next one is
    await database_sync_to_async(deliver_reply)(message_id)
    update = await socket.receive_from(timeout=5)
    assert "Queued" in update and "attempt 1 failed (ConnectionRefusedError" in update

    smtp.start()
    await database_sync_to_async(ReplyDelivery.objects.update)(next_attempt_at=timezone.now())
    await database_sync_to_async(deliver_reply)(message_id)
    update = await socket.receive_from(timeout=5)
    assert f'class="delivery sent" id="delivery-{message_id}"' in update
    assert len(smtp.received) == 1
    await socket.disconnect()


def test_the_queue_page_ignores_delivery_changes() -> None:
    from support.console.filters import QueueFilter
    from support.console.live import QueueLive

    event = {"type": "reply.delivery", "message_id": "m", "conversation_id": "c"}
    assert QueueLive(QueueFilter.from_query(QueryDict())).update(event) == []
