"""Threading (support/email/threading.py) on the real database: a reply joins its conversation by
In-Reply-To or References (naming the customer's e-mail or our reply), then by the subject's
[#token]; the token and the headers join only for the conversation's customer or a known
participant; a new subject is a new conversation."""

from __future__ import annotations

from typing import Any

import pytest

from support.email.receive import Received, receive_email
from support.email.threading import participants
from support.models import Conversation, EmailEnvelope, Message
from support.tests.email_fixtures import email_settings, our_reply, unique_sender  # noqa: F401
from support.tests.emails.build import SUPPORT, build, customer_message_id
from support.vocabulary import ReceiptStatus

pytestmark = pytest.mark.usefixtures("email_settings")

ANNA = "Anna Keller <anna.keller@gmail.example>"
BOB = "Bob Keller <bob.keller@gmail.example>"
STRANGER = "Mallory <mallory@evil.example>"


@pytest.fixture
def thread(db: None) -> dict[str, Any]:
    """Anna writes (Bob in Cc); we reply. Her e-mail's and our reply's Message-IDs, the token."""
    first_id = customer_message_id()
    first = receive_email(
        build(
            "My order 1042 arrived damaged.",
            sender=ANNA,
            subject="Parcel arrived damaged",
            message_id=first_id,
            headers={"Cc": f"{BOB}, Help <help@shop.example>"},
        ),
        door="imap",
    )
    conversation = Conversation.objects.get(pk=str(first.conversation_id))
    return {
        "first": first,
        "first_id": first_id,
        "reply_id": our_reply(conversation.pk),
        "token": conversation.thread_token,
        "conversation_id": conversation.pk,
    }


def _reply(
    sender: str = ANNA, subject: str = "Re: Parcel arrived damaged", **headers: str
) -> Received:
    return receive_email(
        build("Here is the photo you asked for.", sender=sender, subject=subject, headers=headers),
        door="imap",
    )


def test_in_reply_to_our_reply_joins_the_conversation(thread: dict[str, Any]) -> None:
    received = _reply(**{"In-Reply-To": f"<{thread['reply_id']}>"})
    assert received.conversation_id == thread["conversation_id"]
    assert received.status == ReceiptStatus.PENDING


def test_references_alone_join_the_conversation(thread: dict[str, Any]) -> None:
    references = f"<{thread['first_id']}> <{thread['reply_id']}> <unknown@elsewhere.example>"
    received = _reply(References=references)
    assert received.conversation_id == thread["conversation_id"]


def test_the_subject_token_joins_for_the_customer(thread: dict[str, Any]) -> None:
    # The headers were lost (a client that strips them, a forward to oneself): the token.
    received = _reply(subject=f"Re: Parcel arrived damaged [#{thread['token'].upper()}]")
    assert received.conversation_id == thread["conversation_id"]


def test_the_subject_token_joins_for_a_participant_in_cc(thread: dict[str, Any]) -> None:
    received = _reply(sender=BOB, subject=f"Re: Parcel arrived damaged [#{thread['token']}]")
    assert received.conversation_id == thread["conversation_id"]
    # The conversation stays Anna's; Bob's message is in it.
    assert Conversation.objects.get(pk=str(received.conversation_id)).customer_ref == (
        "anna.keller@gmail.example"
    )


def test_a_stranger_quoting_the_token_starts_a_conversation_of_their_own(
    thread: dict[str, Any],
) -> None:
    received = _reply(sender=STRANGER, subject=f"Re: Parcel arrived damaged [#{thread['token']}]")
    assert received.conversation_id != thread["conversation_id"]
    conversation = Conversation.objects.get(pk=str(received.conversation_id))
    assert conversation.customer_ref == "mallory@evil.example"
    assert conversation.subject == "Re: Parcel arrived damaged"  # not another's token


def test_a_stranger_answering_by_the_headers_starts_a_conversation_too(
    thread: dict[str, Any],
) -> None:
    # A newsletter many received, replied to by one of them: their reply is not Anna's thread.
    received = _reply(sender=STRANGER, **{"In-Reply-To": f"<{thread['reply_id']}>"})
    assert received.conversation_id != thread["conversation_id"]
    assert received.status == ReceiptStatus.PENDING


def test_a_new_subject_from_the_same_sender_is_a_new_conversation(thread: dict[str, Any]) -> None:
    received = _reply(subject="Question about invoices")
    assert received.conversation_id != thread["conversation_id"]
    assert Conversation.objects.filter(customer_ref="anna.keller@gmail.example").count() == 2


def test_to_and_cc_are_stored_and_our_addresses_are_no_participants(
    thread: dict[str, Any],
) -> None:
    envelope = EmailEnvelope.objects.get(message_id=thread["first"].message_id)
    assert envelope.to == ["support@shop.example"]
    assert envelope.cc == ["bob.keller@gmail.example", "help@shop.example"]
    conversation = Conversation.objects.get(pk=thread["conversation_id"])
    assert participants(conversation) == {"anna.keller@gmail.example", "bob.keller@gmail.example"}
    # Mail from our alias in Cc is ours, whatever thread it names: stored, never drafted.
    ours = _reply(sender="Help <help@shop.example>", **{"In-Reply-To": f"<{thread['first_id']}>"})
    assert ours.status == ReceiptStatus.IGNORED and ours.ignored_reason == "own_address"


def test_an_auto_reply_joins_the_thread_it_answers_without_a_draft(thread: dict[str, Any]) -> None:
    sender, _ = unique_sender("Office")
    received = _reply(
        sender=sender,
        subject="Automatic reply: Re: Parcel arrived damaged",
        **{"In-Reply-To": f"<{thread['reply_id']}>", "Auto-Submitted": "auto-replied"},
    )
    assert received.conversation_id == thread["conversation_id"]
    assert received.draft_id is None
    assert Message.objects.filter(conversation_id=thread["conversation_id"]).count() == 3


@pytest.mark.parametrize(
    ("headers", "door", "verdict"),
    [
        ({"Auto-Submitted": "auto-replied"}, "imap", {}),
        ({"Precedence": "list"}, "imap", {}),
        ({}, "anymail:mailgun", {"spam_detected": True}),
    ],
    ids=["auto-reply", "list", "spam"],
)
def test_an_ignored_mail_in_the_thread_makes_nobody_a_participant(
    thread: dict[str, Any], headers: dict[str, str], door: str, verdict: dict[str, Any]
) -> None:
    from support.outbound.email import recipient

    conversation = Conversation.objects.get(pk=thread["conversation_id"])
    before = participants(conversation)
    in_reply_to = {"In-Reply-To": f"<{thread['reply_id']}>"}
    # Anyone may send mail that is not drafted, naming our reply, copying whom they like.
    ignored = receive_email(
        build(
            "Hi",
            sender=STRANGER,
            subject="Re: Parcel arrived damaged",
            headers={**in_reply_to, "Cc": "Eve <eve@evil.example>", **headers},
        ),
        door=door,
        esp_verdict=verdict,
    )
    assert ignored.status == ReceiptStatus.IGNORED
    assert ignored.conversation_id == thread["conversation_id"]  # shown in the thread it names
    assert participants(conversation) == before

    # Their next ordinary mail is a stranger's, not a participant's: a conversation of its own.
    for sender in (STRANGER, "Eve <eve@evil.example>"):
        followup = _reply(sender=sender, **in_reply_to)
        assert followup.conversation_id != thread["conversation_id"]
    assert recipient(conversation) == "anna.keller@gmail.example"


def test_thread_unknown_headers_start_a_new_conversation(db: None) -> None:
    received = _reply(
        **{"In-Reply-To": "<never-seen@elsewhere.example>"}, subject=f"Re: hi {SUPPORT}"
    )
    assert Conversation.objects.get(pk=str(received.conversation_id)).customer_ref == (
        "anna.keller@gmail.example"
    )
