"""A customer's rating of an agent's reply (thumbs up or down, optional comment), from the widget.
One per reply: rating it again changes the rating. The dashboard's CSAT is the share of ups."""

from __future__ import annotations

from django.db import models


class CustomerRating(models.Model):
    conversation = models.ForeignKey(
        "support.Conversation", on_delete=models.CASCADE, related_name="ratings"
    )
    # The agent reply rated (the latest one when the customer rated).
    message = models.ForeignKey("support.Message", on_delete=models.CASCADE, related_name="+")
    score = models.SmallIntegerField(help_text="1 (thumbs up) or -1 (thumbs down)")
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(score__in=(1, -1)), name="rating_score_valid"
            ),
            models.UniqueConstraint(fields=["message"], name="rating_one_per_reply"),
        ]
        indexes = [models.Index(fields=["updated_at"], name="rating_updated_idx")]

    def __str__(self) -> str:
        return f"{'+1' if self.score > 0 else '-1'} on {self.message_id}"
