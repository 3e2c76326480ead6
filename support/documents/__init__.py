"""Documents a customer sent (attachments): read in the worker, their fields found and compared
with the customer's records. A document is the customer's claim, never policy."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from support.vocabulary import DocumentStatus

if TYPE_CHECKING:
    from support.models import Message


@dataclass(frozen=True)
class DocumentFacts:
    """What a draft knows of one attachment: its text (when read), the fields found in it and
    where they disagree with our records (each {"field", "document", "record"})."""

    attachment_id: uuid.UUID
    filename: str
    status: DocumentStatus
    text: str = ""
    fields: dict[str, list[str]] = field(default_factory=dict)
    mismatches: tuple[dict[str, Any], ...] = ()

    def as_context(self) -> dict[str, Any]:
        """Its entry in the Draft's context.documents (no text: the console links the file)."""
        return {
            "attachment_id": str(self.attachment_id),
            "filename": self.filename,
            "status": self.status,
            "fields": self.fields,
            "mismatches": list(self.mismatches),
        }


def documents_for(message: Message) -> list[DocumentFacts]:
    """The documents attached to `message`, as the worker read them (support/documents/read.py:
    read_attachments runs before the state is built), in the order the e-mail carried them.
    Their mismatches are compared again with the customer's orders as they are now (a store
    that corrected an order's total since the reading; the reading's own column keeps what was
    found then)."""
    from support.customers import customer_of
    from support.documents.compare import mismatches
    from support.documents.records import customer_orders
    from support.models import DocumentReading

    readings = list(
        DocumentReading.objects.filter(attachment__message_id=message.pk)
        .select_related("attachment")
        .order_by("attachment__created_at", "attachment_id")
    )
    orders = customer_orders(customer_of(message)) if readings else {}
    return [
        DocumentFacts(
            attachment_id=reading.attachment_id,
            filename=reading.attachment.filename,
            status=DocumentStatus(reading.status),
            text=reading.text,
            fields=dict(reading.fields or {}),
            mismatches=tuple(mismatches(reading.fields or {}, orders)),
        )
        for reading in readings
    ]


def mismatches_in(context: Any) -> list[dict[str, Any]]:
    """The mismatches of a Draft's context (its documents'), for auto-send and the console."""
    documents = context.get("documents", []) if isinstance(context, dict) else []
    return [m for d in documents if isinstance(d, dict) for m in d.get("mismatches") or []]
