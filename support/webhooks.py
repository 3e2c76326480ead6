"""Sending one webhook delivery: signed per the Standard Webhooks spec, posted with httpx and a
timeout, every attempt logged, failures rescheduled with exponential backoff.

A receiver's URL is someone else's choice: unless WEBHOOK_ALLOW_PRIVATE_TARGETS, a host that is
or resolves to an internal address (loopback, private, link-local: cloud metadata...) is refused
at send time too, and the request goes to the address that was checked (resolver/http_guard.py).
Only the first SNIPPET_BYTES of an answer are read; the log names the endpoint by id and host,
never its URL (a path token or `?sig=` is a credential)."""

from __future__ import annotations

import functools
import json
import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from resolver import http_guard
from resolver.broker import worker_threads
from resolver.logs import scrub
from resolver.redis_client import get_redis
from support.models import DeliveryStatus, WebhookAttempt, WebhookDelivery

logger = logging.getLogger(__name__)

SNIPPET_CHARS = 500
# A receiver that left a request unanswered (a time-out, a dropped connection) rests this long:
# its other deliveries wait without a request meanwhile. Each attempt holds a worker thread for up
# to WEBHOOK_TIMEOUT_SECONDS, and the workers' threads also write drafts: one blackholed endpoint
# took every thread, one event each (12 drafts in 7.5 s each instead of 0.04 s). Resting, it holds
# at most one thread per rest.
ENDPOINT_REST = timedelta(seconds=30)
REST_KEY = "resolver:webhook:rest:"
# ... and while one of its attempts has been in flight longer than this, its other deliveries
# wait too: before the first time-out ends, every event would otherwise take a thread.
SLOW_AFTER = 2.0
IN_FLIGHT_KEY = "resolver:webhook:inflight:"
# ... and a worker process posts at most this share of its threads' worth of webhooks at once
# (at least one): the first attempts to a receiver that stopped answering, before SLOW_AFTER
# says so, took every thread for a time-out, and drafts waited behind them. The rest wait a
# moment (POSTING_RETRY) without a request, their attempt not counted.
POSTING_SHARE = 0.5
POSTING_RETRY = 1.0
# What is read of a receiver's answer at most (the rest is never downloaded): the preview keeps
# SNIPPET_CHARS of it after scrubbing.
SNIPPET_BYTES = 4096
MAX_BACKOFF = timedelta(hours=1)
# A claim older than this belongs to a worker that died mid-post.
CLAIM_LEASE = timedelta(minutes=2)
USER_AGENT = "Resolver-Webhooks/1"
# The actor that posts a delivery (support.actors), named so that queueing one imports no actor.
DELIVER_ACTOR = "deliver_webhook"
DELIVERY_QUEUE = "webhooks"


@dataclass(frozen=True)
class Response:
    status_code: int | None
    latency_ms: int
    snippet: str = ""
    error: str = ""
    # No answer came (a time-out, a refused or dropped connection): the endpoint rests.
    unanswered: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign(secrets: list[str], msg_id: str, sent_at: datetime, body: str) -> str:
    """The webhook-signature header: one "v1,<base64>" per secret, space-separated, so a
    receiver holding either the old or the new secret verifies during a rotation."""
    return " ".join(Webhook(secret).sign(msg_id, sent_at, body) for secret in secrets)


def signed_headers(secrets: list[str], msg_id: str, body: str) -> dict[str, str]:
    sent_at = timezone.now()
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": sign(secrets, msg_id, sent_at, body),
    }


def post(url: str, body: str, headers: dict[str, str]) -> Response:
    """One POST; a refused target or a transport error is an answer without a status code."""
    started = time.perf_counter()
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS

    def elapsed() -> int:
        return int((time.perf_counter() - started) * 1000)

    try:
        target = http_guard.pin(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_TARGETS)
        with (
            http_guard.unlogged(),
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream(
                "POST",
                target.url,
                content=body.encode(),
                headers={**headers, **http_guard.IDENTITY, **target.headers},
                extensions=target.extensions,
            ) as reply,
        ):
            head = http_guard.read_capped(reply, SNIPPET_BYTES, time.monotonic() + timeout)
    except http_guard.TargetRefused as exc:
        return Response(None, elapsed(), error=f"Refused: {exc}")
    except httpx.HTTPError as exc:
        return Response(None, elapsed(), error=f"{type(exc).__name__}: {exc}", unanswered=True)
    return Response(reply.status_code, elapsed(), snippet=head.text(reply)[: SNIPPET_CHARS * 2])


def backoff(attempts: int) -> timedelta:
    delay = timedelta(seconds=settings.WEBHOOK_BACKOFF_SECONDS * 2 ** (attempts - 1))
    return min(delay, MAX_BACKOFF)


def claim(delivery_id: int) -> WebhookDelivery | None:
    """Claims a PENDING delivery with a conditional UPDATE: one sender per delivery at a time."""
    now = timezone.now()
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    # A queue message may arrive a little before the row's own time: a second of slack.
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    claimed = WebhookDelivery.objects.filter(
        free, due, pk=delivery_id, status=DeliveryStatus.PENDING
    ).update(claimed_at=now, attempts=F("attempts") + 1)
    if not claimed:
        return None
    return WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)


def record(delivery: WebhookDelivery, response: Response) -> timedelta | None:
    """Logs the attempt and moves the delivery on; returns the delay before the next try."""
    WebhookAttempt.objects.create(
        delivery=delivery,
        number=delivery.attempt_log.count() + 1,
        status_code=response.status_code,
        latency_ms=response.latency_ms,
        # What the receiver answered may echo what it was sent or its own users' data: kept as
        # an admin preview, so it is scrubbed as a log line is.
        response_snippet=scrub(response.snippet)[:SNIPPET_CHARS],
        error=scrub(response.error)[:300],
    )
    now = timezone.now()
    fields: dict[str, object] = {"claimed_at": None}
    delay = None
    if response.ok:
        fields |= {"status": DeliveryStatus.DELIVERED, "delivered_at": now}
    elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields |= {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
    else:
        delay = backoff(delivery.attempts)
        fields["next_attempt_at"] = now + delay
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    return delay


def hold_off(endpoint_id: int) -> float:
    """Seconds a delivery to the endpoint should wait before its attempt, 0 to go ahead: the
    rest left after it last left a request unanswered, or, while one of its attempts has been in
    flight longer than SLOW_AFTER, until that attempt is answered or times out (then the rest
    begins): a backlog behind a dead endpoint is looked at about once per rest, not every few
    seconds. Spread by a random part, so the deliveries deferred together do not
    all come back at once. Redis unreachable: 0, the attempt goes ahead as before."""
    now = time.time()
    try:
        pipe = get_redis().pipeline()
        pipe.pttl(f"{REST_KEY}{endpoint_id}")
        pipe.zrangebyscore(
            f"{IN_FLIGHT_KEY}{endpoint_id}",
            "-inf",
            now - SLOW_AFTER,
            start=0,
            num=1,
            withscores=True,
        )
        rest_ms, slow = pipe.execute()
    except Exception:
        logger.warning("webhook pacing unavailable", exc_info=True)
        return 0.0
    spread = random.uniform(0, ENDPOINT_REST.total_seconds() / 2)
    if int(rest_ms) > 0:
        return int(rest_ms) / 1000 + spread
    if slow:
        (_, started), *_ = slow
        # Its time-out (each phase may take WEBHOOK_TIMEOUT_SECONDS: twice is a fair bound).
        ends = float(started) + 2 * settings.WEBHOOK_TIMEOUT_SECONDS
        return max(ends - now, SLOW_AFTER) + spread
    return 0.0


def rest(endpoint_id: int) -> None:
    try:
        get_redis().set(
            f"{REST_KEY}{endpoint_id}", "1", px=int(ENDPOINT_REST.total_seconds() * 1000)
        )
    except Exception:
        logger.warning("webhook pacing unavailable", exc_info=True)


@functools.cache
def _posting_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(max(1, int(worker_threads() * POSTING_SHARE)))


@contextmanager
def posting_slot() -> Iterator[bool]:
    """True when this process may post now (a slot is held until the block ends), False when
    its posting threads are all busy."""
    slots = _posting_slots()
    if not slots.acquire(blocking=False):
        yield False
        return
    try:
        yield True
    finally:
        slots.release()


@contextmanager
def in_flight(endpoint_id: int, delivery_id: int) -> Iterator[None]:
    """Marks an attempt in flight to the endpoint while it runs (hold_off reads how long)."""
    key, member = f"{IN_FLIGHT_KEY}{endpoint_id}", str(delivery_id)
    now = time.time()
    try:
        pipe = get_redis().pipeline()
        # A worker killed mid-attempt leaves its mark: gone after a few time-outs.
        pipe.zremrangebyscore(key, "-inf", now - 3 * settings.WEBHOOK_TIMEOUT_SECONDS - 10)
        pipe.zadd(key, {member: now})
        pipe.expire(key, int(3 * settings.WEBHOOK_TIMEOUT_SECONDS) + 60)
        pipe.execute()
    except Exception:
        logger.warning("webhook pacing unavailable", exc_info=True)
    try:
        yield
    finally:
        try:
            get_redis().zrem(key, member)
        except Exception:
            logger.warning("webhook pacing unavailable", exc_info=True)


def _defer(delivery: WebhookDelivery, seconds: float) -> timedelta:
    """The delivery waits: no request, and no attempt counted (its claim took one)."""
    delay = timedelta(seconds=seconds)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        claimed_at=None, attempts=F("attempts") - 1, next_attempt_at=timezone.now() + delay
    )
    return delay


def attempt(delivery_id: int) -> timedelta | None:
    """One try at a delivery; returns the delay before the next try (None: done or not ours)."""
    delivery = claim(delivery_id)
    if delivery is None:
        return None
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.FAILED, claimed_at=None
        )
        return None
    if seconds := hold_off(endpoint.pk):
        return _defer(delivery, seconds)
    with posting_slot() as free:
        if not free:
            return _defer(delivery, POSTING_RETRY * (1 + random.random()))
        body = json.dumps(delivery.payload, separators=(",", ":"))
        headers = signed_headers(endpoint.signing_secrets(), delivery.event_id, body)
        with in_flight(endpoint.pk, delivery.pk):
            response = post(endpoint.url, body, headers)
    logger.info(
        "webhook %s to endpoint %s (%s) → %s in %d ms",
        delivery.event_type,
        endpoint.pk,
        urlsplit(endpoint.url).hostname or "?",
        response.status_code or response.error,
        response.latency_ms,
    )
    if response.unanswered:
        rest(endpoint.pk)
    return record(delivery, response)


def replay(deliveries: QuerySet[WebhookDelivery]) -> list[int]:
    """Makes deliveries due again (same webhook-id, so receivers can dedupe), with fresh retries;
    skips those a worker is posting right now. Returns the ids to queue."""
    free = Q(claimed_at__isnull=True) | Q(claimed_at__lt=timezone.now() - CLAIM_LEASE)
    ids = list(deliveries.filter(free).values_list("pk", flat=True))
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=None
    )
    return ids
