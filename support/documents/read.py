"""Reading a message's attachments (the worker, agents/runner.py, before it builds the state): the
text of a PDF (its text layer, in a bounded child process: pdf_child.py), of plain text and CSV;
an image is listed, not read (no OCR). The fields found are compared with the verified customer's
orders. Each attachment is read once: its DocumentReading row says so."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from django.conf import settings

from support.customers import customer_of
from support.documents.compare import OrderRecord, mismatches
from support.documents.fields import find_fields
from support.documents.records import customer_orders
from support.email.attachments import StoredFileTooLarge, local_file, open_stored
from support.models import Attachment, DocumentReading, Message
from support.models.document import TEXT_MAX_CHARS
from support.vocabulary import DocumentStatus

logger = logging.getLogger(__name__)

PDF = "application/pdf"
TEXT_TYPES = frozenset({"text/plain", "text/csv"})
# The child's address space: pypdf needs tens of MB; a decompression bomb gets no further.
CHILD_MEMORY_BYTES = 768 * 1024 * 1024
# The most bytes of a text file decoded (a character is at most 4 bytes in UTF-8).
TEXT_MAX_BYTES = TEXT_MAX_CHARS * 4
_CHILD = Path(__file__).with_name("pdf_child.py")
# A message's documents share one time budget (a run has AGENT_RUN_TIME_LIMIT_SECONDS in all) and
# at most this many are read: an e-mail with a hundred PDFs does not hold a worker for an hour.
MAX_DOCUMENTS = 10
BUDGET_FACTOR = 3  # times DOCUMENT_READ_SECONDS, for all of a message's documents


def read_attachments(message_id: uuid.UUID | str) -> list[DocumentReading]:
    """Reads the attachments of the message not read yet (idempotent; a reading another worker
    wrote meanwhile wins). Each reading is saved as it is done, so a run stopped midway (its
    time limit) does not read the same files again. Returns the readings written now."""
    pending = list(
        Attachment.objects.filter(message_id=message_id, reading__isnull=True).order_by(
            "created_at", "id"
        )
    )
    if not pending:
        return []
    message = Message.objects.select_related("conversation__customer").get(pk=message_id)
    orders = customer_orders(customer_of(message))
    already = Attachment.objects.filter(message_id=message_id, reading__isnull=False).count()
    deadline = time.monotonic() + settings.DOCUMENT_READ_SECONDS * BUDGET_FACTOR
    readings: list[DocumentReading] = []
    unread: list[DocumentReading] = []  # written together at the end: nothing to lose
    for number, attachment in enumerate(pending, start=already + 1):
        if number > MAX_DOCUMENTS:
            why = f"more than {MAX_DOCUMENTS} documents in one message"
            unread.append(_not_read(attachment, why))
        elif time.monotonic() >= deadline:
            unread.append(_not_read(attachment, "the message's time for documents was used up"))
        else:
            reading = read_one(attachment, orders, deadline)
            DocumentReading.objects.bulk_create([reading], ignore_conflicts=True)
            readings.append(reading)
    DocumentReading.objects.bulk_create(unread, ignore_conflicts=True)
    return readings + unread


def fail_unread(message_id: uuid.UUID | str, why: str) -> int:
    """Records the message's attachments not read yet as failed (the worker, when reading them
    raised: the run goes on without them and the draft lists them as failed). Returns how many."""
    pending = Attachment.objects.filter(message_id=message_id, reading__isnull=True)
    readings = [
        DocumentReading(attachment=a, status=DocumentStatus.FAILED, error=why[:500])
        for a in pending
    ]
    DocumentReading.objects.bulk_create(readings, ignore_conflicts=True)
    return len(readings)


def _not_read(attachment: Attachment, why: str) -> DocumentReading:
    return DocumentReading(attachment=attachment, status=DocumentStatus.NOT_READ, error=why)


def read_one(
    attachment: Attachment,
    orders: dict[str, OrderRecord],
    deadline: float | None = None,
) -> DocumentReading:
    """The reading of one attachment (not saved). Never raises for what the file holds."""
    status, text, error, pages = _extract(attachment, deadline)
    fields = find_fields(text) if text else {}
    return DocumentReading(
        attachment=attachment,
        status=status,
        text=text,
        fields=fields,
        mismatches=mismatches(fields, orders),
        error=error[:500],
        pages=pages,
    )


def _extract(
    attachment: Attachment, deadline: float | None = None
) -> tuple[DocumentStatus, str, str, int | None]:
    """(status, text, error, pages)."""
    kind = attachment.content_type
    if not attachment.is_stored:
        return DocumentStatus.NOT_READ, "", f"not kept: {attachment.skipped}", None
    if kind.startswith("image/"):
        return DocumentStatus.NOT_READ, "", "an image: no OCR", None
    if kind != PDF and kind not in TEXT_TYPES:
        return DocumentStatus.NOT_READ, "", f"{kind} is not read", None
    # The file, from the attachments storage: the PDF reader's child process takes a local path
    # (the file itself on disk, or a temporary copy of what a remote storage holds).
    with ExitStack() as stack:
        try:
            if kind == PDF:
                path = stack.enter_context(local_file(attachment.path))
            else:
                handle = stack.enter_context(open_stored(attachment.path))
        except (FileNotFoundError, ValueError):
            return DocumentStatus.FAILED, "", "the file is gone", None
        except StoredFileTooLarge:
            return DocumentStatus.FAILED, "", "larger than ATTACHMENT_MAX_BYTES", None
        if kind == PDF:
            return _pdf(path, deadline)
        data = handle.read(TEXT_MAX_BYTES)
    text = storable(data.decode("utf-8", errors="replace"))
    return DocumentStatus.READ, text[:TEXT_MAX_CHARS], "", None


def storable(text: str) -> str:
    """Text PostgreSQL can store: no lone surrogate (UTF-8 cannot encode it: the save would raise
    UnicodeEncodeError and every retry of the run with it), no NUL (refused in a text column)."""
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def _pdf(path: Path, deadline: float | None = None) -> tuple[DocumentStatus, str, str, int | None]:
    limit = float(settings.DOCUMENT_READ_SECONDS)
    if deadline is not None:  # what is left of the message's budget, if less
        limit = max(0.01, min(limit, deadline - time.monotonic()))
    command = [
        sys.executable,
        "-I",  # isolated: no PYTHONPATH, no current directory, no user site
        str(_CHILD),
        str(path),
        str(settings.DOCUMENT_MAX_PAGES),
        str(TEXT_MAX_CHARS),
        str(CHILD_MEMORY_BYTES),
        str(math.ceil(limit) + 1),  # its CPU, should this process die before it can kill it
        str(os.getpid()),
    ]
    # What the reader says besides its answer goes to a file, of which the end is read: held in
    # memory, a PDF that makes it talk held hundreds of megabytes in the worker.
    with tempfile.TemporaryFile() as errors:
        try:
            done = subprocess.run(
                command,
                stdout=subprocess.PIPE,
                stderr=errors,
                timeout=limit,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return DocumentStatus.FAILED, "", f"took longer than {limit:g} s to read", None
        try:
            result = json.loads(done.stdout)
        except ValueError:
            # Killed (memory, CPU) or crashed before it could answer.
            errors.seek(max(0, errors.seek(0, os.SEEK_END) - 300))
            logger.warning("pdf reader exited %s: %s", done.returncode, errors.read())
            return DocumentStatus.FAILED, "", f"the reader stopped (exit {done.returncode})", None
    pages = result.get("pages")
    if result.get("ok") is not True:
        return DocumentStatus.FAILED, "", storable(str(result.get("error") or "unreadable")), pages
    # The child cleans its text too; what comes back through JSON is cleaned again (a "\\ud800"
    # escape decodes to a lone surrogate), so a change there cannot make a reading unsavable.
    return DocumentStatus.READ, storable(str(result.get("text") or "")), "", pages
