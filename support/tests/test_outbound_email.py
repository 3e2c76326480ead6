"""Replies by e-mail (support/outbound/email.py) against a real SMTP server (aiosmtpd, one per
test session): delivered once with the contract's headers, threaded into the customer's mail,
reply-all without our addresses, automatic replies marked and limited per address, retried with
backoff through an outage, failed and dead-lettered for good, re-sent by the outbox sweep, never
twice; what the server received is parsed, not what we meant to send."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections, transaction
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from resolver.models import DeadLetter
from resolver.polling import wait_for
from resolver.redis_client import get_redis
from support import customer_data, outbound, outbox, review
from support.autonomy import ladder
from support.autonomy.switch import set_console_switch
from support.autosend import auto_send_if_allowed
from support.models import (
    AuditAction,
    AuditLog,
    Draft,
    DraftStatus,
    EmailEnvelope,
    Message,
    ReplyDelivery,
    ReplyDeliveryStatus,
)
from support.outbound.actors import deliver_reply
from support.outbound.bounces import mark_bounced
from support.outbound.deliveries import OUTBOUND_QUEUE
from support.outbound.limits import KEY as AUTO_REPLY_KEY
from support.personal_data import NOT_SENT_ERASED
from support.tests.autonomy_fixtures import make_auto
from support.tests.conftest import API, key_client, post_json
from support.tests.mail_threads import ALIAS, OURS, customer_mail, reply_to
from support.tests.smtp import Received, SmtpServer
from support.vocabulary import DemotionReason

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_auto_replies_counted() -> Iterator[None]:
    """The automatic-reply limit counts in Redis for an hour: every test starts at zero."""

    def clear() -> None:
        client = get_redis()
        for key in client.scan_iter(f"{AUTO_REPLY_KEY}*"):
            client.delete(key)

    clear()
    yield
    clear()


def approve(draft: Draft, user: Any, text: str | None = None) -> Message:
    """An agent approves; the reply's delivery is queued, not yet sent (no commit here)."""
    review.approve(draft.pk, Actor.for_user(user), text)
    return reply_to(draft)


def deliver(message: Message) -> None:
    """What the worker does with the queue message: the actor, run here."""
    deliver_reply(str(message.pk))


def delivery_of(message: Message) -> ReplyDelivery:
    return ReplyDelivery.objects.get(pk=message.pk)


def elapse_backoff(message: Message) -> None:
    ReplyDelivery.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def one(smtp: SmtpServer) -> Received:
    (received,) = smtp.received
    return received


def test_an_approved_reply_is_mailed_once_with_the_contract_headers(
    smtp: SmtpServer,
    agent_user: Any,
    api: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    draft = customer_mail(message_id="first@mail.example.com", cc=["bob@example.com"])
    queue = f"resolver:{OUTBOUND_QUEUE}"
    queued_before = int(get_redis().llen(queue))  # type: ignore[arg-type]
    with django_capture_on_commit_callbacks(execute=True):
        reply = approve(draft, agent_user, "Your parcel left our warehouse today.")
    # Written with the message, queued for the actor after commit, not sent yet.
    assert int(get_redis().llen(queue)) == queued_before + 1  # type: ignore[arg-type]
    delivery = delivery_of(reply)
    assert (delivery.status, delivery.attempts, delivery.channel) == ("queued", 0, "email")
    envelope = EmailEnvelope.objects.get(message=reply)  # fixed before the first attempt
    assert envelope.message_id_header.endswith("@shop.example")
    assert smtp.received == []

    deliver(reply)

    received = one(smtp)
    mail = received.message
    token = draft.conversation.thread_token
    assert mail["From"] == "Shop Support <support@shop.example>"
    assert (mail["To"], mail["Cc"]) == ("alice@example.com", "bob@example.com")
    assert sorted(received.rcpt_tos) == ["alice@example.com", "bob@example.com"]
    assert received.mail_from == "support@shop.example"
    assert mail["Message-ID"] == f"<{envelope.message_id_header}>"
    assert mail["In-Reply-To"] == "<first@mail.example.com>"
    assert mail["References"] == "<first@mail.example.com>"
    assert mail["Subject"] == f"Re: Where is my order? [#{token}]"
    assert mail["Auto-Submitted"] is None  # a human wrote it
    assert mail.get_content().strip() == "Your parcel left our warehouse today."
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 1, "")
    assert delivery.sent_at is not None
    # What the inbound side threads the customer's answer by.
    assert (envelope.in_reply_to, envelope.references) == (
        "first@mail.example.com",
        ["first@mail.example.com"],
    )
    assert (envelope.subject, envelope.to, envelope.cc) == (
        mail["Subject"],
        ["alice@example.com"],
        ["bob@example.com"],
    )

    deliver(reply)  # a second queue message for it (a sweep, a redelivery): nothing more
    assert len(smtp.received) == 1

    thread = api.get(f"{API}/conversations/{draft.conversation_id}").json()
    theirs, ours = thread["messages"]
    assert theirs["message_id_header"] == "<first@mail.example.com>"
    assert (theirs["delivery"], theirs["attachments"]) == (None, [])
    assert ours["delivery"]["status"] == "sent" and ours["delivery"]["attempts"] == 1
    assert ours["delivery"]["last_error"] is None and ours["delivery"]["sent_at"]
    assert ours["message_id_header"] == f"<{envelope.message_id_header}>"


def test_a_reply_threads_into_the_customers_answer(smtp: SmtpServer, agent_user: Any) -> None:
    first = customer_mail(message_id="first@mail.example.com")
    deliver(approve(first, agent_user, "It ships today."))
    ours = EmailEnvelope.objects.get(message=reply_to(first)).message_id_header
    token = first.conversation.thread_token
    # Their client quoted our subject with its own prefixes, and kept the thread's ids.
    second = customer_mail(
        "Thanks, and the invoice?",
        conversation=first.conversation,
        subject=f"RE: Re: Where is my order? [#{token}]",
        message_id="second@mail.example.com",
        references=["first@mail.example.com", ours],
    )
    deliver(approve(second, agent_user, "Attached to your account."))

    mail = smtp.received[1].message
    assert mail["In-Reply-To"] == "<second@mail.example.com>"
    assert mail["References"] == f"<first@mail.example.com> <{ours}> <second@mail.example.com>"
    assert mail["Subject"] == f"Re: Where is my order? [#{token}]"
    assert mail["Message-ID"] not in {smtp.received[0].message["Message-ID"]}


def test_reply_all_leaves_out_our_own_addresses(smtp: SmtpServer, agent_user: Any) -> None:
    draft = customer_mail(
        to=[OURS, "carol@example.com"],
        cc=[ALIAS, "dave@example.com", "SUPPORT@shop.example"],
    )
    deliver(approve(draft, agent_user))
    received = one(smtp)
    assert (received.message["To"], received.message["Cc"]) == (
        "alice@example.com, carol@example.com",
        "dave@example.com",
    )
    assert sorted(received.rcpt_tos) == [
        "alice@example.com",
        "carol@example.com",
        "dave@example.com",
    ]


def test_a_draft_s_reply_answers_the_mail_it_was_written_for(
    smtp: SmtpServer, agent_user: Any
) -> None:
    """Alice writes with Bob in Cc; Bob then writes to us alone in the same thread. Alice's
    draft, approved after that, goes to her (Bob in Cc) In-Reply-To her latest mail, not to Bob
    alone."""
    alices = customer_mail(cc=["bob@example.com"], message_id="alice-1@mail.example.com")
    bobs = customer_mail(
        "And I want a refund on mine.",
        sender="bob@example.com",
        conversation=alices.conversation,
        message_id="bob-1@mail.example.com",
    )
    deliver(approve(alices, agent_user))
    received = one(smtp)
    assert (received.message["To"], received.message["Cc"]) == (
        "alice@example.com",
        "bob@example.com",
    )
    assert received.message["In-Reply-To"] == "<alice-1@mail.example.com>"
    # Bob's own draft answers him.
    deliver(approve(bobs, agent_user))
    received = smtp.received[-1]
    assert (received.message["To"], received.message["In-Reply-To"]) == (
        "bob@example.com",
        "<bob-1@mail.example.com>",
    )


def _auto(draft: Draft) -> bool:
    with transaction.atomic():
        return auto_send_if_allowed(draft)


def test_automatic_replies_are_marked_and_limited_per_address(
    smtp: SmtpServer, agent_user: Any, settings: Any
) -> None:
    settings.AUTO_REPLY_LIMIT_PER_HOUR = 2
    make_auto("track_order", settings, min_confidence=0.5)
    alice = [customer_mail(f"question {n}", subject=f"Order {n}") for n in range(3)]
    erin = customer_mail(sender="erin@example.com")

    assert [_auto(draft) for draft in alice] == [True, True, False]
    assert _auto(erin) is True  # the limit is per address

    held = Draft.objects.get(pk=alice[2].pk)
    assert held.status == DraftStatus.SUGGESTED
    audit = AuditLog.objects.filter(draft=held).latest("id")
    assert (audit.action, audit.actor) == (AuditAction.AUTO_SEND_HELD, "system:auto-send")
    for draft in [*alice[:2], erin]:
        deliver(reply_to(draft))
    assert len(smtp.received) == 3
    for received in smtp.received:
        assert received.message["Auto-Submitted"] == "auto-replied"
        assert received.message["X-Auto-Response-Suppress"] == "All"

    deliver(approve(held, agent_user))  # a human sends the held one: not automatic
    assert smtp.received[-1].message["Auto-Submitted"] is None
    assert smtp.received[-1].message["To"] == "alice@example.com"


@pytest.mark.parametrize("stopped", ["kill switch", "taken back"])
def test_an_automatic_reply_waiting_for_a_retry_is_held_once_auto_send_stops(
    smtp: SmtpServer, agent_user: Any, settings: Any, stopped: str
) -> None:
    """An outage holds an auto-sent reply for a retry; the lead stops auto-send meanwhile (or
    the intent is taken back): when the server is back it is not delivered, it fails as held
    for an agent to answer, and a replayed dead letter stays held while auto-send is off.
    A human's reply in the same outage still goes."""
    make_auto("track_order", settings, min_confidence=0.5)
    auto, human = customer_mail("where is my order?"), customer_mail(sender="erin@example.com")
    assert _auto(auto)
    smtp.handler.data_replies.append("451 4.3.0 Mailbox busy, try later")
    automatic = reply_to(auto)
    assert outbound.attempt(automatic.pk) is not None  # waits for a retry
    if stopped == "kill switch":
        set_console_switch(False, Actor.for_user(agent_user))
    else:
        ladder.demote("track_order", DemotionReason.REJECTED, None, Actor.for_user(agent_user))
    written = approve(human, agent_user)

    elapse_backoff(automatic)
    assert outbound.attempt(automatic.pk) is None
    assert outbound.attempt(written.pk) is None
    held = delivery_of(automatic)
    assert (held.status, held.last_error) == ("failed", outbound.HELD)
    assert [r.message["To"] for r in smtp.received] == ["erin@example.com"]
    assert outbound.retry(automatic.pk) is not None  # an admin replays the dead letter
    deliver(automatic)
    assert delivery_of(automatic).status == "failed" and len(smtp.received) == 1


def test_a_refused_recipient_fails_for_good_is_dead_lettered_and_shown(
    smtp: SmtpServer, agent_user: Any, api: Client, console: Client
) -> None:
    smtp.handler.refuse["alice@example.com"] = "550 5.1.1 <alice@example.com>: no such user"
    draft = customer_mail()
    reply = approve(draft, agent_user)
    deliver(reply)

    assert smtp.received == []
    delivery = delivery_of(reply)
    assert (delivery.status, delivery.attempts) == ("failed", 1)  # a 5xx: no retry
    assert "550" in delivery.last_error and "alice@example.com" not in delivery.last_error
    letter = DeadLetter.objects.get(actor_name="deliver_reply")
    assert (letter.args, letter.kwargs) == ([str(reply.pk)], {"retry": True})
    thread = api.get(f"{API}/conversations/{draft.conversation_id}").json()
    assert thread["messages"][1]["delivery"]["status"] == "failed"
    assert "550" in thread["messages"][1]["delivery"]["last_error"]
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert "Failed" in page and "after 1 attempt:" in page

    deliver(reply)  # failed: the actor leaves it alone
    assert smtp.received == []
    smtp.handler.refuse.clear()  # the address works again; an admin replays the dead letter
    deliver_reply(*letter.args, **letter.kwargs)
    assert one(smtp).message["Message-ID"] == f"<{reply.email.message_id_header}>"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)


def test_an_outage_is_retried_with_backoff_then_failed_and_dead_lettered(
    smtp: SmtpServer, agent_user: Any, settings: Any
) -> None:
    settings.EMAIL_DELIVERY_MAX_ATTEMPTS = 3
    settings.EMAIL_DELIVERY_BACKOFF_SECONDS = 2.0
    reply = approve(customer_mail(), agent_user)
    smtp.stop()

    delays = [outbound.attempt(reply.pk)]
    assert outbound.attempt(reply.pk) is None  # not due: the backoff holds
    delivery = delivery_of(reply)
    assert (delivery.status, delivery.attempts) == ("queued", 1)
    assert delivery.last_error.startswith("ConnectionRefusedError")
    assert delivery.next_attempt_at > timezone.now()
    for _ in range(2):
        elapse_backoff(reply)
        delays.append(outbound.attempt(reply.pk))

    assert delays == [timedelta(seconds=2), timedelta(seconds=4), None]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert DeadLetter.objects.filter(actor_name="deliver_reply", retries=2).count() == 1


def test_a_temporary_refusal_is_retried(smtp: SmtpServer, agent_user: Any) -> None:
    smtp.handler.data_replies.append("451 4.3.0 Mailbox busy, try later")
    reply = approve(customer_mail(), agent_user)
    assert outbound.attempt(reply.pk) == timedelta(seconds=30)  # the default backoff
    assert "451" in delivery_of(reply).last_error
    elapse_backoff(reply)
    assert outbound.attempt(reply.pk) is None
    assert (delivery_of(reply).status, delivery_of(reply).attempts) == ("sent", 2)
    assert len(smtp.received) == 1


def test_smtp_down_while_replies_are_approved_each_goes_once_when_back(
    smtp: SmtpServer, agent_user: Any
) -> None:
    """The outbox path, step by step: failed attempts, the retry messages lost, the sweep
    queues them again, and every queue message is taken twice (the retry's and the sweep's)."""
    replies = [
        approve(customer_mail(f"question {n}", sender=f"c{n}@example.com"), agent_user)
        for n in range(3)
    ]
    smtp.stop()
    for reply in replies:
        assert outbound.attempt(reply.pk) is not None  # refused: retried later
    smtp.start()

    ReplyDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    queue = f"resolver:{OUTBOUND_QUEUE}"
    queued_before = int(get_redis().llen(queue))  # type: ignore[arg-type]
    assert outbox.sweep_replies() == 3
    assert int(get_redis().llen(queue)) == queued_before + 3  # type: ignore[arg-type]
    assert outbox.sweep_replies() == 0  # just queued: not again until it is late once more
    for reply in [*replies, *replies]:
        deliver(reply)

    ids = sorted(r.message["Message-ID"] for r in smtp.received)
    assert ids == sorted(f"<{r.email.message_id_header}>" for r in replies)
    for reply in replies:
        delivery = delivery_of(reply)
        assert (delivery.status, delivery.attempts) == ("sent", 2)


@pytest.mark.django_db(transaction=True)
def test_two_workers_taking_one_reply_at_once_send_it_once(
    smtp: SmtpServer, agent_user: Any
) -> None:
    smtp.handler.delay = 0.5  # the first send is still talking to the server
    reply = approve(customer_mail(), agent_user)
    results: list[Any] = []

    def attempt() -> None:
        results.append(outbound.attempt(reply.pk))
        connections.close_all()

    workers = [threading.Thread(target=attempt) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert results == [None, None]
    assert len(smtp.received) == 1
    assert delivery_of(reply).attempts == 1


def test_an_erased_customers_queued_reply_is_not_sent(smtp: SmtpServer, agent_user: Any) -> None:
    reply = approve(customer_mail(), agent_user)
    customer_data.do_erase("alice@example.com", Actor.agent())
    delivery = delivery_of(reply)
    assert (delivery.status, delivery.last_error) == ("failed", NOT_SENT_ERASED)
    deliver(reply)
    assert smtp.received == []
    assert not EmailEnvelope.objects.exists()


def test_a_free_form_reply_is_mailed_too(smtp: SmtpServer, agent_user: Any) -> None:
    draft = customer_mail(message_id="q@mail.example.com")
    reply = review.write_to_customer(
        draft.conversation_id, Actor.for_user(agent_user), "One more thing: it is insured."
    )
    deliver(reply)
    mail = one(smtp).message
    assert mail["In-Reply-To"] == "<q@mail.example.com>"
    assert mail.get_content().strip() == "One more thing: it is insured."


@pytest.mark.slow
def test_smtp_down_while_replies_are_approved_a_worker_delivers_each_once(
    smtp: SmtpServer, start_workers: Callable[..., Any]
) -> None:
    """End to end: the API approves while the SMTP server is down, a real worker retries with
    backoff; the server comes back and each reply arrives once."""
    drafts = [customer_mail(f"question {n}", sender=f"w{n}@example.com") for n in range(5)]
    smtp.stop()
    start_workers(
        EMAIL_HOST=smtp.host,
        EMAIL_PORT=str(smtp.port),
        EMAIL_TIMEOUT="5",
        SUPPORT_EMAIL_FROM="Shop Support <support@shop.example>",
        EMAIL_DELIVERY_BACKOFF_SECONDS="0.5",
    )
    act = key_client("act")
    for draft in drafts:
        assert post_json(act, f"/drafts/{draft.pk}/approve").status_code == 200

    failing = ReplyDelivery.objects.filter(status=ReplyDeliveryStatus.QUEUED, attempts__gte=2)
    assert wait_for(lambda: failing.count() == 5, 30), list(ReplyDelivery.objects.values())
    smtp.start()
    # A sweep on top of the worker's own retries: every reply is queued twice from now on.
    ReplyDelivery.objects.update(next_attempt_at=timezone.now() - timedelta(minutes=2))
    # A row a worker is sending at this very moment is locked, and the sweep skips it.
    assert 1 <= outbox.sweep_replies() <= 5
    sent = ReplyDelivery.objects.filter(status=ReplyDeliveryStatus.SENT)
    assert wait_for(lambda: sent.count() == 5, 60), list(ReplyDelivery.objects.values())
    assert wait_for(lambda: len(smtp.received) >= 5, 5)

    replies = [reply_to(draft) for draft in drafts]
    received = sorted(r.message["Message-ID"] for r in smtp.received)
    assert received == sorted(f"<{r.email.message_id_header}>" for r in replies)
    assert all(delivery.attempts >= 3 for delivery in sent)


def test_a_bounce_of_our_reply_marks_its_delivery_bounced(
    smtp: SmtpServer, agent_user: Any, api: Client, console: Client
) -> None:
    draft = customer_mail()
    reply = approve(draft, agent_user)
    deliver(reply)
    message_id = reply.email.message_id_header
    assert mark_bounced("<unknown@elsewhere.example>", "550 no such user") is None
    bounced = mark_bounced(f"<{message_id}>", "550 5.1.1 <alice@example.com>: no such user")
    assert bounced is not None and bounced.status == "bounced"
    assert "550 5.1.1" in bounced.last_error and "alice@example.com" not in bounced.last_error
    thread = api.get(f"{API}/conversations/{draft.conversation_id}").json()
    assert thread["messages"][1]["delivery"]["status"] == "bounced"
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert f'class="delivery bounced" id="delivery-{reply.pk}"' in page
    deliver(reply)
    assert len(smtp.received) == 1  # never sent again


def test_an_admin_retries_a_failed_delivery(
    smtp: SmtpServer,
    agent_user: Any,
    admin_client: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    smtp.handler.refuse["alice@example.com"] = "550 5.1.1 no such user"
    reply = approve(customer_mail(), agent_user)
    deliver(reply)
    assert delivery_of(reply).status == "failed"
    smtp.handler.refuse.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(
            "/admin/support/replydelivery/",
            {"action": "retry", "_selected_action": [str(reply.pk)]},
        )
    assert response.status_code == 302
    assert (delivery_of(reply).status, delivery_of(reply).attempts) == ("queued", 0)
    assert [c.args for c in callbacks if c.func.__name__ == "enqueue"] == [(reply.pk,)]
    deliver(reply)
    assert delivery_of(reply).status == "sent" and len(smtp.received) == 1
