"""The headers of our reply to a customer's e-mail, from theirs, so that their mail client threads
it (CONTRACTS.md, "Additions (2026-12-05)"): whom it goes to (reply-all, less our own addresses),
In-Reply-To, References and "Re: <subject> [#token]". Pure functions of their values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from support.email.addresses import fold_case

# RFC 5322 asks to keep References whole; clients cut long ones keeping the first (the thread's
# root) and the latest, and so do we: a thread of hundreds of mails stays a header of 20 ids.
MAX_REFERENCES = 20
MAX_SUBJECT_CHARS = 250
# "Re:", "RE:", "Aw:", "Fwd:", "WG:", "SV:", "Antw:", "Re[2]:", "Re (2):", full-width colons...
# repeated and mixed, as clients stack them.
_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|ant|wg|fw|fwd|tr|rv|r)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*)+",
    re.IGNORECASE,
)
# Our thread tokens (support.models.conversation.new_thread_token: 13 base32 characters), wherever
# a client put them; a customer's own bracketed tags ("[Shop]", "[#123]") stay.
_TOKEN = re.compile(r"\[#[a-z2-7]{13}\]", re.IGNORECASE)


@dataclass(frozen=True)
class Theirs:
    """What our reply needs of the customer's message it answers."""

    message_id: str  # without brackets
    references: list[str] = field(default_factory=list)
    subject: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)


def base_subject(subject: str) -> str:
    """The subject without reply/forward prefixes and thread tokens, whitespace collapsed."""
    text = " ".join(subject.split())
    while True:
        stripped = " ".join(_PREFIX.sub("", _TOKEN.sub(" ", text)).split())
        if stripped == text:
            return text
        text = stripped


def reply_subject(subject: str, token: str) -> str:
    """ "Re: <subject> [#token]": one "Re:", one token, whatever the customer's client made of
    our earlier replies' subjects."""
    base = base_subject(subject)[:MAX_SUBJECT_CHARS]
    return f"Re: {base} [#{token}]" if base else f"Re: [#{token}]"


def references(theirs: Theirs) -> list[str]:
    """Their References and their Message-ID, without repeats, bounded: the first and the
    latest MAX_REFERENCES - 1."""
    seen: dict[str, None] = {}
    for ref in [*theirs.references, theirs.message_id]:
        if ref and ref not in seen:
            seen[ref] = None
    chain = list(seen)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return chain


def _unique(addresses: Iterable[str], leave_out: set[str]) -> list[str]:
    """Each mailbox once, as written: compared as fold_case compares (str.lower() turned a
    look-alike "\u212aate@" into "kate@" and mailed its reply to Kate)."""
    found: dict[str, str] = {}
    for address in addresses:
        written = address.strip()
        key = fold_case(written)
        if key and key not in leave_out and key not in found:
            found[key] = written
    return list(found.values())


def recipients(theirs: Theirs, own: AbstractSet[str]) -> tuple[list[str], list[str]]:
    """(To, Cc) of a reply-all: to the sender and whom they wrote to, copying whom they copied;
    our own addresses never (a reply to ourselves would come back as a new mail)."""
    own = {fold_case(address.strip()) for address in own}
    to = _unique([theirs.from_address, *theirs.to], own)
    cc = _unique(theirs.cc, own | {fold_case(address) for address in to})
    return to, cc
