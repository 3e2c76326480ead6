"""Our reply's threading headers from the customer's (support/outbound/headers.py): one "Re:" and
one token whatever their client did to the subject, References bounded keeping the thread's root,
reply-all without our own addresses."""

from __future__ import annotations

import pytest

from support.models.conversation import new_thread_token
from support.outbound.headers import (
    MAX_REFERENCES,
    Theirs,
    base_subject,
    recipients,
    references,
    reply_subject,
)

TOKEN = new_thread_token()


@pytest.mark.parametrize(
    ("theirs", "ours"),
    [
        ("Where is my order?", "Re: Where is my order?"),
        ("Re: Where is my order?", "Re: Where is my order?"),
        ("RE: Re: re:Where is my order?", "Re: Where is my order?"),
        ("Aw: AW: Where is my order?", "Re: Where is my order?"),
        ("Fwd: Re: Where is my order?", "Re: Where is my order?"),
        ("Re[2]: Re (3): Where is my order?", "Re: Where is my order?"),
        ("SV: Antw: WG: Where is my order?", "Re: Where is my order?"),
        ("Re\uff1a Where is my order?", "Re: Where is my order?"),  # a full-width colon
        (f"Re: Where is my order? [#{TOKEN}]", "Re: Where is my order?"),
        (f"RE: [#{TOKEN}] Re: Where is my order?", "Re: Where is my order?"),
        (f"Re: Where is my order? [#{TOKEN.upper()}] [#{TOKEN}]", "Re: Where is my order?"),
        ("  Where\n is   my order?\t", "Re: Where is my order?"),  # folded, spaced
        ("[Shop] Order #123: Rework needed", "Re: [Shop] Order #123: Rework needed"),
        ("Regarding: my order", "Re: Regarding: my order"),  # a word, not a prefix
        ("", "Re:"),
        ("Re:", "Re:"),
    ],
)
def test_the_subject_says_re_once_with_one_token(theirs: str, ours: str) -> None:
    assert reply_subject(theirs, TOKEN) == f"{ours} [#{TOKEN}]"


def test_replying_to_our_own_reply_changes_nothing() -> None:
    once = reply_subject("Where is my order?", TOKEN)
    assert reply_subject(once, TOKEN) == once
    assert reply_subject(f"Re: {once}", TOKEN) == once
    assert base_subject(once) == "Where is my order?"


def test_a_very_long_subject_is_cut() -> None:
    assert len(reply_subject("x" * 5000, TOKEN)) < 300


def test_references_are_the_thread_plus_their_message_bounded() -> None:
    theirs = Theirs(message_id="c@x", references=["a@x", "b@x", "a@x"])
    assert references(theirs) == ["a@x", "b@x", "c@x"]
    long = Theirs(message_id="last@x", references=[f"{n}@x" for n in range(50)])
    chain = references(long)
    assert len(chain) == MAX_REFERENCES
    assert chain[0] == "0@x" and chain[-1] == "last@x"
    assert chain[1:] == [*(f"{n}@x" for n in range(31, 50)), "last@x"][-(MAX_REFERENCES - 1) :]
    assert references(Theirs(message_id="only@x")) == ["only@x"]


def test_reply_all_leaves_out_our_addresses_and_repeats() -> None:
    theirs = Theirs(
        message_id="m@x",
        from_address="alice@example.com",
        to=["Support@Shop.Example", "carol@example.com", "ALICE@example.com"],
        cc=["help@shop.example", "dave@example.com", "carol@example.com"],
    )
    to, cc = recipients(theirs, {"support@shop.example", "help@shop.example"})
    assert to == ["alice@example.com", "carol@example.com"]
    assert cc == ["dave@example.com"]


def test_mail_from_ourselves_has_nobody_to_answer() -> None:
    theirs = Theirs(message_id="m@x", from_address="support@shop.example")
    assert recipients(theirs, {"support@shop.example"}) == ([], [])


def test_a_look_alike_mailbox_is_answered_as_written() -> None:
    """str.lower() turned U+212A KELVIN SIGN into "k": the reply to "\u212aate@" went to Kate."""
    theirs = Theirs(message_id="m@x", from_address="\u212aate@example.com", to=["Kate@example.com"])
    to, _ = recipients(theirs, {"support@shop.example"})
    assert to == ["\u212aate@example.com", "Kate@example.com"]
