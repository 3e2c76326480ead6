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
    """The documents attached to `message`, as read (none yet: filled by the documents work of
    issue #26)."""
    return []
