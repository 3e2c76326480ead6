"""The reply stripper's edges (support/email/reply.py), beyond the corpus: what it must keep as
much as what it must cut."""

from __future__ import annotations

import pytest

from support.email.reply import latest_reply


@pytest.mark.parametrize(
    ("text", "sender", "expected"),
    [
        # A message that is only thanks is the message.
        ("Thanks!", "Anna Keller", "Thanks!"),
        # A sentence that starts with a closing word is not a signature.
        (
            "Hello,\nThanks, but the parcel is still missing. Order 55.\nAnna",
            "Anna Keller",
            "Hello,\nThanks, but the parcel is still missing. Order 55.",
        ),
        # Lists written with hyphens are text, not a signature.
        ("I need:\n- two mugs\n- one teapot", "", "I need:\n- two mugs\n- one teapot"),
        # A reply written between quoted lines keeps only the writer's lines.
        (
            "> When did you order?\nLast Monday.\n> Which colour?\nBlue.",
            "",
            "Last Monday.\nBlue.",
        ),
        # Only quoted text: nothing of the sender's own.
        ("On Mon, Dec 1, 2026 at 9:00 AM Shop <s@shop.example> wrote:\n> Hello", "", ""),
        # The closing word and name go; a last sentence that is not one stays.
        ("Where is it?\n\nBest price you have?", "", "Where is it?\n\nBest price you have?"),
        ("Where is it?\n\nKind regards,\nSchneider, Katrin", "Schneider, Katrin", "Where is it?"),
        # Apple Mail in Russian, and a forward, cut where they start.
        (
            "Спасибо, всё получил.\n\n3 дек. 2026 г., в 10:15, Shop <s@shop.example> написал(а):\n"  # noqa: RUF001
            "\n> Здравствуйте",
            "",
            "Спасибо, всё получил.",
        ),
        (
            "See below.\n\nBegin forwarded message:\n\nFrom: Shop <orders@shop.example>\nHi",
            "",
            "See below.",
        ),
    ],
)
def test_latest_reply(text: str, sender: str, expected: str) -> None:
    assert latest_reply(text, sender) == expected
