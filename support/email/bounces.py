"""Bounces and delivery reports: telling one (RFC 3464 `multipart/report`, a MAILER-DAEMON or
postmaster sender), finding which of our replies it returns (the Message-ID in the attached
message or its headers) and marking that reply's delivery `bounced`."""

from __future__ import annotations

import re
from email import message_from_string, policy
from email.message import Message
from typing import Any

from support.email.addresses import bare_message_id
from support.email.authentication import author_address
from support.email.charsets import decode_bytes
from support.email.parse import ParsedEmail
from support.outbound.bounces import mark_bounced as mark_reply_bounced

BOUNCE_SENDERS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_MESSAGE_ID_LINE = re.compile(r"^Message-ID:\s*<([^<>\s]+)>", re.IGNORECASE | re.MULTILINE)
MAX_ERROR = 500


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


def mark_bounced(message: Message) -> list[Any]:
    """Marks the delivery of each of our replies the report returns as bounced (the outbound
    seam's one way to do it, support/outbound/bounces.py, inside the caller's transaction); the
    ids of the replies marked."""
    is_failure, diagnostic = failed(message)
    if not is_failure:
        return []
    reason = diagnostic or "returned by the receiving server"
    marked = (
        mark_reply_bounced(message_id, reason) for message_id in original_message_ids(message)
    )
    return [delivery.pk for delivery in marked if delivery is not None]
