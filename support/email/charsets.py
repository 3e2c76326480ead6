"""Turning an e-mail's bytes into text whatever charset it declares, or mis-declares: a charset
nobody knows, bytes that are not what the label says, RFC 2047 words in headers, raw UTF-8 in
headers. Decoding never raises: the last resort replaces what cannot be read."""

from __future__ import annotations

import codecs
from email.header import Header, decode_header

# Tried in order after the declared charset: UTF-8 (most mislabelled mail is), then Windows-1252
# (what "us-ascii" or "iso-8859-1" usually means in practice, as browsers assume too).
FALLBACKS = ("utf-8", "windows-1252")
# Labels Python's codecs do not know by that name, with the codec mail clients mean by them.
ALIASES = {
    "x-user-defined": "windows-1252",
    "ks_c_5601-1987": "cp949",  # Outlook's name for Korean
    "x-sjis": "shift_jis",
    "x-gbk": "gbk",
    "ansi_x3.4-1968": "ascii",
    "unicode-1-1-utf-7": "utf-7",
}


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    label = ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except (LookupError, ValueError):  # ValueError: a NUL in the label ("utf-8\x00")
        return None


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few broken sequences (a truncated or corrupted character) reads as UTF-8
    with replacement characters; bytes that are mostly not UTF-8 are another charset."""
    text = data.decode("utf-8", errors="replace")
    broken = text.count("\ufffd")
    multibyte = sum(1 for c in text if ord(c) > 0x7F) - broken
    return text if multibyte > broken else None


def _decode(data: bytes, charset: str | None) -> str:
    declared = _codec(charset)
    # ISO-2022-JP is often sent as one of its supersets (half-width kana, NEC extensions).
    if declared == "iso2022_jp":
        declared = "iso2022_jp_ext"
    tried = [declared] if declared else []
    tried += [name for name in FALLBACKS if name != declared]
    if declared == "ascii":
        tried.remove("ascii")  # "us-ascii" with 8-bit bytes: the fallbacks say what it is
    for name in tried:
        try:
            return data.decode(name)
        except (UnicodeDecodeError, LookupError):
            if name == "utf-8" and (text := _mostly_utf8(data)) is not None:
                return text
            continue
    return data.decode(declared or "utf-8", errors="replace")


def decode_bytes(data: bytes, charset: str | None) -> str:
    """The text of `data` in its declared charset if it decodes cleanly, else in the first
    fallback that does, else the declared (or UTF-8) one with replacement characters. NUL
    characters are dropped: no text column can hold them, and no person typed one."""
    return _decode(data, charset).replace("\x00", "")


def _raw_bytes(value: str) -> bytes:
    # The parser keeps undecodable header bytes (raw UTF-8 in headers, RFC 6532) as surrogates.
    return value.encode("ascii", "surrogateescape")


def decode_header_value(value: object) -> str:
    """A header's text: RFC 2047 encoded words decoded in their charsets, raw 8-bit bytes as
    UTF-8 (or a fallback), folding undone."""
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 hands raw 8-bit headers (RFC 6532: "From: josé@…" in UTF-8) over as a Header
        # of unknown-8bit bytes, and str() of it puts U+FFFD in place of each byte: two
        # senders differing by one accented letter became one customer. Its chunks keep the
        # bytes: read as UTF-8 (or a fallback), then as any header's text, so encoded words
        # beside the raw bytes ("=?utf-8?q?Jos=C3=A9?= <josé@…>") are decoded too.
        text = "".join(
            decode_bytes(chunk, None) if isinstance(chunk, bytes) else chunk
            for chunk, _ in decode_header(value)
        )
    else:
        text = str(value)
    parts: list[tuple[bytes | str, str | None]]
    try:
        parts = list(decode_header(text))
    except Exception:  # a malformed encoded word: read the header as it stands
        parts = [(text, None)]
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            chunk = _raw_bytes(chunk) if any("\udc80" <= c <= "\udcff" for c in chunk) else chunk
        if isinstance(chunk, bytes):
            data = chunk
            try:
                chunk = decode_bytes(data, charset)
            except Exception:
                chunk = data.decode("utf-8", errors="replace")
        out.append(chunk)
    # decode_header drops the space between an encoded word and plain text only when RFC 2047
    # says so; what is left of folding is whitespace runs.
    return " ".join("".join(out).replace("\x00", "").split())
