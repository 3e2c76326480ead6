"""Verified identity (#26) on the real database: an e-mail sender is verified only by our border's
Authentication-Results (or the ESP's verdict), a widget visitor only by the identity hash; only a
verified message links its conversation to a Customer, and one Customer links the channels a
verified person used (e-mail, widget, API)."""

from __future__ import annotations

import hashlib
import hmac
import io
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client

from resolver.audit_actor import Actor
from resolver.polling import wait_for
from support.customers import customer_for_email
from support.email.receive import receive_email
from support.inbound import receive_message
from support.models import Channel, Conversation, Customer, Message, MessageRole, WidgetKey
from support.models.conversation import CUSTOMER_LOCK_SPACE
from support.review import write_to_customer
from support.tests.conftest import API, key_client, start_widget, token_headers
from support.tests.email_fixtures import email_settings  # noqa: F401
from support.tests.emails.build import build, customer_message_id
from support.vocabulary import ReceiptStatus, Verification
from support.widget.identity import check_customer_hash, customer_hash
from tests.helpers import second_connection

BORDER = "mx.shop.example"
SECRET = "widget-identity-secret-for-tests"


@pytest.fixture
def identity(email_settings: Any) -> Any:  # noqa: F811 (the fixture, imported)
    email_settings.EMAIL_TRUSTED_AUTHSERV_ID = BORDER
    email_settings.WIDGET_IDENTITY_SECRET = SECRET
    return email_settings


def person() -> tuple[str, str]:
    """(a fresh domain's address, its domain): Redis's flood counters never see it twice."""
    domain = f"d{uuid.uuid4().hex[:8]}.example"
    return f"anna@{domain}", domain


def signed(raw: bytes, *results: str) -> bytes:
    """The e-mail as our border hands it on: its Authentication-Results headers on top."""
    top = b"".join(f"Authentication-Results: {value}\r\n".encode() for value in results)
    return top + raw


def email_from(address: str, *results: str, **kwargs: Any) -> Message:
    raw = signed(build(sender=f"Anna Keller <{address}>", **kwargs), *results)
    received = receive_email(raw, door="api")
    return Message.objects.select_related("conversation").get(pk=str(received.message_id))


# E-mail


@pytest.mark.parametrize(
    "results",
    [
        (),  # no header at all: the From is a claim
        ("mx.elsewhere.example; dmarc=pass header.from={domain}",),  # not our border
        (f"{BORDER}; dkim=pass header.d=bulk-mailer.example",),  # signed, by someone else
        (
            f"{BORDER}; dmarc=fail header.from={{domain}}",
            f"{BORDER}; dmarc=pass header.from={{domain}}",
        ),
    ],
    ids=["no-header", "untrusted-authserv-id", "dkim-for-another-domain", "forged-below-ours"],
)
def test_a_forged_from_is_stored_unverified_and_never_linked(
    db: None, identity: Any, results: tuple[str, ...]
) -> None:
    address, domain = person()
    customer = Customer.objects.create(ref="C-1042", name="Anna Keller", email=address)
    message = email_from(address, *(r.format(domain=domain) for r in results))

    assert message.verified_by == Verification.NONE and not message.sender_verified
    conversation = message.conversation
    assert conversation.customer_ref == address  # what the sender claimed, shown as such
    assert conversation.customer_id is None
    assert not customer.conversations.exists()
    assert Customer.objects.count() == 1  # and no customer was made for the claim


def test_a_trusted_dmarc_pass_is_verified_and_linked_to_the_customer_on_record(
    db: None, identity: Any
) -> None:
    address, domain = person()
    # On record with another case: e-mail addresses match case-insensitively.
    customer = Customer.objects.create(ref="C-1042", email=address.upper())
    message = email_from(address, f"{BORDER}; dmarc=pass (p=reject) header.from={domain}")

    assert message.verified_by == Verification.EMAIL_AUTH
    assert message.conversation.customer_id == customer.pk
    assert message.conversation.customer_ref == address
    assert Customer.objects.count() == 1


def test_a_look_alike_mailbox_is_not_the_customer_on_record(db: None, identity: Any) -> None:
    """U+212A KELVIN SIGN lowers to an ASCII "k": a DMARC-passing mail from "\u212aate@" (a
    mailbox of its own) was linked to Kate, verified, with her memory, orders and actions."""
    _, domain = person()
    kate = Customer.objects.create(ref="C-7", email=f"kate@{domain}")
    message = email_from(f"\u212aate@{domain}", f"{BORDER}; dmarc=pass header.from={domain}")

    assert message.conversation.customer_id != kate.pk
    assert message.conversation.customer_ref == f"\u212aate@{domain}"
    assert not kate.conversations.exists()
    # The same letters in another case are still the same mailbox.
    again = email_from(f"KATE@{domain}", f"{BORDER}; dmarc=pass header.from={domain}")
    assert again.conversation.customer_id == kate.pk


def test_a_verified_new_sender_becomes_a_customer_whose_ref_is_the_address(
    db: None, identity: Any
) -> None:
    address, domain = person()
    shouted = address.replace("anna", "Anna.Keller").upper()
    message = email_from(shouted, f"{BORDER}; dkim=pass header.d={domain.upper()}")

    assert message.verified_by == Verification.EMAIL_AUTH
    customer = Customer.objects.get()
    assert (customer.ref, customer.email) == (shouted.lower(), shouted.lower())
    assert message.conversation.customer_id == customer.pk


def test_visitors_a_verified_contact_form_relays_are_unverified_customers_of_their_own(
    db: None, identity: Any
) -> None:
    """A form or marketplace relay sends From its own, DKIM-signed address with the visitor in
    Reply-To: the relay's signature vouches for the relay, not for whoever filled in the form."""
    relay, domain = person()
    results = f"{BORDER}; dkim=pass header.d={domain}"
    stored = []
    for visitor in ("vera@visitors.example", "vic@visitors.example"):
        headers = {"Reply-To": f"Visitor <{visitor}>"}
        stored.append(email_from(relay, results, headers=headers, subject=f"Form: {visitor}"))

    assert [m.conversation.customer_ref for m in stored] == [
        "vera@visitors.example",
        "vic@visitors.example",
    ]
    assert [m.verified_by for m in stored] == [Verification.NONE] * 2
    assert {m.conversation.customer_id for m in stored} == {None}
    assert not Customer.objects.exists()


def test_the_esp_verdict_verifies_without_a_trusted_header(db: None, identity: Any) -> None:
    identity.EMAIL_TRUSTED_AUTHSERV_ID = ""
    address, domain = person()
    raw = signed(build(sender=address), f"{BORDER}; dmarc=pass header.from={domain}")
    not_trusted = receive_email(raw, door="anymail:amazon_ses", esp_verdict={"dmarc": "fail"})
    assert Message.objects.get(pk=str(not_trusted.message_id)).verified_by == Verification.NONE

    raw = build(sender=address)
    received = receive_email(raw, door="anymail:amazon_ses", esp_verdict={"dmarc": "pass"})
    message = Message.objects.select_related("conversation").get(pk=str(received.message_id))
    assert message.verified_by == Verification.ESP
    assert message.conversation.customer is not None


def test_a_verified_reply_links_the_conversation_a_forged_one_started(
    db: None, identity: Any
) -> None:
    address, domain = person()
    customer = Customer.objects.create(ref="C-7", email=address)
    first = email_from(address)
    assert first.conversation.customer_id is None
    reply_to = write_to_customer(first.conversation_id, Actor.agent(), "Could you confirm?")
    their_id = reply_to.email.message_id_header

    again = email_from(
        address,
        f"{BORDER}; dmarc=pass header.from={domain}",
        headers={"In-Reply-To": f"<{their_id}>"},
        message_id=customer_message_id(),
    )
    assert again.conversation_id == first.conversation_id
    assert again.verified_by == Verification.EMAIL_AUTH
    assert Conversation.objects.get(pk=first.conversation_id).customer_id == customer.pk
    # The forged first message stays what it was: unverified.
    first.refresh_from_db()
    assert first.verified_by == Verification.NONE


def test_ignored_mail_is_not_verified(db: None, identity: Any) -> None:
    address, domain = person()
    message = email_from(
        address,
        f"{BORDER}; dmarc=pass header.from={domain}",
        headers={"Auto-Submitted": "auto-replied"},
    )
    assert message.ignored_reason and message.verified_by == Verification.NONE
    assert not Customer.objects.exists()


# Widget


def _widget_message(client: Client, token: str, body: str = "Where is my order?") -> Message:
    response = client.post(
        f"{API}/widget/messages",
        {"body": body},
        content_type="application/json",
        headers=token_headers(token),
    )
    assert response.status_code == 202, response.content
    return Message.objects.select_related("conversation").get(pk=response.json()["id"])


@pytest.mark.parametrize(
    "given",
    [None, "", "0" * 64, customer_hash("C-1042", "another-secret"), "not hex at all", "é" * 300],
    ids=["missing", "empty", "zeros", "other-secret", "garbage", "long-non-ascii"],
)
def test_a_wrong_widget_hash_is_anonymous_not_an_error(
    client: Client, widget_key: WidgetKey, identity: Any, given: str | None
) -> None:
    Customer.objects.create(ref="C-1042")
    body = {"customer_ref": "C-1042"} | ({"customer_hash": given} if given is not None else {})
    response = start_widget(client, widget_key, **body)
    assert response.status_code == 201, response.content
    conversation = Conversation.objects.get(pk=response.json()["conversation_id"])
    assert (conversation.customer_ref, conversation.customer_id) == ("widget:C-1042", None)
    message = _widget_message(client, response.json()["token"])
    assert message.verified_by == Verification.NONE
    assert Conversation.objects.get(pk=conversation.pk).customer_id is None


def test_without_a_secret_no_widget_visitor_is_verified(
    client: Client, widget_key: WidgetKey, identity: Any
) -> None:
    right = customer_hash("C-1042")
    identity.WIDGET_IDENTITY_SECRET = ""
    assert not check_customer_hash("C-1042", right)
    assert not check_customer_hash("C-1042", customer_hash("C-1042"))  # HMAC under ""
    response = start_widget(client, widget_key, customer_ref="C-1042", customer_hash=right)
    assert response.status_code == 201
    conversation = Conversation.objects.get(pk=response.json()["conversation_id"])
    assert conversation.customer_ref == "widget:C-1042"


def test_a_right_widget_hash_is_the_customer_for_every_message_and_refresh(
    client: Client, widget_key: WidgetKey, identity: Any
) -> None:
    # The integrator's server computes it (README, "Identity"); hex in capitals is fine too.
    given = customer_hash("C-1042").upper()
    response = start_widget(client, widget_key, customer_ref="C-1042", customer_hash=given)
    assert response.status_code == 201
    data = response.json()
    conversation = Conversation.objects.select_related("customer").get(pk=data["conversation_id"])
    assert conversation.customer_ref == "C-1042"  # the ref itself, no "widget:" prefix
    assert conversation.customer is not None and conversation.customer.ref == "C-1042"

    first = _widget_message(client, data["token"])
    assert first.verified_by == Verification.WIDGET_HASH
    refreshed = client.post(f"{API}/widget/token", headers=token_headers(data["token"]))
    assert refreshed.status_code == 200
    second = _widget_message(client, refreshed.json()["token"], "and my refund?")
    assert second.verified_by == Verification.WIDGET_HASH
    # Another visitor's conversation is not theirs to verify (a hash is per ref).
    other = start_widget(
        client, widget_key, customer_ref="C-2000", customer_hash=customer_hash("C-1042")
    )
    assert Conversation.objects.get(pk=other.json()["conversation_id"]).customer_id is None


# Channels


def test_a_verified_token_stops_vouching_when_the_secret_changes_or_it_grows_old(
    client: Client, widget_key: WidgetKey, identity: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refreshed within every window, a token copied from the host page's storage vouched for
    its customer for ever, even after the identity secret was changed because it leaked."""
    from support.widget import tokens

    given = customer_hash("C-1042")
    token = start_widget(client, widget_key, customer_ref="C-1042", customer_hash=given).json()[
        "token"
    ]
    assert tokens.read(token).verified

    identity.WIDGET_IDENTITY_SECRET = SECRET + "-rotated"
    assert not tokens.read(token).verified
    refreshed = client.post(f"{API}/widget/token", headers=token_headers(token)).json()["token"]
    assert not tokens.read(refreshed).verified  # the refresh does not restore it
    assert _widget_message(client, refreshed).verified_by == Verification.NONE

    identity.WIDGET_IDENTITY_SECRET = SECRET
    assert tokens.read(token).verified
    later = time.time() + tokens.VERIFIED_MAX_AGE.total_seconds() + 60
    monkeypatch.setattr(tokens.time, "time", lambda: later)
    assert not tokens.read(token, max_age=timedelta(days=10**4)).verified  # verified too long ago


def test_email_widget_and_api_of_one_verified_person_link_to_one_customer(
    client: Client, widget_key: WidgetKey, identity: Any
) -> None:
    address, domain = person()
    customer = Customer.objects.create(ref="C-1042", name="Anna Keller", email=address)

    by_email = email_from(address, f"{BORDER}; dmarc=pass header.from={domain}")
    widget = start_widget(
        client, widget_key, customer_ref="C-1042", customer_hash=customer_hash("C-1042")
    ).json()
    by_widget = _widget_message(client, widget["token"])
    api = key_client("ingest")
    posted = api.post(
        f"{API}/messages",
        {"body": "Any news on my refund?", "customer_ref": "C-1042"},
        content_type="application/json",
    )
    assert posted.status_code == 202, posted.content
    by_api = Message.objects.get(pk=posted.json()["id"])

    assert [by_email.verified_by, by_widget.verified_by, by_api.verified_by] == [
        Verification.EMAIL_AUTH,
        Verification.WIDGET_HASH,
        Verification.API_KEY,
    ]
    linked = Conversation.objects.filter(customer=customer)
    assert set(linked.values_list("channel", flat=True)) == {
        Channel.EMAIL,
        Channel.WIDGET,
        Channel.API,
    }
    assert Customer.objects.count() == 1
    # And a forged e-mail in the same name reaches none of them.
    forged = email_from(address)
    assert forged.conversation.customer_id is None
    assert linked.count() == 3


def test_an_api_ref_that_is_a_verified_senders_address_is_the_same_customer(
    db: None, identity: Any
) -> None:
    address, domain = person()
    email_from(address, f"{BORDER}; dmarc=pass header.from={domain}")
    posted = key_client("ingest").post(
        f"{API}/messages",
        {"body": "Hello again", "customer_ref": address},
        content_type="application/json",
    )
    assert posted.status_code == 202
    assert Customer.objects.count() == 1
    assert Conversation.objects.filter(customer__ref=address).count() == 2


def test_the_api_shows_how_each_customer_message_was_verified(db: None, identity: Any) -> None:
    address, domain = person()
    message = email_from(address, f"{BORDER}; dmarc=pass header.from={domain}")
    write_to_customer(message.conversation_id, Actor.agent(), "On its way.")
    response = key_client("read").get(f"{API}/conversations/{message.conversation_id}")
    shown = [(m["role"], m["verified_by"]) for m in response.json()["messages"]]
    assert shown == [(MessageRole.CUSTOMER, "email_auth"), (MessageRole.AGENT, None)]


@pytest.mark.django_db(transaction=True)
def test_a_verified_email_arriving_during_its_customers_erasure_is_stored(identity: Any) -> None:
    """The erasure holds the customer's lock and deletes their row; the e-mail read that row
    before waiting on the lock, and linking to it failed at commit (quarantined)."""
    address, domain = person()
    Customer.objects.create(ref="crm-erasing", email=address)
    raw = signed(
        build(sender=f"Anna Keller <{address}>"), f"{BORDER}; dmarc=pass header.from={domain}"
    )
    outcome: list[Any] = []
    eraser = second_connection()
    try:
        with eraser.transaction():
            eraser.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                [CUSTOMER_LOCK_SPACE, "crm-erasing"],
            )
            eraser.execute("DELETE FROM support_customer WHERE ref = 'crm-erasing'")

            def receive() -> None:
                try:
                    outcome.append(receive_email(raw, door="api"))
                finally:
                    connection.close()

            receiver = threading.Thread(target=receive)
            receiver.start()
            waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            assert wait_for(lambda: eraser.execute(waiting).fetchone()[0] > 0, 10)
        receiver.join(timeout=30)
    finally:
        eraser.close()
    received = outcome[0]
    assert received.status == ReceiptStatus.PENDING, received
    conversation = Conversation.objects.select_related("customer").get(
        pk=str(received.conversation_id)
    )
    assert conversation.customer is not None and conversation.customer.ref == address


@pytest.mark.django_db(transaction=True)
def test_two_first_messages_at_once_make_one_customer(identity: Any) -> None:
    address, _ = person()
    barrier = threading.Barrier(2)
    found: list[int] = []
    errors: list[BaseException] = []

    def first_message() -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                found.append(customer_for_email(address).pk)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first_message) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert len(found) == 2 and found[0] == found[1]
    assert Customer.objects.filter(ref=address).count() == 1


# Console


def _row(page: str, draft_id: Any) -> str:
    start = page.index(f'id="row-{draft_id}"')
    return page[start : page.index("</tr>", start)]


def test_the_console_marks_verified_and_unverified_senders(console: Client) -> None:
    _, trusted = receive_message(
        "Where is my order?", customer_ref="C-1", verified_by=Verification.API_KEY, enqueue=False
    )
    _, claimed = receive_message("Refund me", customer_ref="widget:C-1", enqueue=False)

    queue = console.get("/console/").content.decode()
    assert 'class="chip identity verified"' in _row(queue, trusted.pk)
    assert 'class="chip identity unverified"' in _row(queue, claimed.pk)
    assert "identity verified" not in _row(queue, claimed.pk)

    page = console.get(f"/console/conversations/{trusted.conversation_id}/").content.decode()
    assert "verified · API key (the integrator authenticated the customer)" in page
    page = console.get(f"/console/conversations/{claimed.conversation_id}/").content.decode()
    head = page[page.index('class="conversation-head"') : page.index('id="timeline"')]
    timeline = page[page.index('id="timeline"') :]
    assert "unverified sender" in head and "unverified sender" in timeline
    assert "identity verified" not in page


def test_the_widget_hash_command_prints_what_the_host_page_sends(identity: Any) -> None:
    out = io.StringIO()
    call_command("widget_hash", "C-1042", stdout=out)
    expected = hmac.new(SECRET.encode(), b"C-1042", hashlib.sha256).hexdigest()
    assert out.getvalue().strip() == expected
    assert check_customer_hash("C-1042", expected)
    identity.WIDGET_IDENTITY_SECRET = ""
    with pytest.raises(CommandError, match="WIDGET_IDENTITY_SECRET"):
        call_command("widget_hash", "C-1042", stdout=out)


def test_a_verified_sender_who_is_not_the_conversations_customer_vouches_for_nobody(
    db: None, identity: Any
) -> None:
    """A colleague in Cc, verified as themselves, writes into Anna's thread: their message must
    not get Anna's orders or memory, so it is stored unverified (as Anna)."""
    address, domain = person()
    anna = email_from(address, f"{BORDER}; dmarc=pass header.from={domain}")
    assert anna.conversation.customer is not None

    colleague, _ = receive_message(
        "Adding myself: what is the status of order NW-10001?",
        conversation=anna.conversation,
        customer_ref=f"bob@{domain}",
        channel=Channel.EMAIL,
        verified_by=Verification.EMAIL_AUTH,
    )
    assert colleague.verified_by == Verification.NONE
    again, _ = receive_message(
        "And one more thing.",
        conversation=anna.conversation,
        customer_ref=address,
        channel=Channel.EMAIL,
        verified_by=Verification.EMAIL_AUTH,
    )
    assert again.verified_by == Verification.EMAIL_AUTH  # Anna herself still is
    conversation = Conversation.objects.get(pk=anna.conversation_id)
    assert conversation.customer_id == anna.conversation.customer_id


def test_only_the_threads_own_customer_links_a_conversation_not_linked_yet(
    db: None, identity: Any
) -> None:
    """Anna's first e-mail was unverified (the thread is linked to nobody); a colleague in Cc,
    verified as himself, writes next: he must not link Anna's thread to himself (her words in his
    history, his orders in a reply that goes to her). Anna herself, verified, links it."""
    address, domain = person()
    anna = email_from(address)
    assert anna.conversation.customer_id is None

    bob, _ = receive_message(
        "Adding myself: what about my order NW-10001?",
        conversation=anna.conversation,
        customer_ref=f"bob@{domain}",
        channel=Channel.EMAIL,
        verified_by=Verification.EMAIL_AUTH,
    )
    assert bob.verified_by == Verification.NONE
    assert Conversation.objects.get(pk=anna.conversation_id).customer_id is None
    assert not Customer.objects.exists()  # and no customer was made for Bob

    again, _ = receive_message(
        "It is me, Anna.",
        conversation=anna.conversation,
        customer_ref=address.upper(),  # the same mailbox, however written
        channel=Channel.EMAIL,
        verified_by=Verification.EMAIL_AUTH,
    )
    assert again.verified_by == Verification.EMAIL_AUTH
    linked = Conversation.objects.select_related("customer").get(pk=anna.conversation_id)
    assert linked.customer is not None and linked.customer.email == address


def test_an_api_ref_other_than_the_threads_own_does_not_link_it(db: None, identity: Any) -> None:
    first, _ = receive_message("Where is my order?", customer_ref="C-1", enqueue=False)
    assert first.conversation.customer_id is None

    other, _ = receive_message(
        "Mine too",
        conversation=first.conversation,
        customer_ref="C-2",
        verified_by=Verification.API_KEY,
        enqueue=False,
    )
    assert other.verified_by == Verification.NONE
    assert Conversation.objects.get(pk=first.conversation_id).customer_id is None

    own, _ = receive_message(
        "Any news?",
        conversation=first.conversation,
        customer_ref="C-1",
        verified_by=Verification.API_KEY,
        enqueue=False,
    )
    assert own.verified_by == Verification.API_KEY
    assert Conversation.objects.get(pk=first.conversation_id).customer.ref == "C-1"  # type: ignore[union-attr]


def test_a_customer_on_record_links_the_thread_started_under_their_ref(
    db: None, identity: Any
) -> None:
    """A thread started (unverified) under a customer's ref, then their verified e-mail: the
    Customer on record for that address has that ref, so it is them."""
    address, _ = person()
    customer = Customer.objects.create(ref="C-77", email=address)
    first, _ = receive_message("Hello", customer_ref="C-77", enqueue=False)
    again, _ = receive_message(
        "It is me",
        conversation=first.conversation,
        customer_ref=address,
        channel=Channel.EMAIL,
        verified_by=Verification.EMAIL_AUTH,
        enqueue=False,
    )
    assert again.verified_by == Verification.EMAIL_AUTH
    assert Conversation.objects.get(pk=first.conversation_id).customer_id == customer.pk


def test_a_header_forged_on_an_esp_door_verifies_nobody(db: None, identity: Any) -> None:
    """Mail through an ESP's webhook never passed our border: a sender's header naming our
    border's id is a forgery there, and only the ESP's verdict counts."""
    address, domain = person()
    forged = signed(build(sender=address), f"{BORDER}; dmarc=pass header.from={domain}")
    received = receive_email(forged, door="anymail:mailgun", esp_verdict={})
    message = Message.objects.select_related("conversation").get(pk=str(received.message_id))
    assert message.verified_by == Verification.NONE
    assert message.conversation.customer_id is None
    assert not Customer.objects.exists()


def test_the_esps_own_header_on_top_verifies_on_its_door_only(db: None, identity: Any) -> None:
    identity.EMAIL_TRUSTED_AUTHSERV_ID = "amazonses.com"
    address, domain = person()
    ses = f"amazonses.com; dmarc=pass header.from={domain}"
    received = receive_email(
        signed(build(sender=address), ses), door="anymail:amazon_ses", esp_verdict={}
    )
    assert Message.objects.get(pk=str(received.message_id)).verified_by == Verification.EMAIL_AUTH

    # The same header on another ESP's door is the sender's own: nobody vouched.
    other, _ = person()
    received = receive_email(
        signed(build(sender=other), ses.replace(domain, other.rpartition("@")[2])),
        door="anymail:mailgun",
        esp_verdict={},
    )
    assert Message.objects.get(pk=str(received.message_id)).verified_by == Verification.NONE


def test_a_message_whose_topmost_header_is_someone_elses_is_unverified(
    db: None, identity: Any
) -> None:
    """Our border adds its header on top; a message whose first Authentication-Results is
    another server's did not come to us through it, so nothing below counts."""
    address, domain = person()
    message = email_from(
        address,
        f"mx.elsewhere.example; dmarc=pass header.from={domain}",
        f"{BORDER}; dmarc=pass header.from={domain}",
    )
    assert message.verified_by == Verification.NONE
    assert message.conversation.customer_id is None
