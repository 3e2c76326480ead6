"""support/email/authentication.py: which senders an Authentication-Results header (RFC 8601) or
an ESP's verdict verifies. Pure: headers shaped as real verifiers write them (Gmail, Microsoft
365, rspamd, OpenDKIM + OpenDMARC, Amazon SES), parsed from whole e-mails where the position of
a header matters."""

from __future__ import annotations

from email import message_from_bytes, policy
from typing import Any

import pytest

from support.email.authentication import (
    aligned,
    author_address,
    authserv_id,
    sender_verification,
    trusted_for_door,
)
from support.vocabulary import Verification

OURS = "mx.shop.example"
FROM = "anna@example.com"

GMAIL_STYLE = (
    "mx.shop.example;\r\n"
    "       dkim=pass header.i=@example.com header.s=20230601 header.b=Xb4mZ2Qk;\r\n"
    "       spf=pass (mx.shop.example: domain of anna@example.com designates 203.0.113.7 as"
    " permitted sender) smtp.mailfrom=anna@example.com;\r\n"
    "       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from=example.com"
)
MICROSOFT_STYLE = (
    "spf=pass (sender IP is 203.0.113.7) smtp.mailfrom=example.com; dkim=pass (signature was"
    " verified) header.d=example.com;dmarc=pass action=none header.from=example.com;compauth=pass"
    " reason=100"
)
RSPAMD_STYLE = (
    'mx.shop.example;\n\tdkim=pass header.d=example.com header.s=mail header.b="kq0Fh1Zz";\n'
    "\tdmarc=pass (policy=reject) header.from=example.com;\n"
    '\tspf=pass (mx.shop.example: domain of "anna@example.com" designates 203.0.113.7 as '
    "permitted sender) smtp.mailfrom=anna@example.com"
)


def verdict(values: list[str], from_address: str = FROM, **kwargs: Any) -> str:
    trusted = kwargs.pop("trusted", OURS)
    return sender_verification(values, from_address, trusted, kwargs.pop("esp", None))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (GMAIL_STYLE, Verification.EMAIL_AUTH),
        (f"{OURS} 1; {MICROSOFT_STYLE}", Verification.EMAIL_AUTH),
        (RSPAMD_STYLE, Verification.EMAIL_AUTH),
        # DMARC alone, as OpenDMARC writes it.
        (f"{OURS}; dmarc=pass (p=reject dis=none) header.from=example.com", "email_auth"),
        # DKIM alone, aligned (equal), as OpenDKIM writes it.
        (
            f"{OURS}; dkim=pass (2048-bit key; secure) header.d=example.com header.i=@example.com"
            " header.a=rsa-sha256 header.s=s1 header.b=Ab1Cd2Ef",
            "email_auth",
        ),
        # Only header.i (older verifiers): its domain is the signer's.
        (f"{OURS}; dkim=pass header.i=@example.com", "email_auth"),
        # Uppercase everywhere: domains and results compare case-insensitively.
        ("MX.Shop.Example; DKIM=PASS header.d=EXAMPLE.COM", "email_auth"),
        (f"{OURS}; dmarc=PASS header.from=Example.COM.", "email_auth"),
        # DKIM passed, but for somebody else's domain (a bulk sender signing as itself).
        (f"{OURS}; dkim=pass header.d=mailer.example.net; spf=pass smtp.mailfrom=example.com", ""),
        # DKIM passed for a subdomain of From: relaxed alignment goes the other way only.
        (f"{OURS}; dkim=pass header.d=mail.example.com", ""),
        # A look-alike: example.com is not a parent of notexample.com.
        (f"{OURS}; dmarc=pass header.from=notexample.com; dkim=pass header.d=notexample.com", ""),
        # DMARC failed; SPF passing checks the envelope sender, not From.
        (
            f"{OURS}; dmarc=fail (p=reject) header.from=example.com; spf=pass smtp.mailfrom=x.com",
            "",
        ),
        (
            f"{OURS}; dkim=fail (bad signature) header.d=example.com;"
            " dmarc=fail header.from=example.com",
            "",
        ),
        (f"{OURS}; dkim=neutral (no key) header.d=example.com", ""),
        (f"{OURS}; spf=pass smtp.mailfrom=anna@example.com", ""),
        # DMARC passed for another From domain than this message's.
        (f"{OURS}; dmarc=pass header.from=other.example", ""),
        # A DMARC pass that does not say for which domain vouches for nothing.
        (f"{OURS}; dmarc=pass", ""),
        (f"{OURS}; none", ""),
        # Our id, but not a header we can read: nothing vouches.
        (f"{OURS}; dkim pass header.d example.com", ""),
    ],
)
def test_one_header_of_ours(value: str, expected: str) -> None:
    assert verdict([value]) == expected


def test_dkim_signed_by_a_parent_domain_is_aligned_for_a_subdomain_sender() -> None:
    value = f"{OURS}; dkim=pass header.d=example.com"
    assert verdict([value], "anna@mail.eu.example.com") == Verification.EMAIL_AUTH
    assert verdict([f"{OURS}; dkim=pass header.d=com"], "anna@example.com") == ""


def test_only_headers_with_our_authserv_id_count() -> None:
    elsewhere = GMAIL_STYLE.replace(OURS, "mx.google.com")
    assert verdict([elsewhere]) == ""
    assert verdict([GMAIL_STYLE], trusted="") == ""  # no setting: no header is trusted
    # Our border adds its header on top: someone else's there (forged above ours, or a hop
    # after our border) leaves the message untrusted, whatever lies below.
    assert verdict([elsewhere, GMAIL_STYLE]) == ""
    assert verdict([GMAIL_STYLE, elsewhere]) == Verification.EMAIL_AUTH
    # Configured in another case: ids compare case-insensitively.
    assert verdict([GMAIL_STYLE], trusted="MX.SHOP.EXAMPLE") == Verification.EMAIL_AUTH


def test_only_the_topmost_header_of_ours_counts() -> None:
    ours_fail = f"{OURS}; dkim=fail header.d=example.com; dmarc=fail header.from=example.com"
    forged_pass = f"{OURS}; dmarc=pass header.from=example.com"
    # The sender's forged copy sits below ours: it counts for nothing.
    assert verdict([ours_fail, forged_pass]) == ""
    # Ours unreadable: never falls through to a lower one.
    assert verdict([f"{OURS}; ===", forged_pass]) == ""
    assert verdict([forged_pass.replace("pass", "fail"), forged_pass]) == ""


def test_authserv_id_reads_comments_folding_and_versions() -> None:
    assert authserv_id("mx.shop.example; none") == OURS
    assert authserv_id("(our border) MX.shop.example 1 (v1);\r\n dkim=pass") == OURS
    assert authserv_id("\r\n mx.shop.example;dkim=pass") == OURS
    assert authserv_id("") == ""


def test_headers_in_a_whole_email_top_to_bottom() -> None:
    raw = (
        f"Authentication-Results: {OURS};\r\n"
        "\tdkim=pass header.d=example.com;\r\n"
        "\tdmarc=pass (p=quarantine) header.from=example.com\r\n"
        "Received: from mail.example.com (mail.example.com [203.0.113.7]) by mx.shop.example\r\n"
        f"Authentication-Results: {OURS}; dmarc=fail header.from=example.com\r\n"
        "From: Anna <Anna@Example.com>\r\n"
        "To: support@shop.example\r\n"
        "Subject: hello\r\n\r\nhi\r\n"
    ).encode()
    message = message_from_bytes(raw, policy=policy.compat32)
    assert sender_verification(message, "anna@example.com", OURS) == Verification.EMAIL_AUTH
    forged_only = raw.split(b"Received:", 1)[1]
    message = message_from_bytes(b"Received:" + forged_only, policy=policy.compat32)
    # Only the forged fail is left, and it is now the topmost: unverified either way.
    assert sender_verification(message, "anna@example.com", OURS) == ""


@pytest.mark.parametrize(
    ("esp", "expected"),
    [
        ({"dmarc": "pass"}, Verification.ESP),  # Amazon SES's dmarcVerdict
        ({"dmarc": "fail", "dkim": "pass"}, ""),  # SES's DKIM verdict names no domain
        ({"dkim_pass_domains": ["example.com"]}, Verification.ESP),  # SendGrid's `dkim`
        ({"dkim_pass_domains": ["sendgrid.example"]}, ""),
        ({"dkim_pass_domains": "example.com"}, ""),  # not the shape we write: ignored
        ({"spf": "pass"}, ""),
        ({}, ""),
    ],
)
def test_the_esp_verdict(esp: dict[str, Any], expected: str) -> None:
    assert verdict([], esp=esp) == expected


def test_our_header_wins_over_the_esp_verdict_and_neither_without_a_from() -> None:
    assert verdict([GMAIL_STYLE], esp={"dmarc": "pass"}) == Verification.EMAIL_AUTH
    assert verdict([GMAIL_STYLE], "", esp={"dmarc": "pass"}) == ""


def test_alignment() -> None:
    assert aligned("example.com", "Example.COM.")
    assert aligned("a.b.example.com", "example.com")
    assert not aligned("example.com", "a.example.com")
    assert not aligned("badexample.com", "example.com")
    assert not aligned("example.com", "")


def test_author_address_is_the_one_from_address() -> None:
    def author(from_header: str) -> str:
        raw = f"From: {from_header}\r\nSubject: x\r\n\r\nhi\r\n".encode()
        return author_address(message_from_bytes(raw, policy=policy.compat32))

    assert author("Anna Keller <Anna@Example.COM>") == "anna@example.com"
    assert author("=?utf-8?q?Keller=2C_Anna?= <anna@example.com>") == "anna@example.com"
    assert author("anna@example.com, bob@example.com") == ""
    assert author("Anna Keller") == ""


def test_which_authserv_id_each_door_trusts() -> None:
    # Our own doors are behind our border: the setting as it is.
    assert trusted_for_door("api", OURS) == OURS
    assert trusted_for_door("imap", OURS) == OURS
    # An ESP's door never passed our border: our id is a sender's forgery there.
    assert trusted_for_door("anymail:amazon_ses", OURS) == ""
    assert trusted_for_door("anymail:mailgun", OURS) == ""
    # The ESP's own id, which it adds on top itself, only on its own door.
    assert trusted_for_door("anymail:amazon_ses", "AmazonSES.com") == "AmazonSES.com"
    assert trusted_for_door("anymail:mailgun", "amazonses.com") == ""
    assert trusted_for_door("api", "") == ""
