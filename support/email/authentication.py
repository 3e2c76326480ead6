"""Is an e-mail's sender who its From says? A From address is a claim anyone can type; what vouches
for it is the verdict of a server we trust: the `Authentication-Results` header (RFC 8601) our
own border added (EMAIL_TRUSTED_AUTHSERV_ID), or the ESP's verdict its signed inbound webhook
carries (support/email/esp.py:verdict). Verified when DMARC passed for the From domain, or a DKIM
signature passed whose domain is aligned with it (relaxed: the same domain, or the From domain is
a subdomain of the signing one).

Which header counts: only the message's topmost `Authentication-Results` (the first one, whoever
added it), and only when its authserv-id is ours. Our border adds its header on top, so a message
whose top header is someone else's did not come through it as the last hop (or was made to look
as if): nothing vouches. A border that follows RFC 8601 §5 strips headers claiming its own id
from incoming mail; one that does not leaves a sender's forged copy *below* its own, often right
below it (a sender talking to our MX directly has no hop of its own in between), so nothing
under the first one can be told apart from a forgery and none of them counts.

Mail from an ESP's inbound webhook (door `anymail:<esp>`) never passed our border: every header
it carries is the sender's, save the one the ESP itself adds on top (Amazon SES:
`amazonses.com`, ESP_AUTHSERV_IDS). So on such a door the setting is trusted only when it is that
ESP's own id (`trusted_for_door`); otherwise only the ESP's verdict counts.

One header per hop is what combined verifiers write (rspamd, Gmail, Microsoft 365, Amazon SES); with
OpenDKIM and OpenDMARC as separate milters, OpenDMARC's header (it runs after OpenDKIM, whose result
it reads) is the topmost, and its DMARC verdict covers aligned DKIM. A topmost header of ours that
cannot be parsed verifies nothing (never falls through to a lower one).

Pure: no settings, no database; `receive.py` passes the setting and the ESP's verdict in."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from email.message import Message
from email.utils import getaddresses
from typing import Any

import authres

from support.email.addresses import normalise
from support.email.charsets import decode_header_value
from support.vocabulary import Verification

HEADER = "Authentication-Results"
# The authserv-id an ESP writes in the Authentication-Results header it adds on top of the mail it
# hands to its inbound webhook (door "anymail:<esp>"). An ESP not named adds none we can trust.
ESP_AUTHSERV_IDS: dict[str, str] = {"amazon_ses": "amazonses.com"}
ESP_DOOR_PREFIX = "anymail:"  # the ESP doors' names (support/email/esp.py:door)
PASS = "pass"
# RFC 8601 §2.2: authserv-id is the first token of the value, before the optional version and
# the ";". Comments "(...)" may sit anywhere around it.
_COMMENT = re.compile(r"\([^()]*\)")
_AUTHSERV_ID = re.compile(r"^\s*([^\s;]+)")


def sender_verification(
    parsed_or_headers: Message | Iterable[str],
    from_address: str,
    trusted_authserv_id: str,
    esp_verdict: Mapping[str, Any] | None = None,
) -> str:
    """How the sender of `from_address` was verified (a Verification value; "" = unverified).

    `parsed_or_headers`: the e-mail (its `Authentication-Results` headers are read top to bottom)
    or those headers' values, topmost first. `trusted_authserv_id`: ours ("" trusts no header).
    `esp_verdict`: what the ESP's webhook said (`dmarc`: "pass"..., `dkim_pass_domains`: the
    domains whose DKIM signature passed, where the ESP names them)."""
    from_domain = domain_of(from_address)
    if not from_domain:
        return Verification.NONE
    values = _header_values(parsed_or_headers)
    if trusted_authserv_id and _header_passes(values, from_domain, trusted_authserv_id):
        return Verification.EMAIL_AUTH
    if esp_verdict and _esp_passes(esp_verdict, from_domain):
        return Verification.ESP
    return Verification.NONE


def trusted_for_door(door: str, trusted_authserv_id: str) -> str:
    """The authserv-id to trust on mail that came in by `door`: the setting on our own doors (the
    API, IMAP: behind our border); on an ESP's door only when it is that ESP's own id (the header
    the ESP adds on top), else "" (no header trusted: only the ESP's verdict counts)."""
    if not door.startswith(ESP_DOOR_PREFIX):
        return trusted_authserv_id
    esp_id = ESP_AUTHSERV_IDS.get(door.removeprefix(ESP_DOOR_PREFIX), "")
    if esp_id and trusted_authserv_id.strip().lower() == esp_id:
        return trusted_authserv_id
    return ""


def domain_of(address_or_domain: str) -> str:
    """The lower-case domain of an address ("a@Example.COM." → "example.com"), or of a domain."""
    domain = address_or_domain.strip().strip("<>").rpartition("@")[2]
    return domain.strip().rstrip(".").lower()


def aligned(from_domain: str, signing_domain: str) -> bool:
    """DKIM relaxed alignment as this project takes it: the signing domain is the From domain or
    one of its parents. A bare top-level label ("com") never aligns (no one may sign for it)."""
    signing = domain_of(signing_domain)
    if not signing or "." not in signing:
        return False
    return from_domain == signing or from_domain.endswith("." + signing)


def _header_values(parsed_or_headers: Message | Iterable[str]) -> list[str]:
    if isinstance(parsed_or_headers, Message):
        return [str(value) for value in parsed_or_headers.get_all(HEADER, [])]
    return [str(value) for value in parsed_or_headers]


def authserv_id(value: str) -> str:
    """The authserv-id a header value names, lower case ("" when there is none)."""
    found = _AUTHSERV_ID.match(_COMMENT.sub(" ", _unfold(value)))
    return found.group(1).lower() if found else ""


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def _header_passes(values: list[str], from_domain: str, trusted: str) -> bool:
    # The topmost header only, whoever added it: ours is on top when it came through our border.
    if not values or authserv_id(values[0]) != trusted.strip().lower():
        return False
    ours = values[0]
    try:
        header = authres.AuthenticationResultsHeader.parse_value(_unfold(ours))
    except Exception:
        # Unreadable (authres.core.AuthResError), or anything else a hostile header might make the
        # parser raise: nothing vouches (never a lower header), and the e-mail is still stored.
        return False
    return any(_result_passes(result, from_domain) for result in header.results)


def _property(result: Any, ptype: str, name: str) -> str:
    for prop in result.properties:
        if prop.type == ptype and prop.name == name and prop.value is not None:
            return str(prop.value)
    return ""


def _result_passes(result: Any, from_domain: str) -> bool:
    method = str(result.method).lower()
    if str(result.result).lower() != PASS:
        return False
    if method == "dmarc":
        return domain_of(_property(result, "header", "from")) == from_domain
    if method == "dkim":
        # header.d is the signing domain (RFC 8601 §2.7.1); older verifiers write only header.i,
        # the agent or user identifier, whose domain is d or a subdomain of it.
        signing = _property(result, "header", "d") or domain_of(_property(result, "header", "i"))
        return aligned(from_domain, signing)
    return False  # SPF checks the envelope sender, not From; other methods vouch for nothing


def _esp_passes(verdict: Mapping[str, Any], from_domain: str) -> bool:
    # DMARC is evaluated on the From domain by definition, so an ESP's DMARC pass is aligned.
    if str(verdict.get("dmarc") or "").lower() == PASS:
        return True
    domains = verdict.get("dkim_pass_domains") or []
    return isinstance(domains, list) and any(aligned(from_domain, str(d)) for d in domains)


def author_address(message: Message) -> str:
    """The From header's one address, normalised; "" when it names none or several (DMARC and
    this check are about exactly one author)."""
    values = [decode_header_value(value) for value in message.get_all("from", [])]
    found = {normalise(address) for _, address in getaddresses(values)} - {""}
    return next(iter(found)) if len(found) == 1 else ""
