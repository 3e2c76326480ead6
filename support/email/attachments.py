"""The files an e-mail carries: a safe name, a type sniffed from the bytes (what the e-mail
declares is kept but not trusted), winmail.dat (TNEF) opened into the files inside it, and the
bytes kept in the attachments storage (settings.STORAGES["attachments"]: by default a
FileSystemStorage at settings.ATTACHMENT_DIR), up to ATTACHMENT_MAX_BYTES a part.

Files are written inside the receiving transaction and deleted again if it rolls back (the
caller's `written` list of names); erasure deletes a row's file after its transaction commits."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import filetype
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import Storage, storages
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


# Storage: settings.STORAGES["attachments"] (ATTACHMENT_STORAGE, ATTACHMENT_STORAGE_OPTIONS), any
# Django storage backend (django-storages' S3, GCS, Azure...). The default is a FileSystemStorage at
# ATTACHMENT_DIR. A file's name comes from its attachment's id, "ab/abcdef…" (never the sender's
# filename): on disk, the path relative to ATTACHMENT_DIR that files had before storages.

STORAGE_ALIAS = "attachments"
# What a stored name may be: segments of letters, digits, "_", "-" and ".", joined by "/".
_NAME = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
_COPY_CHUNK = 1 << 20


class StoredFileTooLarge(Exception):
    """A stored file larger than ATTACHMENT_MAX_BYTES, not copied to a local file."""


def storage() -> Storage:
    """The storage attachments' files are kept in."""
    return storages[STORAGE_ALIAS]


def name_for(attachment_id: uuid.UUID) -> str:
    return f"{attachment_id.hex[:2]}/{attachment_id.hex}"


def stored_name(name: str, store: Storage | None = None) -> str:
    """`name` when it stays inside the storage: relative, no "." or ".." segment, no backslash,
    colon or control character; on a storage with local paths, not leading out of its root
    through a symbolic link either. ValueError otherwise."""
    segments = name.split("/")
    if not _NAME.fullmatch(name) or any(s in (".", "..") for s in segments):
        raise ValueError(f"attachment name outside the attachments storage: {name!r}")
    store = store or storage()
    try:
        root = os.path.realpath(store.path(""))
        local = os.path.realpath(store.path(name))
    except NotImplementedError:  # no local paths (S3, GCS, ...): the name is checked above
        return name
    except SuspiciousFileOperation:
        raise ValueError(f"attachment name outside the attachments storage: {name!r}") from None
    if local == root or os.path.commonpath([root, local]) != root:
        raise ValueError(f"attachment name outside the attachments storage: {name!r}")
    return name


def open_stored(name: str) -> File:
    """The stored file of an attachment, open for reading (the caller closes it).
    FileNotFoundError when it is gone, ValueError for a name outside the storage."""
    store = storage()
    name = stored_name(name, store)
    if not store.exists(name):
        raise FileNotFoundError(name)
    return store.open(name, "rb")


@contextmanager
def local_file(name: str) -> Iterator[Path]:
    """A path on this machine holding the stored file, for a reader that needs one (the PDF
    reader's child process): the file itself on a storage with local paths, else a temporary
    copy of its bytes (at most ATTACHMENT_MAX_BYTES, else StoredFileTooLarge), deleted after.
    FileNotFoundError when it is gone, ValueError for a name outside the storage."""
    store = storage()
    name = stored_name(name, store)
    try:
        local = store.path(name)
    except NotImplementedError:
        local = ""
    if local and os.path.isfile(local):
        yield Path(local)
        return
    if not store.exists(name):
        raise FileNotFoundError(name)
    limit = settings.ATTACHMENT_MAX_BYTES
    with (
        store.open(name, "rb") as source,
        tempfile.NamedTemporaryFile(prefix="resolver-attachment-") as copy,
    ):
        copied = 0
        while chunk := source.read(min(_COPY_CHUNK, limit + 1 - copied)):
            copied += len(chunk)
            if copied > limit:
                raise StoredFileTooLarge(f"{name} is larger than ATTACHMENT_MAX_BYTES ({limit})")
            copy.write(chunk)
        copy.flush()
        yield Path(copy.name)


def write(attachment_id: uuid.UUID, data: bytes, written: list[str]) -> str:
    """Saves the bytes under a name of their own (never the sender's) and returns it; the name is
    added to `written` first (the caller deletes those if its transaction fails, a file a failed
    save left half-written included)."""
    store = storage()
    name = name_for(attachment_id)
    written.append(name)
    saved = store.save(name, ContentFile(data))
    if saved != name:  # a backend that chose another name: the row names what it saved
        written.append(saved)
    return saved


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def remove(names: Iterable[str], store: Storage | None = None) -> None:
    """Deletes the stored files (one missing already is no error); a file that cannot be deleted
    is logged, never raised: the caller is cleaning up after a rollback or a commit."""
    store = store or storage()
    for name in names:
        try:
            store.delete(name)
        except Exception:  # OSError on disk, the backend's own errors elsewhere
            logger.warning("could not delete attachment file %s", name, exc_info=True)


def remove_after_commit(names: Iterable[str]) -> None:
    """Deletes stored files once the transaction that deleted their rows commits (a rollback
    keeps rows and files together)."""
    store = storage()
    checked = []
    for name in names:
        if name:
            try:
                checked.append(stored_name(name, store))
            except ValueError:
                logger.warning("not deleting %r: outside the attachments storage", name)
    if checked:
        transaction.on_commit(partial(remove, checked, store))
