"""The IMAP door against a real Dovecot (support/tests/mail_servers.py): each message handed over
once, in UID order, across restarts, batches, another client's reads, a UIDVALIDITY change and a
receiver that fails; `manage.py fetch_email --once` and the periodic actor end to end. Each test
reads its own folder of the session's one server."""

from __future__ import annotations

import uuid
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError
from imap_tools import MailBoxUnencrypted

from resolver.periodic import LOCK_PREFIX as PERIODIC_LOCK
from resolver.redis_client import get_redis
from support.actors import poll_mailbox
from support.email import imap
from support.models import MailboxCursor
from support.tests.email_receiver import Recorder
from support.tests.mail_servers import Dovecot

pytestmark = pytest.mark.django_db


def mail(n: int, body: bytes = b"Where is my order?") -> bytes:
    return (
        (
            f"From: Customer {n} <customer{n}@example.com>\r\nTo: support@example.org\r\n"
            f"Subject: Order question {n}\r\nMessage-ID: <m{n}.{uuid.uuid4().hex}@example.com>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        ).encode()
        + body
        + b"\r\n"
    )


@pytest.fixture
def box(dovecot: Dovecot, email_receiver: Recorder) -> imap.Mailbox:
    """A fresh folder of the test mailbox, read with a password over plain IMAP."""
    return dovecot.new_mailbox()


def flags(dovecot: Dovecot, folder: str) -> list[tuple[str, ...]]:
    with dovecot.client() as other:
        other.folder.set(folder, readonly=True)
        return [m.flags for m in other.fetch(mark_seen=False, headers_only=True)]


def test_a_new_message_is_handed_over_once_as_the_server_stores_it(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    first, second = mail(1), mail(2)
    dovecot.append(box.folder, first, second)
    result = imap.poll(box)
    assert (result.handed_over, result.uids, result.error) == (2, [1, 2], "")
    assert email_receiver.raws() == [first, second]
    assert {item.door for item in email_receiver.handed} == {"imap"}
    assert imap.poll(box).handed_over == 0
    assert len(email_receiver.handed) == 2
    cursor = MailboxCursor.objects.get(folder=box.folder)
    assert (cursor.last_uid, cursor.retry_uids, cursor.last_error) == (2, {}, "")
    assert cursor.uidvalidity and cursor.last_polled_at


def test_a_restart_neither_repeats_nor_skips(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    """A poll that dies mid-batch (the database gone while the second message is handed over)
    leaves the cursor after the first; a new poller, reading the cursor from the database,
    resumes at the second: each message once, in order."""
    messages = [mail(n) for n in range(1, 5)]
    dovecot.append(box.folder, *messages)
    email_receiver.refuse, email_receiver.error = {b"Customer 2 "}, OperationalError
    with pytest.raises(OperationalError):
        imap.poll(box)
    assert email_receiver.raws() == messages[:1]
    assert MailboxCursor.objects.get(folder=box.folder).last_uid == 1
    email_receiver.refuse.clear()
    restarted = imap.Mailbox(**{**box.__dict__})
    assert imap.poll(restarted).uids == [2, 3, 4]
    dovecot.append(box.folder, extra := mail(5))
    assert imap.poll(restarted).uids == [5]
    assert email_receiver.raws() == [*messages, extra]


def test_another_client_reading_or_flagging_changes_nothing(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    messages = [mail(n) for n in range(1, 4)]
    dovecot.append(box.folder, *messages)
    with dovecot.client() as person:
        person.folder.set(box.folder)
        list(person.fetch("ALL", mark_seen=True))  # a person reads every message
        person.flag(["2"], ["\\Flagged", "\\Answered"], True)
        person.flag(["3"], ["\\Seen"], False)  # and marks one unread again
    before = flags(dovecot, box.folder)
    assert imap.poll(box).uids == [1, 2, 3]
    assert email_receiver.raws() == messages
    assert flags(dovecot, box.folder) == before  # our reading set no flag


def test_our_reading_leaves_unread_mail_unread(dovecot: Dovecot, box: imap.Mailbox) -> None:
    dovecot.append(box.folder, mail(1))
    imap.poll(box)
    assert "\\Seen" not in flags(dovecot, box.folder)[0]


def test_a_changed_uidvalidity_reads_the_folder_again(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    old = [mail(1), mail(2)]
    dovecot.append(box.folder, *old)
    imap.poll(box)
    before = MailboxCursor.objects.get(folder=box.folder).uidvalidity
    with dovecot.client() as admin:  # the folder is recreated (a migration, a restore)
        admin.folder.delete(box.folder)
        admin.folder.create(box.folder)
    new = mail(3)
    dovecot.append(box.folder, old[1], new)
    result = imap.poll(box)
    cursor = MailboxCursor.objects.get(folder=box.folder)
    assert result.reset and cursor.uidvalidity != before
    # Read from UID 1 again: the repeated message goes to the receive path, whose Message-ID
    # dedupe drops it; the new one is not lost.
    assert (result.uids, cursor.last_uid) == ([1, 2], 2)
    assert email_receiver.raws() == [*old, old[1], new]


def test_a_folder_larger_than_a_batch_is_fetched_across_polls(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    messages = [mail(n) for n in range(1, 8)]
    dovecot.append(box.folder, *messages)
    polls = [imap.poll(box, batch_size=3, max_batches=1) for _ in range(3)]
    assert [(p.uids, p.more) for p in polls] == [
        ([1, 2, 3], True),
        ([4, 5, 6], True),
        ([7], False),
    ]
    assert email_receiver.raws() == messages
    # Within one poll, batch after batch until caught up.
    dovecot.append(box.folder, *(more := [mail(n) for n in range(8, 13)]))
    assert imap.poll(box, batch_size=2).uids == [8, 9, 10, 11, 12]
    assert email_receiver.raws() == messages + more


def test_a_message_over_the_size_limit_is_handed_over_as_headers_only(
    dovecot: Dovecot,
    box: imap.Mailbox,
    email_receiver: Recorder,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Never fetched whole (INBOUND_EMAIL_MAX_BYTES), and the others' bodies in commands of at
    most FETCH_BYTES: a batch of large mail is never all in memory at once."""
    settings.INBOUND_EMAIL_MAX_BYTES = 4096
    monkeypatch.setattr(imap, "FETCH_BYTES", 2500)
    small = [mail(n, b"x" * 1000) for n in (1, 2, 4, 5)]
    huge = mail(3, b"y" * 20_000)
    dovecot.append(box.folder, small[0], small[1], huge, small[2], small[3])
    fetched: list[tuple[list[str], bool]] = []  # (UIDs, headers only) of each FETCH
    real_fetch = imap.BaseMailBox.fetch

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        fetched.append((list(kwargs["uid_list"]), kwargs.get("headers_only", False)))
        return real_fetch(self, *args, **kwargs)

    monkeypatch.setattr(imap.BaseMailBox, "fetch", counted)
    result = imap.poll(box)

    assert (result.handed_over, result.uids) == (5, [1, 2, 3, 4, 5])
    handed = email_receiver.handed
    assert [h.raw for h in handed[:2] + handed[3:]] == small
    head = handed[2]
    assert head.too_large == len(huge) and head.raw == huge.split(b"\r\n\r\n")[0] + b"\r\n\r\n"
    assert fetched == [
        (["1", "2"], False),
        (["3"], True),  # its headers only: the body was never asked for
        (["4", "5"], False),
    ]


def test_a_message_the_receiver_refuses_does_not_block_the_next(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    messages = [mail(n) for n in range(1, 4)]
    dovecot.append(box.folder, *messages)
    email_receiver.refuse = {b"Customer 2 "}
    result = imap.poll(box)
    assert (result.uids, result.failed) == ([1, 3], 1)
    assert MailboxCursor.objects.get(folder=box.folder).retry_uids == {"2": 1}
    email_receiver.refuse.clear()  # the receiver recovers: the next poll retries UID 2 first
    assert imap.poll(box).uids == [2]
    assert email_receiver.raws() == [messages[0], messages[2], messages[1]]
    assert MailboxCursor.objects.get(folder=box.folder).retry_uids == {}


def test_a_message_that_always_fails_is_given_up_after_max_attempts(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    dovecot.append(box.folder, mail(1))
    email_receiver.refuse = {b"Customer 1 "}
    results = [imap.poll(box) for _ in range(imap.MAX_ATTEMPTS + 1)]
    assert [r.failed for r in results] == [1] * imap.MAX_ATTEMPTS + [0]
    assert [r.given_up for r in results][-2:] == [1, 0]
    assert MailboxCursor.objects.get(folder=box.folder).retry_uids == {}
    assert email_receiver.handed == []


def test_odd_charsets_and_broken_messages_reach_the_receiver_as_they_are(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder
) -> None:
    odd = [
        # ISO-2022-JP, declared in the header and the body.
        b"From: =?ISO-2022-JP?B?GyRCOzNFRBsoQg==?= <yamada@example.jp>\r\nTo: support@example.org"
        b"\r\nSubject: =?ISO-2022-JP?B?GyRCJCpMZCQkOWckbyQ7GyhC?=\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=ISO-2022-JP\r\n\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n",
        # An unknown charset, 8-bit bytes that are not UTF-8, no Message-ID, no Date.
        b"From: x@example.com\r\nSubject: caf\xe9\r\nContent-Type: text/plain; charset=x-nope\r\n"
        b"\r\n\xff\xfe broken \x80\x81\r\n",
        # A multipart whose boundary never comes, and a header without a colon.
        b"From: y@example.com\r\nBroken header line\r\nContent-Type: multipart/mixed; "
        b'boundary="never"\r\n\r\n--elsewhere\r\nnothing\r\n',
    ]
    dovecot.append(box.folder, *odd)
    assert imap.poll(box).uids == [1, 2, 3]
    assert email_receiver.raws() == odd


def test_a_failed_poll_is_noted_and_raises_nothing(
    box: imap.Mailbox, email_receiver: Recorder
) -> None:
    wrong = imap.Mailbox(**{**box.__dict__, "password": "not-the-password"})
    result = imap.poll(wrong)
    assert "AUTHENTICATIONFAILED" in result.error
    assert "not-the-password" not in result.error
    assert MailboxCursor.objects.get(folder=box.folder).last_error == result.error
    assert email_receiver.handed == []


def test_one_poller_per_mailbox(dovecot: Dovecot, box: imap.Mailbox) -> None:
    dovecot.append(box.folder, mail(1))
    lock = f"{imap.LOCK_PREFIX}{box.host}:{box.user}:{box.folder}"
    get_redis().set(lock, "another poller", ex=60)
    try:
        assert imap.poll(box).busy
    finally:
        get_redis().delete(lock)
    assert imap.poll(box).uids == [1]


def imap_settings(settings: Any, box: imap.Mailbox) -> None:
    settings.IMAP_HOST, settings.IMAP_PORT, settings.IMAP_SSL = box.host, box.port, False
    settings.IMAP_USER, settings.IMAP_PASSWORD = box.user, box.password
    settings.IMAP_FOLDER, settings.IMAP_AUTH = box.folder, "password"


def test_fetch_email_once_end_to_end(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder, settings: Any
) -> None:
    imap_settings(settings, box)
    dovecot.append(box.folder, message := mail(1))
    out = StringIO()
    call_command("fetch_email", "--once", stdout=out)
    assert "1 handed over, 0 failed" in out.getvalue()
    assert email_receiver.raws() == [message]
    call_command("fetch_email", "--once", stdout=out)
    assert len(email_receiver.handed) == 1


def test_fetch_email_once_fails_loudly_when_it_cannot_poll(
    box: imap.Mailbox, settings: Any
) -> None:
    from django.core.management.base import CommandError

    imap_settings(settings, box)
    settings.IMAP_PASSWORD = "wrong"
    with pytest.raises(CommandError, match="AUTHENTICATIONFAILED"):
        call_command("fetch_email", "--once", stdout=StringIO())
    settings.IMAP_HOST = ""
    with pytest.raises(CommandError, match="IMAP_HOST is not set"):
        call_command("fetch_email", "--once", stdout=StringIO())


def test_the_periodic_actor_polls_when_a_mailbox_is_configured(
    dovecot: Dovecot, box: imap.Mailbox, email_receiver: Recorder, settings: Any
) -> None:
    dovecot.append(box.folder, message := mail(1))
    get_redis().delete(f"{PERIODIC_LOCK}poll_mailbox")
    settings.IMAP_HOST = ""
    poll_mailbox.fn()  # no mailbox: nothing to do, and the interval is not spent
    assert get_redis().get(f"{PERIODIC_LOCK}poll_mailbox") is None
    imap_settings(settings, box)
    poll_mailbox.fn()
    poll_mailbox.fn()  # within the interval: another worker's tick does nothing
    assert email_receiver.raws() == [message]
    get_redis().delete(f"{PERIODIC_LOCK}poll_mailbox")


def test_the_test_server_speaks_imap_as_a_mail_program_expects(dovecot: Dovecot) -> None:
    """The fixture itself: started once, quickly, and a plain client logs in."""
    assert dovecot.started_in < 2, dovecot.started_in
    with MailBoxUnencrypted(dovecot.host, dovecot.port).login(dovecot.user, dovecot.password):
        pass
