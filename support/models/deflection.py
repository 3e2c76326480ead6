"""A deflection: a widget visitor read a help article the widget suggested while they typed
and said it answered their question, so no message was sent (issue #31). Nothing personal: the
article, the widget key, when, and a keyed hash of what they had typed (the same words count
together; the words themselves are not kept)."""

from __future__ import annotations

from django.db import models


class Deflection(models.Model):
    # SET_NULL: an article deleted later still leaves its deflections counted.
    article = models.ForeignKey(
        "knowledge.KBDocument", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    widget_key = models.ForeignKey(
        "support.WidgetKey", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # HMAC-SHA256 (under SECRET_KEY) of the normalised query: a dictionary of likely questions
    # cannot reverse it without the key. Blank when nothing was typed.
    query_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"], name="deflection_created_idx")]

    def __str__(self) -> str:
        return f"deflection {self.pk} by article {self.article_id}"
