"""The IMAP door: polls one folder of one mailbox (imap-tools) and hands each new message, the
bytes as the server stores them, to the receive path (support/email/handover.py).

What it guarantees, and how:
- **Neither skips nor repeats across restarts.** The folder's UIDVALIDITY and the last UID
  handed over are a MailboxCursor row. Each message's hand-over and the cursor's move commit in
  one transaction: a crash (or a kill) at any point either stored the message and moved the
  cursor, or neither, so the next poll starts at the first message not stored. A changed
  UIDVALIDITY voids every UID: the folder is read again from the start, and the receive path's
  Message-ID dedupe drops what it already has (logged as a warning).
- **Another client changes nothing, and neither do we.** The folder is opened read-only
  (EXAMINE) and fetched with BODY.PEEK[] (imap-tools' mark_seen=False): no flag is set, and none
  is consulted (\\Seen means nothing here): a person reading or marking mail in the same mailbox
  neither hides nor replays a message.
- **Bounded.** UIDs are fetched BATCH_SIZE at a time; a poll stops starting batches after
  POLL_BUDGET_SECONDS and the next poll goes on from the cursor.
- **One message never blocks the others.** Nothing here parses: the raw bytes go to the receiver
  as they came (charsets, broken MIME and winmail.dat are the receive path's, which quarantines
  what it cannot read). A receiver that raises for a message is logged with the UID; the cursor
  moves past it and the UID is tried again at the start of each later poll, up to MAX_ATTEMPTS
  (then logged as given up: the message stays in the mailbox). Moving on is the safer choice:
  stopping would hold every later message behind one the receiver may never take. The one
  exception is PostgreSQL or Redis being unreachable: then nothing can be stored, the cursor
  cannot move either, and the poll stops where it is; the next poll resumes there.
- **One poller per mailbox.** A Redis lock held for the poll: the periodic actor and a
  `manage.py fetch_email` running at the same time do not both fetch.
"""

from __future__ import annotations

import contextlib
import imaplib
import logging
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from imap_tools import BaseMailBox, MailBox, MailBoxUnencrypted, MailMessage
from imap_tools.errors import ImapToolsError, MailboxLoginError

from resolver.api.errors import UNAVAILABLE
from resolver.redis_client import get_redis
from support.email.handover import Receiver, receiver
from support.email.oauth2 import OAuth2Client, TokenError, access_token
from support.models import MailboxCursor

logger = logging.getLogger(__name__)

DOOR = "imap"
BATCH_SIZE = 50
# Bodies fetched in one command add up to at most this (a bigger message comes alone).
FETCH_BYTES = 32 * 1024 * 1024
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
MAX_ATTEMPTS = 5
POLL_BUDGET_SECONDS = 120
TIMEOUT_SECONDS = 30
LOCK_PREFIX = "resolver:imap:poll:"
# What makes a poll fail as a whole (the server, the network, the log-in, the token endpoint):
# noted on the cursor and logged; the next poll tries again.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    OSError,  # refused, reset, timed out, TLS
    imaplib.IMAP4.error,  # a NO/BAD answer, a dropped connection (abort)
    ImapToolsError,
    TokenError,
)
LOGOUT_ERRORS: tuple[type[Exception], ...] = (*TRANSPORT_ERRORS, ValueError)


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    folder: str = "INBOX"
    ssl: bool = True
    auth: str = "password"  # or "xoauth2"
    password: str = ""
    oauth2: OAuth2Client | None = None

    @classmethod
    def from_settings(cls) -> Mailbox:
        return cls(
            host=settings.IMAP_HOST,
            port=settings.IMAP_PORT,
            user=settings.IMAP_USER,
            folder=settings.IMAP_FOLDER,
            ssl=settings.IMAP_SSL,
            auth=settings.IMAP_AUTH,
            password=settings.IMAP_PASSWORD,
            oauth2=OAuth2Client.from_settings() if settings.IMAP_AUTH == "xoauth2" else None,
        )

    @property
    def label(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.folder}"


@dataclass
class PollResult:
    handed_over: int = 0
    failed: int = 0  # hand-overs that raised this time (to be retried)
    given_up: int = 0  # UIDs that failed MAX_ATTEMPTS times
    reset: bool = False  # UIDVALIDITY changed: the folder was read again from the start
    more: bool = False  # UIDs left for the next poll (the budget or max_batches ran out)
    busy: bool = False  # another poller holds this mailbox
    error: str = ""  # why the poll could not run
    uids: list[int] = field(default_factory=list)  # handed over, in order

    def __str__(self) -> str:
        if self.busy:
            return "another poller is fetching this mailbox"
        if self.error:
            return f"poll failed: {self.error}"
        text = f"{self.handed_over} handed over, {self.failed} failed, {self.given_up} given up"
        return (
            text
            + (" (UIDVALIDITY changed: re-read)" if self.reset else "")
            + (", more to fetch" if self.more else "")
        )


class RawMessage(MailMessage):
    """imap-tools' message keeping the bytes the server sent, unparsed: the receive path parses
    them, so no charset or malformed MIME can fail the fetch. Only `raw` and `uid` are used."""

    def __init__(self, fetch_data: list[Any]) -> None:
        raw, self._raw_uid_data, self._raw_flag_data = self._get_message_data_parts(fetch_data)
        self.raw: bytes = raw


def poll(
    box: Mailbox | None = None,
    *,
    batch_size: int = BATCH_SIZE,
    max_batches: int | None = None,
    budget_seconds: float = POLL_BUDGET_SECONDS,
) -> PollResult:
    """One poll of the mailbox: what is new since the cursor, handed over in UID order."""
    box = box or Mailbox.from_settings()
    with _exclusive(box) as mine:
        if not mine:
            return PollResult(busy=True)
        cursor, _ = MailboxCursor.objects.get_or_create(
            host=box.host, user=box.user, folder=box.folder
        )
        poller = _Poller(box, cursor, receiver(), batch_size, max_batches, budget_seconds)
        try:
            with _connect(box) as client:
                poller.run(client)
        except TRANSPORT_ERRORS as exc:
            poller.result.error = f"{type(exc).__name__}: {exc}"[:1000]
            logger.warning("imap %s: %s", box.label, poller.result.error)
        cursor.last_polled_at = timezone.now()
        cursor.last_error = poller.result.error
        cursor.save(update_fields=["last_polled_at", "last_error"])
        if poller.result.handed_over or poller.result.failed or poller.result.reset:
            logger.info("imap %s: %s", box.label, poller.result)
        return poller.result


@contextmanager
def _exclusive(box: Mailbox) -> Iterator[bool]:
    client = get_redis()
    key = f"{LOCK_PREFIX}{box.host}:{box.user}:{box.folder}"
    token = secrets.token_hex(8)
    # Outlives the longest poll (the budget, then one batch); a poller that died frees it then.
    held = bool(client.set(key, token, nx=True, ex=POLL_BUDGET_SECONDS * 5))
    try:
        yield held
    finally:
        if held and client.get(key) == token.encode():
            client.delete(key)


@contextmanager
def _connect(box: Mailbox) -> Iterator[BaseMailBox]:
    client: BaseMailBox = (
        MailBox(box.host, box.port, timeout=TIMEOUT_SECONDS)
        if box.ssl
        else MailBoxUnencrypted(box.host, box.port, timeout=TIMEOUT_SECONDS)
    )
    client.email_message_class = RawMessage
    try:
        _log_in(client, box)
        yield client
    finally:
        with contextlib.suppress(*LOGOUT_ERRORS):  # already gone: nothing to close politely
            client.logout()


def _log_in(client: BaseMailBox, box: Mailbox) -> None:
    if box.oauth2 is None:
        client.login(box.user, box.password, initial_folder=None)
        return
    try:
        client.xoauth2(box.user, access_token(box.host, box.user, box.oauth2), initial_folder=None)
    except (MailboxLoginError, imaplib.IMAP4.error) as exc:
        if isinstance(exc, imaplib.IMAP4.abort):
            raise
        # Refused before its stated expiry (revoked, password changed): one new token, once.
        token = access_token(box.host, box.user, box.oauth2, renew=True)
        client.xoauth2(box.user, token, initial_folder=None)


class _Poller:
    def __init__(
        self,
        box: Mailbox,
        cursor: MailboxCursor,
        deliver: Receiver,
        batch_size: int,
        max_batches: int | None,
        budget_seconds: float,
    ) -> None:
        self.box = box
        self.cursor = cursor
        self.deliver = deliver
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.deadline = time.monotonic() + budget_seconds
        self.result = PollResult()

    def run(self, client: BaseMailBox) -> None:
        client.folder.set(self.box.folder, readonly=True)  # EXAMINE: nothing we do sets a flag
        self._check_uidvalidity(_uidvalidity(client))
        if retry := sorted(int(uid) for uid in self.cursor.retry_uids):
            self._batch(client, retry)
        last = self.cursor.last_uid
        # "UID n:*" always matches the highest UID, even one below n: filtered.
        found = client.uids(f"UID {last + 1}:*", charset=None)
        new = sorted(uid for uid in map(int, found) if uid > last)
        for number, start in enumerate(range(0, len(new), self.batch_size)):
            if (self.max_batches is not None and number >= self.max_batches) or (
                time.monotonic() > self.deadline
            ):
                self.result.more = True
                return
            self._batch(client, new[start : start + self.batch_size])

    def _check_uidvalidity(self, uidvalidity: int) -> None:
        cursor = self.cursor
        if cursor.uidvalidity == uidvalidity:
            return
        if cursor.uidvalidity is not None:
            self.result.reset = True
            logger.warning(
                "imap %s: UIDVALIDITY changed from %s to %s: the folder is read again from the "
                "start (messages already stored are dropped as duplicates by Message-ID)",
                self.box.label,
                cursor.uidvalidity,
                uidvalidity,
            )
        cursor.uidvalidity, cursor.last_uid, cursor.retry_uids = uidvalidity, 0, {}
        cursor.save(update_fields=["uidvalidity", "last_uid", "retry_uids"])

    def _batch(self, client: BaseMailBox, uids: list[int]) -> None:
        """Hands the messages of `uids` over in UID order, their bodies fetched in commands of
        at most FETCH_BYTES (one message alone when it is bigger), so a batch of large mail is
        never all in memory at once. A message over INBOUND_EMAIL_MAX_BYTES is not fetched: its
        headers are handed over as too large (quarantined; it stays in the mailbox). A UID the
        bulk answer lacks is asked for once more alone before it counts as gone (expunged since
        the search): a message is never skipped because one answer was cut short."""
        sizes = _sizes(client, uids)
        limit = settings.INBOUND_EMAIL_MAX_BYTES
        for group in _fetch_groups(uids, sizes, limit):
            fetched = _fetch(client, [uid for uid in group if sizes.get(uid, 0) <= limit])
            for uid in group:
                if sizes.get(uid, 0) > limit:
                    head = _fetch(client, [uid], headers_only=True).get(uid)
                    if head is None:
                        self._move(uid, attempts=None)
                    else:
                        self._hand_over(uid, head, too_large=sizes[uid])
                    continue
                raw = fetched.get(uid) or _fetch(client, [uid]).get(uid)
                if raw is None:
                    self._move(uid, attempts=None)  # gone: nothing to hand over
                else:
                    self._hand_over(uid, raw)

    def _hand_over(self, uid: int, raw: bytes, too_large: int = 0) -> None:
        try:
            with transaction.atomic():
                if too_large:
                    self.deliver(raw, door=DOOR, too_large=too_large)
                else:
                    self.deliver(raw, door=DOOR)
                self._move(uid, attempts=None)
        except UNAVAILABLE:
            raise  # nothing can be stored now: stop here, the next poll resumes at this UID
        except Exception:
            attempts = int(self.cursor.retry_uids.get(str(uid), 0)) + 1
            given_up = attempts >= MAX_ATTEMPTS
            logger.exception(
                "imap %s: handing over UID %s failed (attempt %s of %s)%s",
                self.box.label,
                uid,
                attempts,
                MAX_ATTEMPTS,
                ": given up, the message stays in the mailbox" if given_up else "",
            )
            self.cursor.refresh_from_db(fields=["last_uid", "retry_uids"])
            self._move(uid, attempts=None if given_up else attempts)
            self.result.failed += 1
            self.result.given_up += int(given_up)
        else:
            self.result.handed_over += 1
            self.result.uids.append(uid)

    def _move(self, uid: int, *, attempts: int | None) -> None:
        """The cursor past `uid`; `attempts` keeps it for a retry, None forgets it."""
        cursor = self.cursor
        cursor.last_uid = max(cursor.last_uid, uid)
        retry = {key: value for key, value in cursor.retry_uids.items() if key != str(uid)}
        if attempts is not None:
            retry[str(uid)] = attempts
        cursor.retry_uids = retry
        cursor.save(update_fields=["last_uid", "retry_uids"])


def _sizes(client: BaseMailBox, uids: list[int]) -> dict[int, int]:
    """Each message's size in bytes (RFC822.SIZE) by UID, in one command; a UID expunged since
    the search is missing."""
    if not uids:
        return {}
    status, data = client.client.uid("FETCH", ",".join(map(str, uids)), "(RFC822.SIZE)")
    if status != "OK":
        raise imaplib.IMAP4.error(f"FETCH RFC822.SIZE: {status} {data!r}"[:300])
    sizes: dict[int, int] = {}
    for item in data:
        line = item[0] if isinstance(item, tuple) else item
        if isinstance(line, bytes) and (uid := _UID.search(line)) and (size := _SIZE.search(line)):
            sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def _fetch_groups(uids: list[int], sizes: dict[int, int], limit: int) -> list[list[int]]:
    """`uids` in order, cut into runs whose bodies add up to at most FETCH_BYTES (a message over
    `limit` is not fetched: it weighs nothing)."""
    groups: list[list[int]] = [[]]
    weight = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        size = 0 if size > limit else size
        if groups[-1] and weight + size > FETCH_BYTES:
            groups.append([])
            weight = 0
        groups[-1].append(uid)
        weight += size
    return [group for group in groups if group]


def _fetch(client: BaseMailBox, uids: list[int], *, headers_only: bool = False) -> dict[int, bytes]:
    """The raw messages of `uids` by UID (or only their headers), in one command. BODY.PEEK
    (mark_seen=False): reading a message does not set its \\Seen flag."""
    if not uids:
        return {}
    messages = client.fetch(
        uid_list=[str(uid) for uid in uids],
        mark_seen=False,
        bulk=True,
        headers_only=headers_only,
    )
    return {
        int(message.uid): message.raw
        for message in messages
        if isinstance(message, RawMessage) and message.uid
    }


def _uidvalidity(client: BaseMailBox) -> int:
    # The untagged OK [UIDVALIDITY n] of the SELECT/EXAMINE just sent (RFC 3501, 6.3.1).
    _, data = client.client.response("UIDVALIDITY")
    if not data or data[0] is None:
        raise imaplib.IMAP4.error("the server sent no UIDVALIDITY for the folder")
    return int(data[-1])
