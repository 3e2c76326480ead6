"""The console's kill switch for auto-send (#29): one row a lead flips on the Autonomy page,
without a deploy. AUTONOMY_ENABLED (the environment) stays the master: auto-send runs only when
both are on (support/autonomy/switch.py)."""

from __future__ import annotations

from django.db import models


class AutonomySwitch(models.Model):
    """A singleton (pk=1); until someone flips it there is no row and the switch is on (the
    environment alone decides)."""

    on = models.BooleanField(default=True)
    changed_by = models.CharField(max_length=150, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "autonomy switch"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="autonomy_switch_singleton")
        ]

    def __str__(self) -> str:
        return "on" if self.on else "off"

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)  # type: ignore[arg-type]
