"""ACTIONS_BACKEND=http against a real store endpoint on loopback: the POST is signed as webhooks
are and carries Idempotency-Key = the action id; a 500 or a timeout is retried (by the
execute_action actor, with backoff) with the same key, and the store carries it out once; a 4xx
is a permanent failure; the result or the error is recorded and audited."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from resolver.audit_actor import Actor
from resolver.redis_client import get_redis
from support import actors
from support.actions import decide
from support.models import Action, AuditAction, AuditLog, Order, OrderStatus, Task
from support.models.webhook import new_secret
from support.orders import OrderFacts, put_order
from support.tests.action_fixtures import (
    customer_draft,
    order_for,
    propose,
)
from support.tests.conftest import key_client, post_json
from support.tests.store_receiver import Store, action_store
from support.vocabulary import ActionStatus

SECRET = new_secret()
TIMEOUT = 0.5
MAX_ATTEMPTS = 3
OpenStore = Callable[..., Store]


@pytest.fixture
def store() -> Iterator[OpenStore]:
    """Opens the store with a script of (status, seconds before answering) answers, and points
    ACTIONS_BACKEND=http at it."""
    with ExitStack() as stack:

        def open_store(*script: tuple[int, float]) -> Store:
            opened = stack.enter_context(action_store(SECRET, *script))
            stack.enter_context(
                override_settings(
                    ACTIONS_BACKEND="http",
                    ACTIONS_HTTP_URL=opened.url,
                    ACTIONS_HTTP_SECRET=[SECRET],
                    ACTIONS_HTTP_TIMEOUT_SECONDS=TIMEOUT,
                    ACTIONS_HTTP_BACKOFF_SECONDS=0.01,
                    ACTIONS_HTTP_MAX_ATTEMPTS=MAX_ATTEMPTS,
                )
            )
            return opened

        yield open_store


def approved_cancel(agent_user: Any, capture: Any) -> Action:
    """A cancel_order approved by an agent, its first POST made after the commit."""
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)
    with capture(execute=True):
        decide.approve(action.pk, Actor.for_user(agent_user))
    action.refresh_from_db()
    return action


def queued_retries(action: Action) -> int:
    """Messages for the execute_action actor about `action` in the delayed queue (Redis)."""
    bodies = get_redis().hvals(f"resolver:{decide.EXECUTE_QUEUE}.DQ.msgs")
    return sum(str(action.pk) in body.decode() for body in bodies)  # type: ignore[union-attr]


def test_the_post_is_signed_and_keyed_by_the_action(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    shop = store()
    action = approved_cancel(agent_user, django_capture_on_commit_callbacks)

    assert (len(shop.requests), shop.bad_signatures) == (1, 0)
    headers, body = shop.requests[0]
    Webhook(SECRET).verify(body, headers)  # the spec's own verifier: raises on a bad one
    assert headers["idempotency-key"] == headers["webhook-id"] == str(action.pk)
    payload = json.loads(body)
    assert payload == {
        "action_id": str(action.pk),
        "name": "cancel_order",
        "arguments": {"order_number": "NW-10001"},
        "conversation_id": str(action.conversation_id),
        "draft_id": str(action.draft_id),
        "customer_ref": "cust-1",
    }
    assert (action.status, action.attempts) == (ActionStatus.EXECUTED, 1)
    assert action.result == {
        "store_ref": "st-1",
        "name": "cancel_order",
        "order_number": "NW-10001",
    }
    # The store changes its own rows (and PUTs the facts back); Resolver's stay as they were.
    assert Order.objects.get(number="NW-10001").status == OrderStatus.PROCESSING
    executed = AuditLog.objects.get(action=AuditAction.ACTION_EXECUTED)
    assert (executed.after or {})["result"]["store_ref"] == "st-1"


def test_a_wrong_secret_is_refused_by_the_store_and_fails(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    shop = store()
    shop.secret = new_secret()  # the store holds another secret than ours

    action = approved_cancel(agent_user, django_capture_on_commit_callbacks)

    assert shop.bad_signatures == 1 and shop.done == {}
    assert action.status == ActionStatus.FAILED and action.error.startswith("HTTP 401")


def test_a_500_is_retried_with_the_same_key_and_carried_out_once(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    shop = store((500, 0))
    action = approved_cancel(agent_user, django_capture_on_commit_callbacks)

    assert (action.status, action.attempts) == (ActionStatus.APPROVED, 1)
    assert action.error.startswith("HTTP 500")
    assert queued_retries(action) == 1  # the actor tries again after the backoff

    actors.execute_action.fn(str(action.pk))  # what the worker runs when the delay is up

    action.refresh_from_db()
    assert (action.status, action.attempts, action.error) == (ActionStatus.EXECUTED, 2, "")
    assert shop.keys == [str(action.pk)] * 2
    assert len(shop.done) == 1
    assert AuditLog.objects.filter(action=AuditAction.ACTION_EXECUTED).count() == 1


def test_a_timeout_is_retried_and_the_store_does_it_once(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    # The store carries the action out but answers after our timeout: we cannot know it did.
    shop = store((200, TIMEOUT * 4))
    action = approved_cancel(agent_user, django_capture_on_commit_callbacks)

    assert action.status == ActionStatus.APPROVED
    assert "Timeout" in action.error

    assert decide.attempt(action.pk) is None

    action.refresh_from_db()
    assert action.status == ActionStatus.EXECUTED
    assert shop.keys == [str(action.pk)] * 2
    assert len(shop.done) == 1  # the retry got the first answer, not a second cancellation
    assert (action.result or {})["store_ref"] == "st-1"


def test_a_4xx_is_a_permanent_failure_with_its_reason(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    shop = store((409, 0))
    action = approved_cancel(agent_user, django_capture_on_commit_callbacks)

    assert (action.status, action.attempts) == (ActionStatus.FAILED, 1)
    assert action.error == 'HTTP 409: {"error": "the order has shipped"}'
    assert queued_retries(action) == 0
    assert decide.attempt(action.pk) is None
    assert len(shop.requests) == 1
    failed = AuditLog.objects.get(action=AuditAction.ACTION_FAILED)
    assert (failed.after or {})["error"].startswith("HTTP 409")


def test_a_store_down_for_every_attempt_fails_the_action(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    shop = store(*[(503, 0)] * MAX_ATTEMPTS)
    action = approved_cancel(agent_user, django_capture_on_commit_callbacks)

    delays = [decide.attempt(action.pk) for _ in range(MAX_ATTEMPTS - 1)]

    action.refresh_from_db()
    assert delays[0] is not None and delays[-1] is None
    assert (action.status, action.attempts) == (ActionStatus.FAILED, MAX_ATTEMPTS)
    # Never a clear answer: it may have been done (a 5xx can come after the store acted).
    assert action.outcome_unknown and action.error.startswith(decide.NO_ANSWER)
    assert "HTTP 503" in action.error
    assert len(shop.requests) == MAX_ATTEMPTS


def test_a_store_that_answers_late_every_time_leaves_the_outcome_unknown(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    """It carried the action out; we never heard so: the refund still counts as possibly done
    until the store reports the order again."""
    shop = store(*[(200, TIMEOUT * 4)] * MAX_ATTEMPTS)
    draft = customer_draft("please refund NW-10001")
    order = order_for(draft)
    action = propose(draft, "refund_order", order_number=order.number, amount="80.00")
    with django_capture_on_commit_callbacks(execute=True):
        decide.approve(action.pk, Actor.for_user(agent_user))
    while decide.attempt(action.pk) is not None:
        pass

    action.refresh_from_db()
    assert (action.status, action.outcome_unknown) == (ActionStatus.FAILED, True)
    assert len(shop.done) == 1
    again = propose(draft, "refund_order", order_number=order.number, amount="10.00")
    with pytest.raises(decide.ActionError, match=r"at most 0\.00 EUR"):
        decide.approve(again.pk, Actor.for_user(agent_user))
    # Our own save of the order (the record of another refund the store confirmed moves
    # updated_at) is no report of the store's: it stays possibly done.
    Order.objects.filter(pk=order.pk).update(updated_at=timezone.now())
    with pytest.raises(decide.ActionError, match=r"at most 0\.00 EUR"):
        decide.approve(again.pk, Actor.for_user(agent_user))
    # The store reports the order (a PUT, as CONTRACTS has it: no refunded figure needed).
    assert order.customer is not None
    put_order(order.number, OrderFacts(order.customer.ref, OrderStatus.DELIVERED, order.total))
    with django_capture_on_commit_callbacks(execute=True):
        approved = decide.approve(again.pk, Actor.for_user(agent_user))
    approved.refresh_from_db()
    assert approved.status == ActionStatus.EXECUTED


def test_two_refunds_approved_before_the_store_answers_cannot_exceed_the_total(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    shop = store((503, 0))
    first_draft = customer_draft("please refund NW-10001")
    order = order_for(first_draft)
    second_draft = customer_draft("any news on my refund for NW-10001?")
    first = propose(first_draft, "refund_order", order_number=order.number, amount="80.00")
    second = propose(second_draft, "refund_order", order_number=order.number, amount="80.00")
    agent = Actor.for_user(agent_user)
    with django_capture_on_commit_callbacks(execute=True):
        decide.approve(first.pk, agent)
    first.refresh_from_db()
    assert first.status == ActionStatus.APPROVED  # the store is down: retrying

    with pytest.raises(decide.ActionError, match=r"at most 0\.00 EUR of order NW-10001"):
        decide.approve(second.pk, agent)

    assert decide.attempt(first.pk) is None  # the store is back: done once
    assert len(shop.done) == 1
    # Counted on the order at once, before the store's PUT /orders says so.
    assert Order.objects.get(pk=order.pk).refunded == Decimal("80.00")
    with pytest.raises(decide.ActionError, match=r"at most 0\.00 EUR"):
        decide.approve(second.pk, agent)


@pytest.mark.parametrize("close", ["reject", "erase"])
def test_closing_the_draft_stops_an_action_the_store_has_not_confirmed(
    db: None,
    agent_user: Any,
    store: OpenStore,
    django_capture_on_commit_callbacks: Any,
    close: str,
) -> None:
    from support import customer_data, review

    shop = store((500, 0))
    action = approved_cancel(agent_user, django_capture_on_commit_callbacks)
    assert action.status == ActionStatus.APPROVED  # retrying

    if close == "reject":
        review.reject(action.draft_id, Actor.agent(), reason="answered by phone")
    else:
        customer_data.do_erase("cust-1", Actor.agent())

    action.refresh_from_db()
    # Asked once already, without an answer: it may have been done.
    assert (action.status, action.outcome_unknown) == (ActionStatus.FAILED, True)
    assert decide.attempt(action.pk) is None
    assert (len(shop.requests), shop.done) == (1, {})


def test_approving_twice_through_the_api_posts_once(
    transactional_db: None, store: OpenStore
) -> None:
    """Committed for real: the first POST runs when the approval commits, so the answer to the
    approval already says what the store did."""
    shop = store()
    draft = customer_draft()
    order = order_for(draft)
    action = propose(draft, "cancel_order", order_number=order.number)
    client = key_client("act")
    path = f"/drafts/{draft.pk}/actions/{action.pk}/approve"

    first = post_json(client, path)
    second = post_json(client, path)

    assert first.status_code == second.status_code == 200
    assert first.json()["status"] == second.json()["status"] == ActionStatus.EXECUTED
    assert first.json()["result"]["store_ref"] == "st-1"
    assert len(shop.requests) == 1


def test_an_approved_action_whose_retry_was_lost_is_queued_again(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    store((500, 0))
    lost = approved_cancel(agent_user, django_capture_on_commit_callbacks)
    recent = propose(lost.draft, "order_status", order_number="NW-10001")
    Action.objects.filter(pk=recent.pk).update(status=ActionStatus.APPROVED)
    long_ago = timezone.now() - decide.MAX_BACKOFF - timedelta(minutes=10)
    Action.objects.filter(pk=lost.pk).update(updated_at=long_ago)  # its queue message is gone

    assert decide.stranded() == [lost.pk]  # not the one approved a moment ago
    key = f"resolver:{decide.EXECUTE_QUEUE}"
    before = int(get_redis().llen(key))  # type: ignore[arg-type]
    assert decide.requeue_stranded() == 1
    assert int(get_redis().llen(key)) == before + 1  # type: ignore[arg-type]


def test_a_follow_up_is_resolvers_own_task_never_posted(
    db: None, agent_user: Any, store: OpenStore, django_capture_on_commit_callbacks: Any
) -> None:
    shop = store()
    draft = customer_draft()
    action = propose(draft, "create_follow_up", title="Ring the customer back")

    with django_capture_on_commit_callbacks(execute=True):
        approved = decide.approve(action.pk, Actor.for_user(agent_user))

    assert approved.status == ActionStatus.EXECUTED
    assert Task.objects.get(action=action).title == "Ring the customer back"
    assert shop.requests == []
