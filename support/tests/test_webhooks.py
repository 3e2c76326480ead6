"""Signed webhook deliveries: Standard Webhooks signatures checked by the spec's own verifier,
retries with backoff on a failing receiver, attempt log, secret rotation, replay, and the real
worker delivering after commit."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from resolver.polling import wait_for
from resolver.redis_client import get_redis
from support import housekeeping, webhooks
from support.models import DeliveryStatus, Draft, WebhookDelivery, WebhookEndpoint
from support.tests.conftest import MakeDraft, key_client, post_json
from support.tests.receiver import webhook_receiver


def elapse_backoff(delivery: WebhookDelivery) -> None:
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def approve(api: Client, draft: Draft, capture: Any) -> WebhookDelivery:
    with capture(execute=False):
        assert post_json(api, f"/drafts/{draft.pk}/approve").status_code == 200
    return WebhookDelivery.objects.get(event_type="draft.sent")


def test_deliveries_are_recorded_for_subscribed_endpoints_only(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    sent_hook = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/a", events=["draft.sent"])
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/b", events=["draft.rejected"])
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/c", is_active=False)
    delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
    assert WebhookDelivery.objects.count() == 1
    assert (delivery.endpoint, delivery.status, delivery.payload["type"]) == (
        sent_hook,
        DeliveryStatus.PENDING,
        "draft.sent",
    )


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_delivery_is_signed_per_standard_webhooks(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    with webhook_receiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(url=receiver.url)
        delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
        assert webhooks.attempt(delivery.pk) is None
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    payload = Webhook(endpoint.secret).verify(body, headers)
    assert payload == delivery.payload
    assert headers["webhook-id"] == delivery.payload["event_id"]
    with pytest.raises(WebhookVerificationError):
        Webhook(WebhookEndpoint(url="x").secret).verify(body, headers)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    log = delivery.attempt_log.get()
    assert (log.number, log.status_code, log.response_snippet) == (1, 200, "ok")


@override_settings(
    WEBHOOK_BACKOFF_SECONDS=2.0, WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_ALLOW_PRIVATE_TARGETS=True
)
def test_failing_receiver_is_retried_with_backoff_then_given_up(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    with webhook_receiver(500, 503, 500) as receiver:
        WebhookEndpoint.objects.create(url=receiver.url)
        delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
        delays = [webhooks.attempt(delivery.pk)]
        assert webhooks.attempt(delivery.pk) is None  # not due yet: the backoff holds
        for _ in range(2):
            elapse_backoff(delivery)
            delays.append(webhooks.attempt(delivery.pk))
    assert delays == [timedelta(seconds=2), timedelta(seconds=4), None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 3)
    log = list(delivery.attempt_log.values_list("number", "status_code", "response_snippet"))
    assert log == [
        (1, 500, "receiver is down"),
        (2, 503, "receiver is down"),
        (3, 500, "receiver is down"),
    ]
    assert len({h["webhook-id"] for h, _ in receiver.requests}) == 1  # same id on every retry


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_unreachable_receiver_is_logged_as_an_error(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    WebhookEndpoint.objects.create(url="http://127.0.0.1:9/nothing-listens")
    delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
    assert webhooks.attempt(delivery.pk) == timedelta(seconds=5)  # WEBHOOK_BACKOFF_SECONDS
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
    log = delivery.attempt_log.get()
    assert log.status_code is None
    assert log.error.startswith("ConnectError")


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_an_endpoint_that_does_not_answer_rests_without_holding_workers(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    """Each attempt holds a worker thread (which also writes drafts) until the time-out: after
    one unanswered request the endpoint's other deliveries wait out its rest without a request,
    and without an attempt counted; an endpoint that answers is not held up."""
    dead = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/nothing-listens")
    first = approve(api, make_draft(), django_capture_on_commit_callbacks)
    assert webhooks.attempt(first.pk) == timedelta(seconds=5)  # tried, failed: backoff
    assert webhooks.hold_off(dead.pk) > webhooks.ENDPOINT_REST.total_seconds() - 5
    with django_capture_on_commit_callbacks(execute=False):
        assert post_json(api, f"/drafts/{make_draft().pk}/approve").status_code == 200
    second = WebhookDelivery.objects.exclude(pk=first.pk).get(
        endpoint=dead, event_type="draft.sent"
    )
    delay = webhooks.attempt(second.pk)
    assert delay is not None and timedelta(0) < delay <= webhooks.ENDPOINT_REST * 1.5
    second.refresh_from_db()
    assert (second.status, second.attempts, second.claimed_at) == (DeliveryStatus.PENDING, 0, None)
    assert not second.attempt_log.exists()  # no request was made
    assert second.next_attempt_at is not None and second.next_attempt_at > timezone.now()


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_while_an_attempt_hangs_the_endpoint_s_other_deliveries_wait(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    """Before the first time-out ends, each event would take a thread of its own: an attempt in
    flight longer than SLOW_AFTER holds the endpoint's other deliveries back; a quick one, or
    none, does not."""
    with webhook_receiver(200) as receiver:
        endpoint = WebhookEndpoint.objects.create(url=receiver.url)
        delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
        key = f"{webhooks.IN_FLIGHT_KEY}{endpoint.pk}"
        get_redis().zadd(key, {"quick": time.time()})  # just started: no reason to wait
        assert webhooks.hold_off(endpoint.pk) == 0
        get_redis().zadd(key, {"hanging": time.time() - webhooks.SLOW_AFTER - 1})
        delay = webhooks.attempt(delivery.pk)
        assert delay is not None and delay >= timedelta(seconds=webhooks.SLOW_AFTER)
        assert not receiver.requests
        get_redis().zrem(key, "hanging")  # it ended
        elapse_backoff(delivery)
        assert webhooks.attempt(delivery.pk) is None  # delivered
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert get_redis().zrange(key, 0, -1) == [b"quick"]  # its own mark removed


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_a_process_posts_webhooks_on_at_most_half_its_threads(
    api: Client,
    make_draft: MakeDraft,
    django_capture_on_commit_callbacks: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before any receiver is known to hang, its first attempts each took a thread for a
    time-out, and drafts waited behind them: with the process's posting slots taken, a delivery
    waits a moment without a request (its attempt not counted), leaving threads to the drafts."""
    # A worker of 4 threads (an in-process Dramatiq worker of another test may have booted).
    monkeypatch.setattr(webhooks, "worker_threads", lambda: 4)
    webhooks._posting_slots.cache_clear()
    slots = webhooks._posting_slots()
    taken = 0
    while slots.acquire(blocking=False):  # other attempts, posting
        taken += 1
    assert taken == 2  # WORKER_THREADS (4) times POSTING_SHARE
    try:
        with webhook_receiver(200) as receiver:
            WebhookEndpoint.objects.create(url=receiver.url)
            delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
            delay = webhooks.attempt(delivery.pk)
            assert delay is not None and timedelta(seconds=1) <= delay <= timedelta(seconds=2)
            assert not receiver.requests
            delivery.refresh_from_db()
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
            slots.release()  # one of them answered
            taken -= 1
            elapse_backoff(delivery)
            assert webhooks.attempt(delivery.pk) is None  # delivered
            assert len(receiver.requests) == 1
    finally:
        for _ in range(taken):
            slots.release()
        webhooks._posting_slots.cache_clear()


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_replay_sends_a_failed_delivery_again(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    with webhook_receiver(500) as receiver:
        WebhookEndpoint.objects.create(url=receiver.url)
        delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
        assert webhooks.attempt(delivery.pk) == timedelta(seconds=5)  # 500: to be retried
        WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
        assert webhooks.attempt(delivery.pk) is None  # FAILED: nothing to do
        webhooks.replay(WebhookDelivery.objects.filter(pk=delivery.pk))
        assert webhooks.attempt(delivery.pk) is None  # delivered
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 500), (2, 200)]


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_rotated_secret_signs_with_both_until_the_overlap_ends(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    with webhook_receiver() as receiver:
        endpoint = WebhookEndpoint.objects.create(url=receiver.url)
        old_secret = endpoint.secret
        new_secret = endpoint.rotate_secret(timedelta(hours=1))
        delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
        assert webhooks.attempt(delivery.pk) is None  # delivered
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
        )
        webhooks.replay(WebhookDelivery.objects.filter(pk=delivery.pk))
        assert webhooks.attempt(delivery.pk) is None  # delivered
    (during, body1), (after, body2) = receiver.requests
    assert len(during["webhook-signature"].split()) == 2
    Webhook(old_secret).verify(body1, during)
    Webhook(new_secret).verify(body1, during)
    Webhook(new_secret).verify(body2, after)
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(body2, after)


def test_admin_can_replay_and_rotate(admin_client: Client, db: None) -> None:
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/x")
    old = endpoint.secret
    admin_client.post(
        "/admin/support/webhookendpoint/",
        {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
    )
    endpoint.refresh_from_db()
    assert (endpoint.previous_secret, endpoint.secret != old) == (old, True)
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event_id="e1", event_type="draft.sent", payload={},
        status=DeliveryStatus.FAILED, attempts=8,
    )  # fmt: skip
    admin_client.post(
        "/admin/support/webhookdelivery/",
        {"action": "replay", "_selected_action": [delivery.pk]},
    )
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)


@pytest.mark.slow
def test_worker_delivers_after_commit_and_retries_a_500(
    start_workers: Callable[..., Any], make_draft: MakeDraft
) -> None:
    api = key_client("act")
    with webhook_receiver(500) as receiver:
        endpoint = WebhookEndpoint.objects.create(url=receiver.url, events=["draft.rejected"])
        start_workers(WEBHOOK_BACKOFF_SECONDS="0.2", WEBHOOK_ALLOW_PRIVATE_TARGETS="1")
        draft = make_draft()
        assert post_json(api, f"/drafts/{draft.pk}/reject", {"reason": "no"}).status_code == 200
        done = WebhookDelivery.objects.filter(status=DeliveryStatus.DELIVERED)
        assert wait_for(done.exists, 30)
    delivered = done.get()
    assert [h["webhook-id"] for h, _ in receiver.requests] == [delivered.event_id] * 2
    payload = Webhook(endpoint.secret).verify(receiver.requests[1][1], receiver.requests[1][0])
    assert (payload["type"], payload["draft_id"]) == ("draft.rejected", str(draft.pk))
    assert list(delivered.attempt_log.values_list("status_code", flat=True)) == [500, 200]
    assert json.loads(receiver.requests[1][1]) == delivered.payload


def test_housekeeping_requeues_stranded_deliveries(db: None) -> None:
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/x")
    states: dict[str, dict[str, Any]] = {
        "lost": {},
        "fresh": {},
        "overdue": {"next_attempt_at": timezone.now() - timedelta(minutes=5)},
        "waiting": {"next_attempt_at": timezone.now() + timedelta(minutes=5)},
        "sending": {"claimed_at": timezone.now()},
        "delivered": {"status": DeliveryStatus.DELIVERED},
    }
    made = {
        name: WebhookDelivery.objects.create(
            endpoint=endpoint, event_id=name, event_type="draft.sent", payload={}, **fields
        )
        for name, fields in states.items()
    }
    old = timezone.now() - timedelta(minutes=2)
    WebhookDelivery.objects.exclude(event_id="fresh").update(created_at=old)
    assert sorted(housekeeping.stranded_deliveries()) == sorted(
        [made["lost"].pk, made["overdue"].pk]
    )
    assert housekeeping.run() == {"requeued_deliveries": 2}


def test_a_receivers_answer_is_kept_without_personal_data(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    """The attempt log is an admin preview: what a receiver echoes passes the recognisers."""
    WebhookEndpoint.objects.create(url="https://hooks.example.com/in")
    delivery = approve(api, make_draft(), django_capture_on_commit_callbacks)
    echo = "no user ana.lopez@example.org; call +44 20 7946 0958"
    webhooks.record(delivery, webhooks.Response(422, 5, snippet=echo, error=echo))
    log = delivery.attempt_log.get()
    assert log.response_snippet == "no user [EMAIL_1]; call [PHONE_1]"
    assert log.error == log.response_snippet
