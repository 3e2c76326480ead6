"""The files an e-mail carries: a safe name, a type sniffed from the bytes (what the e-mail
declares is kept but not trusted), winmail.dat (TNEF) opened into the files inside it, and the
bytes kept on disk under settings.ATTACHMENT_DIR, up to ATTACHMENT_MAX_BYTES a part.

Files are written inside the receiving transaction and deleted again if it rolls back (the
caller's `written` list); erasure deletes a row's file after its transaction commits."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import filetype
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

MAX_FILENAME_BYTES = 200
TNEF_TYPES = {"application/ms-tnef", "application/vnd.ms-tnef"}
OCTET_STREAM = "application/octet-stream"
# Windows' reserved device names: a file called "CON.txt" cannot be saved there.
_RESERVED = {
    "con",
    "prn",
    "aux",
    "nul",
    *(f"com{i}" for i in range(10)),
    *(f"lpt{i}" for i in range(10)),
}
_UNSAFE = re.compile(r"[^\w .,()\[\]@+=~-]", re.UNICODE)
# What to call a part without a name, by its sniffed type.
_DEFAULT_NAMES = {"message/rfc822": "message.eml", "text/plain": "attachment.txt"}


@dataclass(frozen=True)
class Part:
    """A file part of an e-mail, as read (parse.py)."""

    filename: str  # as the e-mail names it: not safe to use as a path
    declared_type: str
    data: bytes = field(repr=False)
    content_id: str = ""
    inline: bool = False

    @property
    def content_type(self) -> str:
        return sniff(self.data, self.declared_type)

    @property
    def safe_name(self) -> str:
        return safe_filename(self)


def sniff(data: bytes, declared: str = "") -> str:
    """The type the bytes are, by their signature; text that decodes as UTF-8 is text/plain (or
    an e-mail, when it declared one); anything else unknown is application/octet-stream, never
    what the sender claimed (an .exe called invoice.pdf stays an octet stream)."""
    if guessed := filetype.guess_mime(data[:8192]):
        return str(guessed)
    if declared in ("message/rfc822", "text/calendar", "text/csv") and _is_text(data):
        return declared
    return "text/plain" if _is_text(data) else OCTET_STREAM


def _is_text(data: bytes) -> bool:
    sample = data[:8192]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(sample) - 3  # a character cut by the sample's end
    return True


def _extension(content_type: str) -> str:
    kind = filetype.get_type(mime=content_type)
    return f".{kind.extension}" if kind else ""


def safe_filename(part: Part) -> str:
    """A name that is only a name: no directories ("../../etc/passwd" is "passwd"), no control
    or shell characters, no leading dots, not a reserved device name, at most 200 bytes with
    its extension kept; a part without a name gets one from its type."""
    name = unicodedata.normalize("NFC", part.filename or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, extension = name.rpartition(".")
    if not dot:
        stem, extension = name, ""
    if stem.lower() in _RESERVED:
        stem = f"_{stem}"
    extension = extension[:16]
    while len(f"{stem}.{extension}".encode()) > MAX_FILENAME_BYTES and stem:
        stem = stem[:-1]
    name = f"{stem}.{extension}" if extension and stem else stem or extension
    if not name.strip("_"):
        content_type = part.content_type
        name = _DEFAULT_NAMES.get(content_type) or f"attachment{_extension(content_type)}"
    return name


# TNEF (winmail.dat): Outlook's rich-text wrapper around the real attachments.


def is_tnef(content_type: str, filename: str) -> bool:
    return content_type in TNEF_TYPES or filename.strip().lower() == "winmail.dat"


def expand_tnef(data: bytes) -> tuple[list[Part], str]:
    """The files inside a winmail.dat, and the message text it carried ("" if none). A TNEF that
    cannot be read is kept as the winmail.dat it is."""
    from tnefparse import TNEF

    try:
        tnef = TNEF(data, do_checksum=False)
        parts = [
            Part(
                filename=_tnef_name(attachment),
                declared_type=OCTET_STREAM,
                data=bytes(attachment.data or b""),
            )
            for attachment in tnef.attachments
        ]
        body = tnef.body or ""
    except Exception:
        logger.warning("winmail.dat could not be decoded; kept as it is", exc_info=True)
        return [Part(filename="winmail.dat", declared_type="application/ms-tnef", data=data)], ""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else str(body)
    return parts, text.replace("\x00", "").strip()


def _tnef_name(attachment: object) -> str:
    try:
        name = attachment.long_filename()  # type: ignore[attr-defined]
    except Exception:
        name = getattr(attachment, "name", "")
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    return str(name or "").strip("\x00")


# Storage.


def attachment_dir() -> Path:
    return Path(settings.ATTACHMENT_DIR)


def _absolute(relative: str) -> Path:
    root = attachment_dir().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"attachment path outside ATTACHMENT_DIR: {relative!r}")
    return path


def open_stored(relative: str) -> Path:
    """The file of a stored attachment (raises FileNotFoundError when it is gone)."""
    path = _absolute(relative)
    if not path.is_file():
        raise FileNotFoundError(relative)
    return path


def write(attachment_id: uuid.UUID, data: bytes, written: list[Path]) -> str:
    """Writes the bytes under a name of their own (never the sender's), appends the path to
    `written` (deleted by the caller if its transaction fails); the path relative to
    ATTACHMENT_DIR."""
    relative = f"{attachment_id.hex[:2]}/{attachment_id.hex}"
    path = _absolute(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".part")
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
    written.append(path)
    return relative


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remove(paths: Iterable[Path]) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            logger.warning("could not delete attachment file %s", path, exc_info=True)


def remove_after_commit(relatives: Iterable[str]) -> None:
    """Deletes stored files once the transaction that deleted their rows commits (a rollback
    keeps rows and files together)."""
    paths = []
    for relative in relatives:
        if relative:
            try:
                paths.append(_absolute(relative))
            except ValueError:
                logger.warning("not deleting %r: outside ATTACHMENT_DIR", relative)
    if paths:
        transaction.on_commit(partial(remove, paths))
