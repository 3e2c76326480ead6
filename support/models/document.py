"""What the worker read in an attachment (support/documents/read.py): one row per attachment,
written once. Its text and fields are the customer's claim, never policy; erasure deletes the row
with its attachment's (support/personal_data.py)."""

from __future__ import annotations

from django.db import models

from support.vocabulary import DocumentStatus

# The most text kept of one document: what a draft and the console need of an invoice or a
# receipt, not a book.
TEXT_MAX_CHARS = 20_000


class DocumentReading(models.Model):
    attachment = models.OneToOneField(
        "support.Attachment", on_delete=models.CASCADE, related_name="reading"
    )
    status = models.CharField(max_length=16, choices=DocumentStatus.choices)
    text = models.TextField(blank=True)  # at most TEXT_MAX_CHARS
    # Kind → values found (support/documents/fields.py: order_numbers, amounts, totals, ...).
    fields = models.JSONField(default=dict, blank=True)
    # Each {"field", "document", "record", "order"?}: where the document and our records differ.
    mismatches = models.JSONField(default=list, blank=True)
    # Why it was not read (an image, a type we do not read) or failed (encrypted, too many pages).
    error = models.CharField(max_length=500, blank=True)
    pages = models.PositiveIntegerField(null=True, blank=True)
    read_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=DocumentStatus.values),
                name="document_reading_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attachment_id}: {self.status}"
