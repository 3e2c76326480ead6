"""The one receive path of the e-mail channel. Every door hands an e-mail here as raw bytes:
`receive_email(raw, door="api" | "imap" | "anymail:<esp>", esp_verdict=…)`.

Persist first: the e-mail as it arrived (InboundEmail), its conversation, the customer message,
its envelope (headers, To/Cc, sanitised HTML) and attachments, and a PENDING draft are written
in one transaction (support/inbound.py:store_message); the agent run is queued after commit, and
the outbox sweep queues it later if Redis was down. An e-mail no person wrote to us is stored
without a draft (loops.py, flood.py). The Message-ID makes a second delivery, through any door, a
duplicate of the first. An e-mail that fails to parse or store is quarantined with its raw bytes
and the error, and the call returns: the messages after it go on."""

from __future__ import annotations

import hashlib
import logging
import math
import traceback
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from resolver.api.errors import is_unavailable
from resolver.audit_actor import Actor
from resolver.errors import ClientError
from support.email import attachments as files
from support.email.authentication import author_address, sender_verification, trusted_for_door
from support.email.bounces import mark_bounced, original_message_ids
from support.email.flood import flooded
from support.email.html import sanitise
from support.email.loops import esp_noise, has_virus, noise_reason
from support.email.parse import ParsedEmail, parse
from support.email.threading import conversation_for, subject_without_token
from support.inbound import store_message
from support.models import (
    Attachment,
    AttachmentSkip,
    AuditAction,
    AuditLog,
    Channel,
    Conversation,
    Door,
    Draft,
    EmailEnvelope,
    ErasedEmail,
    IgnoredReason,
    InboundEmail,
    InboundStatus,
    Message,
    MessageRole,
)
from support.models.message import ATTACHMENTS_NOT_KEPT
from support.vocabulary import ReceiptStatus, Verification

logger = logging.getLogger(__name__)

# The first key of the advisory lock a Message-ID takes (the second: its hash): two doors
# delivering the same e-mail at once store it once.
MESSAGE_ID_LOCK_SPACE = 1_818_002
MAX_SUBJECT = 500
MAX_ERROR_CHARS = 4000
# RFC 5321 (4.5.3.1.3): a path holds 256 octets with its angle brackets, so an address 254.
MAX_ADDRESS = 254


class NotQuarantined(ClientError):
    status_code = 409
    code = "not_quarantined"


class NotImported(ClientError):
    """Reprocess of an e-mail whose whole was never imported (too large)."""

    status_code = 409
    code = "not_imported"


class TooLarge(ValueError):
    """An e-mail over INBOUND_EMAIL_MAX_BYTES, of which a door handed over only the headers."""


class Unstorable(ValueError):
    """An e-mail that parsed but cannot become a customer message (no sender)."""


@dataclass(frozen=True)
class Received:
    """What receive_email did with an e-mail. `status`: PENDING (a message, being drafted),
    IGNORED (a message stored without a draft: `ignored_reason`), QUARANTINED (no message yet:
    `error`, reprocessable from admin). `duplicate`: the Message-ID came in before; the ids are
    that first delivery's."""

    inbound_id: uuid.UUID
    status: str
    conversation_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None
    draft_id: uuid.UUID | None = None
    ignored_reason: str = ""
    duplicate: bool = False
    error: str = field(default="", repr=False)


def check_door(door: str) -> str:
    """`api`, `imap`, or `anymail:<esp>`; ValueError otherwise (a caller's bug, not bad mail)."""
    kind, _, esp = door.partition(":")
    if (kind in (Door.API, Door.IMAP) and not esp) or (kind == Door.ANYMAIL and esp.strip()):
        return door
    raise ValueError(f"unknown inbound door {door!r}: api, imap or anymail:<esp>")


def receive_email(
    raw: bytes, *, door: str, esp_verdict: dict[str, Any] | None = None, too_large: int = 0
) -> Received:
    """Stores one e-mail as it arrived through `door` and returns what became of it.

    Every door calls exactly this (the API's POST /inbound/email: door "api"; IMAP polling:
    "imap"; an ESP's inbound webhook through django-anymail: "anymail:<esp>", with what the ESP
    reported about the e-mail, its spam and authentication verdicts, in `esp_verdict`).

    - A new e-mail: Received(status PENDING, conversation_id, message_id, draft_id); the agent
      run is queued after commit.
    - Mail nobody is to answer (auto-reply, bounce, our own, a list, a flooding sender): stored,
      no draft: status IGNORED with `ignored_reason` (IgnoredReason).
    - Its Message-ID came in before (any door): the first delivery's ids, `duplicate=True`.
    - It cannot be parsed or stored: kept quarantined (status QUARANTINED, `error`); the call
      returns normally, so the caller goes on with the next e-mail.

    - `too_large` (its size): the door fetched only the headers of an e-mail over
      INBOUND_EMAIL_MAX_BYTES: quarantined with them, as too large; it cannot be reprocessed.

    Raises only when PostgreSQL is unreachable (nothing was stored: the caller keeps the e-mail
    and tries again later; an IMAP poller must not mark it as read), and ValueError for a door
    that is none of the above."""
    check_door(door)
    verdict = storable_verdict(esp_verdict or {})
    if too_large:
        return _quarantine_too_large(raw, door, too_large)
    try:
        parsed = parse(raw)
    except Exception as exc:
        return quarantine(raw, door, verdict, exc)
    return _receive(parsed, raw, door, verdict)


def _lock_message_id(message_id: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [MESSAGE_ID_LOCK_SPACE, message_id]
        )


def _receipt(message: Message, inbound_id: uuid.UUID, *, duplicate: bool) -> Received:
    draft = Draft.objects.filter(message=message).order_by("created_at", "id").first()
    reason = message.ignored_reason
    if message.role == MessageRole.AGENT:
        reason = IgnoredReason.LOOP  # our own reply, come back with its Message-ID
    return Received(
        inbound_id=inbound_id,
        status=ReceiptStatus.IGNORED if reason or draft is None else ReceiptStatus.PENDING,
        conversation_id=message.conversation_id,
        message_id=message.pk,
        draft_id=draft.pk if draft is not None and not reason else None,
        ignored_reason=reason,
        duplicate=duplicate,
    )


def _record(
    existing: InboundEmail | None,
    raw: bytes,
    door: str,
    verdict: dict[str, Any],
    *,
    keep_raw: bool = True,
    **fields: Any,
) -> InboundEmail:
    """Writes the InboundEmail row: a new one, or the quarantined one being reprocessed."""
    fields = {name: _fit(name, value) for name, value in fields.items()}
    if existing is not None:
        for name, value in fields.items():
            setattr(existing, name, value)
        if not keep_raw:
            existing.raw = b""
        existing.attempts += 1
        existing.save()
        return existing
    return InboundEmail.objects.create(
        door=_fit("door", door),
        raw=raw if keep_raw else b"",
        size=len(raw),
        sha256=hashlib.sha256(raw).hexdigest(),
        esp_verdict=verdict,
        **fields,
    )


def storable_verdict(value: Any) -> Any:
    """What an ESP reported, as a jsonb column takes it: a score of NaN or Infinity (anymail
    reads "X-Spam-Score: nan" as a float) is no score, and a NUL or an unpaired surrogate in a
    string is dropped. Stored as it came, it failed the e-mail's row, then its quarantine row:
    the ESP was answered 503 on every retry until it gave the mail up."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")
    if isinstance(value, dict):
        return {storable_verdict(str(key)): storable_verdict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable_verdict(item) for item in value]
    return value


def _fit(name: str, value: Any) -> Any:
    """A value cut to its InboundEmail column's width, NUL characters dropped (PostgreSQL's text
    holds none). The values come from the e-mail (its sender, its Message-ID) or its error:
    keeping an e-mail, above all quarantining it, must never fail on what the e-mail says."""
    if not isinstance(value, str):
        return value
    width = getattr(InboundEmail._meta.get_field(name), "max_length", None)
    return value.replace("\x00", "")[:width]


def _duplicate(
    first: Message,
    parsed: ParsedEmail,
    raw: bytes,
    door: str,
    verdict: dict[str, Any],
    existing: InboundEmail | None,
) -> Received:
    # The first delivery's raw copy is the message: a second copy would be personal data kept
    # for nothing.
    inbound = _record(
        existing,
        raw,
        door,
        verdict,
        keep_raw=False,
        status=InboundStatus.DUPLICATE,
        message=first,
        message_id_header=parsed.message_id,
        from_address=parsed.from_address,
        error="",
        processed_at=timezone.now(),
    )
    return _receipt(first, inbound.pk, duplicate=True)


@dataclass
class _Stored:
    """Attachments being written: their rows, and the names of the files to delete from the
    attachments storage if the transaction fails."""

    rows: list[Attachment] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    # Parts past ATTACHMENT_MAX_COUNT: no file, no row (the raw e-mail keeps them).
    not_kept: int = 0

    def prepare(self, parsed: ParsedEmail) -> dict[str, str]:
        """Writes each part's file (or notes it as too large); returns the inline parts'
        Content-IDs mapped to the URLs they are served from."""
        cid_urls: dict[str, str] = {}
        kept = parsed.parts[: settings.ATTACHMENT_MAX_COUNT]
        self.not_kept = len(parsed.parts) - len(kept)
        for part in kept:
            attachment_id = uuid.uuid4()
            too_large = len(part.data) > settings.ATTACHMENT_MAX_BYTES
            path = "" if too_large else files.write(attachment_id, part.data, self.written)
            self.rows.append(
                Attachment(
                    id=attachment_id,
                    filename=part.safe_name,
                    content_type=part.content_type,
                    declared_type=part.declared_type[:255],
                    size=len(part.data),
                    sha256=files.digest(part.data),
                    path=path,
                    skipped=AttachmentSkip.TOO_LARGE if too_large else "",
                    content_id=part.content_id,
                    inline=part.inline,
                )
            )
            if part.content_id and path:
                url = reverse("api-v1:attachment", kwargs={"attachment_id": attachment_id})
                cid_urls[part.content_id] = url
        return cid_urls

    def save(self, message: Message) -> None:
        for row in self.rows:
            row.message = message
        Attachment.objects.bulk_create(self.rows)
        if self.not_kept:
            message.metadata = {**message.metadata, ATTACHMENTS_NOT_KEPT: self.not_kept}
            message.save(update_fields=["metadata"])


def _store(
    parsed: ParsedEmail,
    raw: bytes,
    door: str,
    verdict: dict[str, Any],
    existing: InboundEmail | None,
    stored: _Stored,
) -> Received:
    """Inside the transaction: thread, store the message (and draft), its envelope and files,
    the InboundEmail row; mark the replies a bounce returns."""
    if not parsed.from_address:
        raise Unstorable("the e-mail has no From address: no customer to answer")
    _check_sender_length(parsed.from_address)
    reason = noise_reason(parsed) or esp_noise(verdict)
    if has_virus(verdict):
        parsed = replace(parsed, parts=())  # its files are not kept, nor shown to an agent
    # A quarantined e-mail being reprocessed was counted when it first came in.
    if not reason and existing is None and flooded(parsed.from_address):
        reason = IgnoredReason.RATE_LIMITED
    returned = tuple(original_message_ids(parsed.message)) if reason == IgnoredReason.BOUNCE else ()
    conversation = conversation_for(parsed, ignored=bool(reason), returned=returned)
    cid_urls = stored.prepare(parsed)
    message, draft = store_message(
        parsed.body,
        conversation=conversation,
        customer_ref=parsed.from_address,
        channel=Channel.EMAIL,
        subject=subject_without_token(parsed.subject)[:MAX_SUBJECT],
        ignored_reason=reason,
        verified_by="" if reason else _verification(parsed, door, verdict),
    )
    EmailEnvelope.objects.create(
        message=message,
        message_id_header=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=list(parsed.references),
        subject=parsed.subject,
        from_address=parsed.from_address,
        from_name=parsed.from_name,
        to=list(parsed.to),
        cc=list(parsed.cc),
        html=sanitise(parsed.html, cid_urls),
    )
    stored.save(message)
    inbound = _record(
        existing,
        raw,
        door,
        verdict,
        status=InboundStatus.IGNORED if reason else InboundStatus.STORED,
        message=message,
        message_id_header=parsed.message_id,
        from_address=parsed.from_address,
        error="",
        processed_at=timezone.now(),
    )
    if reason == IgnoredReason.BOUNCE:
        mark_bounced(parsed.message)
    return Received(
        inbound_id=inbound.pk,
        status=ReceiptStatus.IGNORED if reason else ReceiptStatus.PENDING,
        conversation_id=message.conversation_id,
        message_id=message.pk,
        draft_id=draft.pk if draft is not None else None,
        ignored_reason=reason,
    )


def _check_sender_length(address: str) -> None:
    """Unstorable when the customer's address is longer than a conversation's customer_ref
    holds: before anything is written, and with a reason an admin can act on rather than the
    database's "value too long". Legal addresses reach MAX_ADDRESS, beyond customer_ref's 200:
    one between the two waits in quarantine, reprocessable once that column is widened."""
    limit = Conversation._meta.get_field("customer_ref").max_length or MAX_ADDRESS
    if len(address) <= limit:
        return
    too_long = (
        f"over the {MAX_ADDRESS} an e-mail address may have (RFC 5321)"
        if len(address) > MAX_ADDRESS
        else f"over the {limit} a conversation's customer reference holds"
    )
    raise Unstorable(
        f"the sender's address is {len(address)} characters long, {too_long}: "
        "no conversation can be kept for it"
    )


def _verification(parsed: ParsedEmail, door: str, verdict: dict[str, Any]) -> str:
    """How the sender was verified (Verification; "" = not): what our border's
    Authentication-Results or the ESP's verdict says of the From domain. Only when the customer
    address is the From header's one author (not a Sender or Reply-To fallback). Mail nobody is to
    answer is not looked at: it is drafted for no one and must link no customer (a bounce is from
    a mailer daemon, in the customer's thread)."""
    if author_address(parsed.message) != parsed.from_address:
        return Verification.NONE
    return sender_verification(
        parsed.message,
        parsed.from_address,
        # An ESP's door never passed our border: only the ESP's own header may be trusted there.
        trusted_for_door(door, settings.EMAIL_TRUSTED_AUTHSERV_ID),
        verdict,
    )


def _receive(
    parsed: ParsedEmail,
    raw: bytes,
    door: str,
    verdict: dict[str, Any],
    existing: InboundEmail | None = None,
) -> Received:
    stored = _Stored()
    try:
        with transaction.atomic():
            _lock_message_id(parsed.message_id)
            if existing is not None:
                existing = InboundEmail.objects.select_for_update().get(pk=existing.pk)
                if not existing.is_quarantined:  # reprocessed meanwhile by someone else
                    return _receipt_of(existing)
            elif ErasedEmail.objects.holds(parsed.message_id):
                return _erased_before(raw, door)
            first = (
                EmailEnvelope.objects.filter(message_id_header=parsed.message_id)
                .select_related("message")
                .first()
            )
            if first is not None:
                return _duplicate(first.message, parsed, raw, door, verdict, existing)
            return _store(parsed, raw, door, verdict, existing, stored)
    except Exception as exc:
        files.remove(stored.written)
        if is_unavailable(exc):
            raise  # nothing was stored: the door keeps the e-mail and tries again
        return quarantine(raw, door, verdict, exc, parsed=parsed, existing=existing)


def _erased_before(raw: bytes, door: str) -> Received:
    """An e-mail whose words were erased, handed over again (a folder read again from the start,
    an ESP's retry): nothing of it is stored, only that a door brought it (no address, no
    Message-ID, no bytes), and nobody drafts an answer."""
    inbound = InboundEmail.objects.create(
        door=_fit("door", door),
        raw=b"",
        size=len(raw),
        status=InboundStatus.ERASED,
        processed_at=timezone.now(),
    )
    # A duplicate of the e-mail that was erased: 200 for the API door, no ids (none are left).
    return Received(
        inbound.pk, ReceiptStatus.IGNORED, ignored_reason=IgnoredReason.ERASED, duplicate=True
    )


def _receipt_of(inbound: InboundEmail) -> Received:
    if inbound.message is None:
        return Received(inbound.pk, ReceiptStatus.QUARANTINED, error=inbound.error)
    return _receipt(
        inbound.message, inbound.pk, duplicate=inbound.status == InboundStatus.DUPLICATE
    )


def _error_text(exc: BaseException) -> str:
    lines = traceback.format_exception(exc)
    return "".join(lines)[-MAX_ERROR_CHARS:]


def quarantine(
    raw: bytes,
    door: str,
    verdict: dict[str, Any],
    exc: BaseException,
    *,
    parsed: ParsedEmail | None = None,
    existing: InboundEmail | None = None,
) -> Received:
    """Keeps an e-mail that could not be stored, with its error, for an admin to look at and
    reprocess. The same bytes quarantined again count as another attempt of the same row."""
    logger.warning("inbound e-mail quarantined (%s): %s", door, exc, exc_info=exc)
    error = _error_text(exc)
    digest = hashlib.sha256(raw).hexdigest()
    with transaction.atomic():
        row = existing or (
            InboundEmail.objects.select_for_update()
            .filter(status=InboundStatus.QUARANTINED, sha256=digest)
            .first()
        )
        inbound = _record(
            row,
            raw,
            door,
            verdict,
            status=InboundStatus.QUARANTINED,
            message=None,
            message_id_header=parsed.message_id if parsed else "",
            from_address=parsed.from_address if parsed else "",
            error=error,
            processed_at=timezone.now(),
        )
    return Received(inbound.pk, ReceiptStatus.QUARANTINED, error=error)


def _quarantine_too_large(head: bytes, door: str, size: int) -> Received:
    limit = settings.INBOUND_EMAIL_MAX_BYTES
    error = TooLarge(
        f"{size} bytes, over INBOUND_EMAIL_MAX_BYTES ({limit}): not imported, only its headers "
        "are kept; the e-mail is still in the mailbox"
    )
    try:
        parsed: ParsedEmail | None = parse(head)
    except Exception:
        parsed = None
    received = quarantine(head, door, {}, error, parsed=parsed)
    InboundEmail.objects.filter(pk=received.inbound_id).update(size=size)
    return received


def reprocess(inbound_id: Any, actor: Actor) -> Received:
    """Runs a quarantined e-mail through the receive path again (after a fix, or a setting
    changed); 409 when it is not quarantined. Audited."""
    inbound = InboundEmail.objects.filter(pk=inbound_id).first()
    if inbound is None or not inbound.is_quarantined:
        raise NotQuarantined("only a quarantined e-mail can be reprocessed")
    raw = bytes(inbound.raw)
    if inbound.size > len(raw):
        raise NotImported(
            "this e-mail was too large to import: only its headers are kept; read it in the mailbox"
        )
    try:
        parsed = parse(raw)
    except Exception as exc:
        received = quarantine(raw, inbound.door, inbound.esp_verdict, exc, existing=inbound)
    else:
        received = _receive(parsed, raw, inbound.door, inbound.esp_verdict, existing=inbound)
    AuditLog.objects.record(
        actor,
        AuditAction.REPROCESSED,
        conversation_id=received.conversation_id,
        message_id=received.message_id,
        draft_id=received.draft_id,
        inbound_email=str(inbound.pk),
        outcome=received.status,
    )
    return received
