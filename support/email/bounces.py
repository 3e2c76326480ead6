"""Bounces and delivery reports: telling one (RFC 3464 `multipart/report`, a MAILER-DAEMON or
postmaster sender), finding which of our replies it returns (the Message-ID in the attached
message or its headers) and marking that reply's delivery `bounced` when it failed for whom the
reply was addressed to (a stale Cc bouncing does not mean the customer did not get it)."""

from __future__ import annotations

import re
from email import message_from_string, policy
from email.message import Message
from typing import Any

from support.email.addresses import bare_message_id, normalise
from support.email.authentication import author_address
from support.email.charsets import decode_bytes
from support.email.parse import ParsedEmail
from support.models import EmailEnvelope, MessageRole
from support.outbound.bounces import mark_bounced as mark_reply_bounced

BOUNCE_SENDERS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
# The fields of a per-recipient block of a delivery report naming whom it is about (RFC 3464).
RECIPIENT_FIELDS = ("Final-Recipient", "Original-Recipient")
_MESSAGE_ID_LINE = re.compile(r"^Message-ID:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
MAX_ERROR = 500
DEFAULT_REASON = "returned by the receiving server"


def _parts(message: Message) -> list[Message]:
    """The report's own parts, depth first. Unlike `walk()`, never the inside of an attached
    e-mail (message/rfc822): a customer forwarding a bounce they got as an attachment writes
    a message of their own, not a delivery report about one of ours."""
    parts = [message]
    if message.get_content_maintype() == "multipart" and isinstance(message.get_payload(), list):
        for child in message.get_payload():
            if isinstance(child, Message):
                parts += _parts(child)
    return parts


def is_bounce(parsed: ParsedEmail) -> bool:
    message = parsed.message
    if message.get_content_type() == "multipart/report":
        return True
    if any(part.get_content_type() == "message/delivery-status" for part in _parts(message)):
        return True
    if message.get("X-Failed-Recipients"):
        return True
    authors = (parsed.from_address, author_address(message))
    return any(address.partition("@")[0] in BOUNCE_SENDERS for address in authors)


def _status_fields(message: Message) -> list[Message]:
    """The per-message and per-recipient field blocks of a message/delivery-status part."""
    blocks: list[Message] = []
    for part in _parts(message):
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            blocks += [block for block in payload if isinstance(block, Message)]
    return blocks


def failed(message: Message) -> tuple[bool, str]:
    """Whether the report says delivery failed (not merely delayed or relayed), and the remote
    server's diagnostic. A bounce without a machine-readable report counts as failed."""
    blocks = _status_fields(message)
    actions = [str(block.get("Action", "")).strip().lower() for block in blocks]
    diagnostic = next(
        (str(b.get("Diagnostic-Code")).strip() for b in blocks if b.get("Diagnostic-Code")), ""
    )
    if not any(actions):
        return True, diagnostic
    return "failed" in actions, diagnostic


def _headers_text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return decode_bytes(payload, part.get_content_charset())
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def original_message_ids(message: Message) -> list[str]:
    """The Message-IDs of the e-mail(s) a report returns: the attached message/rfc822, the
    text/rfc822-headers part, or a Message-ID line quoted in the report's text."""
    found: list[str] = []
    for part in _parts(message):
        kind = part.get_content_type()
        if kind in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found.append(bare_message_id(str(inner[0].get("Message-ID", ""))))
        elif kind in ("text/rfc822-headers", "message/rfc822-headers"):
            headers = message_from_string(_headers_text(part), policy=policy.compat32)
            found.append(bare_message_id(str(headers.get("Message-ID", ""))))
    if not any(found):
        for part in _parts(message):
            if part.get_content_maintype() == "text":
                found += _MESSAGE_ID_LINE.findall(_headers_text(part))
    return list(dict.fromkeys(i for i in found if i))


def _recipient_address(value: object) -> str:
    """The address of a Final-Recipient or Original-Recipient field ("rfc822; a@b.example")."""
    kind, _, address = str(value).partition(";")
    return normalise(address if address else kind)


def failed_recipients(message: Message) -> dict[str, str] | None:
    """Whom the report says delivery failed for, each with the remote server's diagnostic: the
    Final- and Original-Recipient of each block whose Action is failed, and Exim's
    X-Failed-Recipients. None when the report names no recipient a machine can read (a bounce
    written as prose only): then only `failed` can tell."""
    blocks = [b for b in _status_fields(message) if any(b.get(f) for f in RECIPIENT_FIELDS)]
    listed = str(message.get("X-Failed-Recipients", "")).replace(";", ",").split(",")
    if not blocks and not any(a.strip() for a in listed):
        return None
    failures = {normalise(address): "" for address in listed if normalise(address)}
    for block in blocks:
        if str(block.get("Action", "")).strip().lower() != "failed":
            continue
        diagnostic = str(block.get("Diagnostic-Code") or "").strip()
        for name in RECIPIENT_FIELDS:
            if address := _recipient_address(block.get(name, "")):
                failures[address] = diagnostic or failures.get(address, "")
    return failures


def _addressed_to(message_id: str) -> set[str]:
    """The To addresses of our reply with this Message-ID (none when it is not one of ours)."""
    envelope = EmailEnvelope.objects.filter(
        message_id_header=bare_message_id(message_id), message__role=MessageRole.AGENT
    ).first()
    return {normalise(address) for address in (envelope.to or [])} if envelope else set()


def _bounce_reason(
    message: Message, message_id: str, failures: dict[str, str] | None
) -> str | None:
    """Why the reply with this Message-ID did not reach whom it was addressed to; None when the
    report does not say so. With recipients named, only a failure for one of the reply's To
    addresses counts: someone in its Cc alone failing leaves it sent (the customer got it, and
    resending it would reach them twice). A report naming nobody readably counts as before."""
    if failures is None:
        is_failure, diagnostic = failed(message)
        return (diagnostic or DEFAULT_REASON) if is_failure else None
    addressees = sorted(_addressed_to(message_id) & failures.keys())
    return (failures[addressees[0]] or DEFAULT_REASON) if addressees else None


def mark_bounced(message: Message) -> list[Any]:
    """Marks the delivery of each of our replies the report returns as bounced when it failed
    for the reply's To (the outbound seam's one way to do it, support/outbound/bounces.py,
    inside the caller's transaction); the ids of the replies marked. A report that marks none is
    still stored, shown in the thread it returns."""
    failures = failed_recipients(message)
    marked = []
    for message_id in original_message_ids(message):
        if (reason := _bounce_reason(message, message_id, failures)) is None:
            continue
        if (delivery := mark_reply_bounced(message_id, reason)) is not None:
            marked.append(delivery.pk)
    return marked
