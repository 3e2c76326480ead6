"""The per-intent auto-send policy, edited in admin; applied by support/autosend.py."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models

from knowledge.taxonomy import UnknownIntent, check_intent


class AutoSendRule(models.Model):
    """Per intent, off by default: a SUGGESTED draft whose guard passed and whose confidence is
    above the threshold goes to the customer without a human. Escalations always wait."""

    intent = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=False)
    min_confidence = models.FloatField(
        default=0.9, help_text="Send only drafts with a confidence above this (0-1)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(min_confidence__gte=0.0, min_confidence__lte=1.0),
                name="autosendrule_confidence_between_0_and_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.intent}: {'on' if self.enabled else 'off'} above {self.min_confidence}"

    def clean(self) -> None:
        # A rule for an intent triage never gives would never send anything, silently.
        try:
            check_intent(self.intent)
        except UnknownIntent as exc:
            raise ValidationError({"intent": str(exc)}) from None
