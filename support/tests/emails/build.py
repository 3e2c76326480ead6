"""E-mails for tests, built with the standard library as a mail client would send them; and a
TNEF (winmail.dat) writer following MS-OXTNEF, since no library writes one."""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).parent / "corpus"
SUPPORT = "Shop Support <support@shop.example>"
SUPPORT_ADDRESS = "support@shop.example"


def our_message_id() -> str:
    """A Message-ID as our replies carry (SUPPORT_EMAIL_FROM's domain), without brackets."""
    return f"resolver.{uuid.uuid4().hex}@shop.example"


def customer_message_id() -> str:
    return f"{uuid.uuid4().hex}@mail.gmail.example"


def build(
    body: str = "Where is my order 1042? It was due on Monday.",
    *,
    sender: str = "Anna Keller <anna.keller@gmail.example>",
    to: str = SUPPORT,
    subject: str = "Where is my order?",
    message_id: str | None = "",
    html: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[dict[str, Any]] | None = None,
) -> bytes:
    """One e-mail. message_id "" = a fresh one, None = no Message-ID header at all."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 12, 3, 10, 15, tzinfo=UTC))
    if message_id is not None:
        message["Message-ID"] = f"<{message_id or customer_message_id()}>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for attachment in attachments or []:
        data = attachment["data"]
        maintype, _, subtype = attachment.get("type", "application/octet-stream").partition("/")
        message.add_attachment(
            data,
            maintype=maintype,
            subtype=subtype,
            filename=attachment.get("filename"),
            cid=attachment.get("cid"),
            disposition=attachment.get("disposition", "attachment"),
        )
    return message.as_bytes()


def _tnef_attribute(level: int, tag: int, kind: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, tag, kind, len(data)) + data + struct.pack("<H", checksum)


def tnef(files: list[tuple[str, bytes]], body: str = "") -> bytes:
    """A winmail.dat holding `files` (attAttachTitle + attAttachData per attachment, each
    started by attAttachRendData) and, optionally, the message text (attBody)."""
    message_level, attachment_level = 1, 2
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attribute(message_level, 0x9006, 0x0008, struct.pack("<I", 0x00010000))
    out += _tnef_attribute(message_level, 0x9007, 0x0006, struct.pack("<II", 1252, 0))
    if body:
        out += _tnef_attribute(message_level, 0x800C, 0x0002, body.encode("cp1252") + b"\x00")
    for name, data in files:
        out += _tnef_attribute(attachment_level, 0x9002, 0x0006, bytes(14))
        out += _tnef_attribute(attachment_level, 0x8010, 0x0001, name.encode("cp1252") + b"\x00")
        out += _tnef_attribute(attachment_level, 0x800F, 0x0006, data)
    return out


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f9d0000000049454e44ae426082"
)
