"""E-mail addresses as Resolver compares them, and which of them are ours."""

from __future__ import annotations

import contextlib
from email.utils import parseaddr

from django.conf import settings


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
    return f"{local.strip().lower()}@{domain}"


def support_address() -> str:
    """SUPPORT_EMAIL_FROM's address, normalised."""
    return normalise(parseaddr(settings.SUPPORT_EMAIL_FROM)[1])


def own_addresses() -> frozenset[str]:
    """Every address of ours: SUPPORT_EMAIL_FROM's and SUPPORT_EMAIL_ALIASES (never a customer or
    a thread's participant, mail from them is never drafted, reply-all leaves them out)."""
    found = {support_address(), *(normalise(a) for a in settings.SUPPORT_EMAIL_ALIASES)}
    return frozenset(address for address in found if address)


def message_id_domain() -> str:
    """The domain of the Message-IDs our replies carry (SUPPORT_EMAIL_FROM's): an e-mail whose
    own Message-ID ends in it is one of ours coming back."""
    return support_address().rpartition("@")[2]


def bare_message_id(value: str) -> str:
    """A Message-ID without its angle brackets and surrounding space."""
    return value.strip().strip("<>").strip()
