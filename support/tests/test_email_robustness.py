"""Whatever bytes arrive, reading them never crashes the fetch: parse() returns an e-mail or says
the bytes hold none (NotAnEmail), and receive_email() stores, ignores or quarantines, never
raises. Property-based (hypothesis), bounded, on e-mail-shaped and arbitrary bytes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support.email.parse import NotAnEmail, parse
from support.email.receive import receive_email
from support.tests.email_fixtures import email_settings  # noqa: F401
from support.vocabulary import ReceiptStatus

CHARSETS = ["utf-8", "iso-8859-1", "iso-2022-jp", "x-bogus", "", "utf-7", "windows-1252", "koi8-r"]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"]
TYPES = [
    "text/plain",
    "text/html",
    "multipart/alternative",
    "multipart/mixed",
    "message/rfc822",
    "multipart/report",
    "application/ms-tnef",
    "image/png",
    "text/rfc822-headers",
]


@st.composite
def email_shaped(draw: Any) -> bytes:
    """Headers and MIME parts with real names and random, often broken, values."""
    header_values = st.one_of(
        st.text(max_size=40),
        st.sampled_from(["=?utf-8?B?////?=", "=?x?Q?=FF?=", "<a@b>", "<<>>", '"unterminated', ""]),
    )
    lines = [
        f"From: {draw(header_values)} <{draw(st.text(max_size=12))}@{draw(st.text(max_size=12))}>",
        f"Subject: {draw(header_values)}",
        f"Message-ID: {draw(header_values)}",
        f"In-Reply-To: {draw(header_values)}",
        f"References: {draw(header_values)}",
    ]
    boundary = draw(st.sampled_from(["b", "", "=_x", "---"]))
    lines.append(
        f'Content-Type: {draw(st.sampled_from(TYPES))}; boundary="{boundary}"; '
        f"charset={draw(st.sampled_from(CHARSETS))}; format=flowed"
    )
    lines.append(f"Content-Transfer-Encoding: {draw(st.sampled_from(ENCODINGS))}")
    head = "\n".join(lines).encode("utf-8", "surrogatepass")
    parts = draw(st.lists(st.binary(max_size=200), max_size=3))
    body = b"".join(
        b"--"
        + boundary.encode()
        + b"\nContent-Type: "
        + draw(st.sampled_from(TYPES)).encode()
        + b'; name="'
        + draw(st.binary(max_size=10))
        + b'"\n\n'
        + part
        + b"\n"
        for part in parts
    )
    return head + b"\n\n" + body + draw(st.binary(max_size=100))


@given(raw=st.one_of(st.binary(max_size=400), email_shaped()))
@settings(max_examples=300, deadline=None, derandomize=True)
def test_parse_reads_anything_or_says_it_is_not_an_email(raw: bytes) -> None:
    try:
        parsed = parse(raw)
    except NotAnEmail:
        return
    assert parsed.body.strip() and "\x00" not in parsed.body
    assert parsed.message_id and len(parsed.message_id) <= 998


@pytest.mark.usefixtures("email_settings")
@given(raw=email_shaped())
@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_receive_never_raises_on_bad_mail(db: None, raw: bytes) -> None:
    received = receive_email(raw, door="imap")
    assert received.status in ReceiptStatus.values
