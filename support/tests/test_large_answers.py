"""A receiver or a store answering a huge body costs a bounded read, never the body: the webhook
keeps a snippet of the first few KB, the http action backend reads at most RESULT_MAX_BYTES of the
store's answer and takes a larger 2xx for a failed attempt (retried; the last one leaves the
outcome unknown). Memory is measured with tracemalloc; the servers count what they could send."""

from __future__ import annotations

import threading
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from django.test import override_settings

from resolver.audit_actor import Actor
from resolver.logs import scrub
from support import webhooks
from support.actions import decide
from support.actions.backends import http
from support.models import Action, DeliveryStatus, WebhookDelivery, WebhookEndpoint
from support.models.webhook import new_secret
from support.tests.action_fixtures import customer_draft, order_for, propose
from support.vocabulary import ActionStatus

BIG = 48 * 1024 * 1024  # what the peer answers
BOUND = BIG // 4  # what a bounded read may cost at most, all allocations counted
CHUNK = b"x" * (1024 * 1024)
T = TypeVar("T")


@dataclass
class Peer:
    url: str
    sent: int = 0  # bytes of the body written before the client went away


@contextmanager
def huge_answer(status: int, size: int = BIG) -> Iterator[Peer]:
    """An HTTP server answering every POST with `status` and a `size`-byte body."""
    peer = Peer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            view = memoryview(CHUNK)
            try:
                while peer.sent < size:
                    n = min(len(CHUNK), size - peer.sent)
                    self.wfile.write(view[:n])
                    peer.sent += n
            except (BrokenPipeError, ConnectionResetError):
                pass
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    peer.url = f"http://127.0.0.1:{server.server_address[1]}/in"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield peer
    finally:
        server.shutdown()
        server.server_close()


def peak_memory(call: Callable[[], T]) -> tuple[T, int]:
    """What `call` answers and the peak of Python allocations while it ran."""
    scrub("warm up the recognisers")  # their first use loads models: not the answer's cost
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


@override_settings(WEBHOOK_ALLOW_PRIVATE_TARGETS=True)  # the receiver is on loopback
def test_a_huge_webhook_answer_is_read_only_for_its_snippet(db: None) -> None:
    with huge_answer(200) as peer:
        endpoint = WebhookEndpoint.objects.create(url=peer.url)
        delivery = WebhookDelivery.objects.create(
            endpoint=endpoint, event_id="e1", event_type="draft.sent", payload={}
        )
        delay, peak = peak_memory(lambda: webhooks.attempt(delivery.pk))

    assert delay is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    attempt = delivery.attempt_log.get()
    assert (attempt.status_code, attempt.response_snippet) == (200, "x" * webhooks.SNIPPET_CHARS)
    assert peak < BOUND, f"{peak} bytes allocated for a {BIG}-byte answer"
    assert peer.sent < BIG  # the rest was never downloaded


def approve_cancel(agent_user: Any, capture: Any) -> Action:
    draft = customer_draft()
    action = propose(draft, "cancel_order", order_number=order_for(draft).number)
    with capture(execute=True):  # the first POST, after the approval's commit
        decide.approve(action.pk, Actor.for_user(agent_user))
    action.refresh_from_db()
    return action


def test_a_store_answer_over_the_bound_is_a_failed_attempt_read_no_further(
    db: None, agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        huge_answer(200) as store,
        override_settings(
            ACTIONS_BACKEND="http",
            ACTIONS_HTTP_URL=store.url,
            ACTIONS_HTTP_SECRET=[new_secret()],
            ACTIONS_HTTP_MAX_ATTEMPTS=2,
            ACTIONS_HTTP_BACKOFF_SECONDS=0.01,
        ),
    ):
        action, peak = peak_memory(
            lambda: approve_cancel(agent_user, django_capture_on_commit_callbacks)
        )
        # An answer: the store may have carried it out. Retried (same Idempotency-Key);
        # the last attempt leaves the outcome unknown, as a store that never answered does.
        assert (action.status, action.attempts) == (ActionStatus.APPROVED, 1)
        assert f"larger than {http.RESULT_MAX_BYTES} bytes" in action.error
        assert decide.attempt(action.pk) is None

    assert peak < BOUND, f"{peak} bytes allocated for a {BIG}-byte answer"
    assert store.sent < 2 * BIG
    action.refresh_from_db()
    assert (action.status, action.outcome_unknown) == (ActionStatus.FAILED, True)
    assert f"larger than {http.RESULT_MAX_BYTES} bytes" in action.error


def test_a_refusal_with_a_huge_body_keeps_the_start_of_it(
    db: None, agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        huge_answer(409, size=BIG // 6) as store,
        override_settings(
            ACTIONS_BACKEND="http", ACTIONS_HTTP_URL=store.url, ACTIONS_HTTP_SECRET=[new_secret()]
        ),
    ):
        action, peak = peak_memory(
            lambda: approve_cancel(agent_user, django_capture_on_commit_callbacks)
        )

    assert (action.status, action.error) == (ActionStatus.FAILED, "HTTP 409: " + "x" * 490)
    assert peak < BOUND, f"{peak} bytes allocated for a {BIG // 6}-byte answer"
