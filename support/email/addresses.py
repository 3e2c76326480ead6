"""E-mail addresses as Resolver compares them, and which of them are ours."""

from __future__ import annotations

import contextlib
from email.utils import make_msgid, parseaddr

from django.conf import settings


def fold_case(text: str) -> str:
    """Lower case, except where lowering a character that is not ASCII gives ASCII: KELVIN SIGN
    (U+212A) lowers to "k", so "\u212aate@" and "kate@" (two mailboxes) were one customer, the
    second verified as the first."""
    return "".join(_fold(char) for char in text)


def _fold(char: str) -> str:
    low = char.lower()
    return low if char.isascii() or not any(c.isascii() for c in low) else char


def normalise(address: str) -> str:
    """Lower case, the domain in its ASCII (IDNA) form: how the same mailbox compares equal
    whichever client wrote it. "" when it is not an address."""
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        return ""
    domain = domain.strip().rstrip(".").lower()
    # A label the IDNA codec refuses (too long, empty) is kept as written, in lower case.
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return f"{fold_case(local.strip())}@{domain}"


def support_address() -> str:
    """SUPPORT_EMAIL_FROM's address, normalised."""
    return normalise(parseaddr(settings.SUPPORT_EMAIL_FROM)[1])


def own_addresses() -> frozenset[str]:
    """Every address of ours: SUPPORT_EMAIL_FROM's and SUPPORT_EMAIL_ALIASES (never a customer or
    a thread's participant, mail from them is never drafted, reply-all leaves them out)."""
    found = {support_address(), *(normalise(a) for a in settings.SUPPORT_EMAIL_ALIASES)}
    return frozenset(address for address in found if address)


# A word in the local part of every Message-ID our replies carry. The domain alone does not say
# a Message-ID is ours: mail clients name theirs after the sender's domain, so a colleague
# writing from it (a forward to support@, an internal helpdesk) would look like our own mail.
OUR_MESSAGE_ID_MARK = "resolver"


def message_id_domain() -> str:
    """The domain of the Message-IDs our replies carry (SUPPORT_EMAIL_FROM's)."""
    return support_address().rpartition("@")[2]


def new_message_id() -> str:
    """A Message-ID for a reply of ours, without brackets: unique, on our domain, marked."""
    return make_msgid(idstring=OUR_MESSAGE_ID_MARK, domain=message_id_domain()).strip("<>")


def is_our_message_id(message_id: str) -> bool:
    """Whether a Message-ID is one our replies carry (a reply of ours coming back, even one
    whose envelope is no longer stored): our domain, and our mark in its local part."""
    local, _, domain = message_id.lower().rpartition("@")
    ours = message_id_domain()
    return bool(ours) and domain == ours and OUR_MESSAGE_ID_MARK in local.split(".")


def bare_message_id(value: str) -> str:
    """A Message-ID without its angle brackets and surrounding space, and without NULs: no
    Message-ID has one, and a lookup by it would fail instead of missing."""
    return value.replace("\x00", "").strip().strip("<>").strip()
