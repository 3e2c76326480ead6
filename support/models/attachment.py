"""A file a customer's e-mail carried (support/email/attachments.py). The bytes live in the
attachments storage (settings.STORAGES["attachments"], any Django storage backend: by default a
FileSystemStorage at settings.ATTACHMENT_DIR); erasure and retention delete the file with the
row."""

from __future__ import annotations

import uuid

from django.db import models


class AttachmentSkip(models.TextChoices):
    """Why a part's bytes were not kept (the row still says the e-mail carried it)."""

    TOO_LARGE = "too_large", "Larger than ATTACHMENT_MAX_BYTES"


class Attachment(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    message = models.ForeignKey(
        "support.Message", on_delete=models.CASCADE, related_name="attachments"
    )
    filename = models.CharField(max_length=255)  # made safe: no directories, no control characters
    # Sniffed from the bytes (filetype); what the e-mail claimed is kept apart and not trusted.
    content_type = models.CharField(max_length=255)
    declared_type = models.CharField(max_length=255, blank=True)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # The file's name in the attachments storage, "ab/abcdef…" from the id (on the default
    # storage, its path relative to settings.ATTACHMENT_DIR); empty when the bytes were not kept
    # (`skipped`).
    path = models.CharField(max_length=255, blank=True)
    skipped = models.CharField(max_length=16, choices=AttachmentSkip.choices, blank=True)
    # Without angle brackets: the HTML's `cid:` references point at it, whatever the disposition.
    content_id = models.CharField(max_length=998, blank=True)
    inline = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(skipped__in=[*AttachmentSkip.values, ""]),
                name="attachment_skipped_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(skipped="") ^ models.Q(path=""),
                name="attachment_path_iff_stored",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.content_type}, {self.size} bytes)"

    @property
    def is_stored(self) -> bool:
        return not self.skipped

    def as_wire(self) -> dict[str, object]:
        """The message's `attachments` item (CONTRACTS.md)."""
        return {
            "id": str(self.pk),
            "filename": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }
