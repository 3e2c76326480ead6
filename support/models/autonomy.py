"""An intent's rung on the autonomy ladder (#29): whether its drafts wait for a human or go out
alone, since when, and why it was last taken back. The evidence behind the rung is computed from
the team's reviews (support/autonomy/evidence.py); promotions and demotions are
support/autonomy/ladder.py's, audited."""

from __future__ import annotations

from django.db import models

from support.vocabulary import AutonomyMode, DemotionReason


class IntentAutonomyQuerySet(models.QuerySet["IntentAutonomy"]):
    def auto(self) -> IntentAutonomyQuerySet:
        return self.filter(mode=AutonomyMode.AUTO, allowed=True)


class IntentAutonomy(models.Model):
    intent = models.CharField(max_length=64, unique=True)
    mode = models.CharField(max_length=8, choices=AutonomyMode.choices, default=AutonomyMode.REVIEW)
    # The team's switch for this intent: off = never sent alone, whatever the evidence.
    allowed = models.BooleanField(default=True)
    # When the intent entered its current mode (CONTRACTS.md GET /autonomy "since").
    since = models.DateTimeField(null=True, blank=True)
    # A newly promoted intent sends only AUTONOMY_CANARY_SHARE of its drafts alone.
    canary = models.BooleanField(default=False)
    # The confidence above which its drafts may go alone, calibrated on its own reviewed drafts
    # when it was promoted (support/autonomy/evidence.py).
    min_confidence = models.FloatField(null=True, blank=True)
    demoted_at = models.DateTimeField(null=True, blank=True)
    demoted_reason = models.CharField(max_length=16, choices=DemotionReason.choices, blank=True)
    # The draft whose take-back signal demoted it (gone if that draft was erased).
    demoted_draft = models.ForeignKey(
        "support.Draft", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = IntentAutonomyQuerySet.as_manager()

    class Meta:
        ordering = ["intent"]
        verbose_name_plural = "intent autonomy"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(mode__in=AutonomyMode.values), name="intentautonomy_mode_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(demoted_reason__in=[*DemotionReason.values, ""]),
                name="intentautonomy_reason_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(min_confidence__isnull=True)
                | models.Q(min_confidence__gte=0.0, min_confidence__lte=1.0),
                name="intentautonomy_confidence_between_0_and_1",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.intent}: {self.mode}"

    @property
    def is_auto(self) -> bool:
        return self.mode == AutonomyMode.AUTO and self.allowed
