"""The corpus of real client messages (support/tests/emails/corpus, README there): each e-mail as
Gmail, Outlook, Apple Mail, iPhone, Android, Yahoo, AOL, Thunderbird, Hotmail/Outlook.com and
others write it, and the text a person reads as what the customer wrote in it. The parser must
find exactly that text in every one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.email.parse import parse
from support.tests.emails.build import CORPUS

MESSAGES = sorted(CORPUS.glob("*.eml"))


def expected(path: Path) -> str:
    return path.with_suffix(".expected.txt").read_text(encoding="utf-8").strip()


def test_the_corpus_covers_the_clients_and_languages() -> None:
    names = {path.stem for path in MESSAGES}
    assert len(MESSAGES) >= 40
    for client in ("gmail", "outlook", "apple", "iphone", "android", "yahoo", "aol", "thunderbird"):
        assert any(name.startswith(client) for name in names), client
    assert {"outlookcom_web", "hotmail_legacy"} <= names  # Hotmail / Outlook.com
    assert all(path.with_suffix(".expected.txt").exists() for path in MESSAGES)


@pytest.mark.parametrize("path", MESSAGES, ids=[path.stem for path in MESSAGES])
def test_the_customers_text_is_what_a_person_reads(path: Path) -> None:
    assert parse(path.read_bytes()).body == expected(path)
