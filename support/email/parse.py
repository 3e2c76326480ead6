"""Reading an e-mail as its customer wrote it: who from, to whom, which thread, the text they
typed (text/plain preferred, HTML converted otherwise, every charset and transfer encoding, the
quoted history and signature stripped by reply.py) and the files it carried. Pure: no database,
no disk; `parse` never raises on a malformed part, only on bytes that hold no e-mail at all."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses

from support.email import html as html_text
from support.email.addresses import bare_message_id, normalise, own_addresses
from support.email.attachments import Part, expand_tnef, is_tnef, safe_filename
from support.email.charsets import decode_bytes, decode_header_value
from support.email.reply import latest_reply

MAX_HEADER = 998
# The domain of Message-IDs derived for e-mails that carry none (RFC 2606: never a real one).
DERIVED_ID_DOMAIN = "derived.invalid"
_ANGLE_ID = re.compile(r"<([^<>\s]+)>")
# Headers that make an e-mail the same one when it carries no Message-ID: trace headers
# (Received, Delivered-To) differ from one door to the next, these do not.
_IDENTITY_HEADERS = ("from", "to", "cc", "date", "subject")
# Counted only when present, so that the ids derived for mail without them (stored ones among
# them) stay what they were: a contact form sends every visitor's mail From one address, the
# visitor in Reply-To (or Sender), and two visitors writing the same words are two e-mails.
_IDENTITY_HEADERS_IF_PRESENT = ("reply-to", "sender")


class NotAnEmail(ValueError):
    """The bytes hold no RFC 5322 message: no header at all."""


@dataclass(frozen=True)
class ParsedEmail:
    message: Message = field(repr=False)
    message_id: str
    derived_message_id: bool
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    # Whom we answer, the customer: the Reply-To's one address, else the From's (_answer_to).
    # Whether that address is verified is authentication.py's question, about the From alone.
    from_address: str
    from_name: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    text: str  # everything the text says, quotes and signature included
    html: str  # the HTML part as sent (unsanitised: html.sanitise before showing it)
    body: str  # what the customer wrote in this message: never blank
    parts: tuple[Part, ...]

    def header(self, name: str) -> str:
        return header(self.message, name)

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """In-Reply-To, then References newest first: the Message-IDs it answers."""
        ids = (self.in_reply_to, *reversed(self.references))
        return tuple(dict.fromkeys(i for i in ids if i))


def header(message: Message, name: str) -> str:
    """A header's decoded text, "" when absent; the first one when repeated."""
    try:
        value = message.get(name)
    except Exception:
        return ""
    return decode_header_value(value)[: MAX_HEADER * 4] if value is not None else ""


def _all_headers(message: Message, name: str) -> str:
    """Every instance of a header, decoded and joined: with raw 8-bit bytes in it, compat32
    hands back a Header object rather than text."""
    try:
        values = message.get_all(name, []) or []
    except Exception:
        return ""
    return " ".join(decode_header_value(value) for value in values)


def _message_ids(value: str) -> list[str]:
    found = _ANGLE_ID.findall(value)
    if not found and "@" in value:
        found = value.split()  # written without brackets, as some clients do
    return [bare_message_id(i)[:MAX_HEADER] for i in found if bare_message_id(i)]


def _derived_message_id(raw: bytes, message: Message) -> str:
    """The same for the same e-mail re-delivered through any door: its identity headers and its
    body, line endings normalised."""
    digest = hashlib.sha256()
    for name in _IDENTITY_HEADERS:
        digest.update(header(message, name).encode("utf-8", "surrogateescape") + b"\n")
    for name in _IDENTITY_HEADERS_IF_PRESENT:
        if value := header(message, name):
            digest.update(f"{name}: {value}\n".encode("utf-8", "surrogateescape"))
    flat = raw.replace(b"\r\n", b"\n")
    _, _, body = flat.partition(b"\n\n")
    digest.update(body.rstrip())
    return f"sha256-{digest.hexdigest()[:40]}@{DERIVED_ID_DOMAIN}"


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(normalised address, display name) of every address in the header(s)."""
    try:
        values = [decode_header_value(v) for v in message.get_all(name, [])]
        pairs = getaddresses(values)
    except Exception:
        return []
    out = []
    for display, address in pairs:
        if normalised := normalise(address):
            out.append((normalised, display.strip()))
    return out


def _answer_to(message: Message) -> tuple[str, str]:
    """(address, display name) of whom a reply goes to: the customer. Reply-To when it names
    one address other than the author and not one of ours: a contact form, a shop's or
    marketplace's relay sends From its own address with the visitor in Reply-To, and a
    person's client sets it to be answered elsewhere (mail clients reply there too). Else the
    From; a From with no address (a bare name) falls back to Sender, then Reply-To."""
    reply_to = _addresses(message, "reply-to")
    authors = _addresses(message, "from")
    if (
        len(reply_to) == 1
        and reply_to[0][0] not in own_addresses()
        and reply_to[0][0] not in {address for address, _ in authors}
    ):
        return reply_to[0]
    senders = authors or _addresses(message, "sender") or reply_to
    return senders[0] if senders else ("", "")


def _leaves(part: Message) -> list[Message]:
    """The parts that hold content, in order; a forwarded or returned e-mail (message/rfc822)
    is one leaf: its text is not this e-mail's."""
    if part.get_content_maintype() == "multipart":
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [child for child in payload if isinstance(child, Message)]
            return [leaf for child in children for leaf in _leaves(child)]
        return [part]  # a multipart with no parts: its text, if any, is the preamble
    return [part]


def _payload(part: Message) -> bytes:
    inner = part.get_payload()
    if isinstance(inner, list):
        # message/rfc822 (one message), message/delivery-status (blocks of fields).
        try:
            return b"\n".join(
                block.as_bytes(policy=policy.compat32)
                for block in inner
                if isinstance(block, Message)
            )
        except Exception:
            return b""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    return inner.encode("utf-8", "surrogateescape") if isinstance(inner, str) else b""


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:
        return ""


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except Exception:
        return ""
    if isinstance(name, tuple):  # an RFC 2231 value the parser could not collapse
        name = name[2]
    return decode_header_value(name)


def _is_body_text(part: Message) -> bool:
    return (
        part.get_content_type() in ("text/plain", "text/html")
        and _disposition(part) != "attachment"
        and not _filename(part)
    )


def _unflow(text: str, delsp: bool) -> str:
    """RFC 3676 format=flowed: a line ending in a space goes on in the next line of the same
    quote depth (the writer's paragraph, wrapped only for transport)."""
    out: list[str] = []
    carry: tuple[int, str] | None = None
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if carry is not None and carry[0] == depth:
            content = carry[1] + content
        elif carry is not None:
            out.append(">" * carry[0] + (" " if carry[0] else "") + carry[1])
        carry = None
        if content.endswith(" ") and content != "-- ":
            carry = (depth, content[:-1] if delsp else content)
            continue
        out.append(">" * depth + (" " if depth else "") + content)
    if carry is not None:
        out.append(">" * carry[0] + (" " if carry[0] else "") + carry[1])
    return "\n".join(out)


def _param(part: Message, name: str) -> str:
    """A Content-Type parameter, lower case ("" when absent or unreadable)."""
    try:
        value = part.get_param(name)
    except Exception:
        return ""
    if isinstance(value, tuple):  # RFC 2231: (charset, language, value)
        value = value[2]
    return str(value or "").strip().lower()


def _text_of(part: Message) -> str:
    text = decode_bytes(_payload(part), part.get_content_charset())
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    flowed = _param(part, "format") == "flowed"
    delsp = _param(part, "delsp") == "yes"
    return _unflow(text, delsp) if flowed and part.get_content_type() == "text/plain" else text


def _content_id(part: Message) -> str:
    return bare_message_id(header(part, "Content-ID"))[:MAX_HEADER]


def _attachment(part: Message) -> Part:
    content_id = _content_id(part)
    disposition = _disposition(part)
    return Part(
        filename=_filename(part),
        declared_type=part.get_content_type(),
        data=_payload(part),
        content_id=content_id,
        inline=disposition == "inline" or (bool(content_id) and disposition != "attachment"),
    )


def _body(text: str, parts: tuple[Part, ...], subject: str, sender_name: str) -> str:
    """What the customer wrote, never blank (Message.body may not be): the reply, else the
    files it carried, else whatever text there is, else the subject."""
    if reply := latest_reply(text, sender_name):
        return reply
    if parts:
        return f"(no text; attachments: {', '.join(safe_filename(p) for p in parts)})"
    return text.strip() or subject.strip() or "(no text)"


def parse(raw: bytes) -> ParsedEmail:
    """Reads an e-mail; raises NotAnEmail when the bytes hold no header."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if not message.keys():
        raise NotAnEmail("no RFC 5322 header: this is not an e-mail")
    plain: list[str] = []
    html: list[str] = []
    parts: list[Part] = []
    for leaf in _leaves(message):
        if _is_body_text(leaf):
            (plain if leaf.get_content_type() == "text/plain" else html).append(_text_of(leaf))
        elif is_tnef(leaf.get_content_type(), _filename(leaf)):
            tnef_parts, tnef_text = expand_tnef(_payload(leaf))
            parts += tnef_parts
            plain += [tnef_text] if tnef_text else []
        else:
            parts.append(_attachment(leaf))
    html_source = "\n".join(html)
    text = "\n".join(plain).strip()
    if not text and html_source:
        text = html_text.to_text(html_source).strip()
    from_address, from_name = _answer_to(message)
    message_ids = _message_ids(header(message, "message-id"))
    subject = header(message, "subject")[:MAX_HEADER]
    return ParsedEmail(
        message=message,
        message_id=message_ids[0] if message_ids else _derived_message_id(raw, message),
        derived_message_id=not message_ids,
        in_reply_to=next(iter(_message_ids(header(message, "in-reply-to"))), ""),
        references=tuple(_message_ids(_all_headers(message, "references"))),
        subject=subject,
        from_address=from_address,
        from_name=from_name[:200],
        to=tuple(a for a, _ in _addresses(message, "to")),
        cc=tuple(a for a, _ in _addresses(message, "cc")),
        text=text,
        html=html_source,
        body=_body(text, tuple(parts), subject, from_name),
        parts=tuple(parts),
    )
