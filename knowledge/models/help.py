"""The public help center's categories: what a team needs to show a KB category to customers
(its title, its place on the home page) or switch it off. Articles name their category by code
(KBDocument.category); a category without a row is shown, titled after its code."""

from __future__ import annotations

from django.db import models


class HelpCategoryQuerySet(models.QuerySet["HelpCategory"]):
    def enabled(self) -> HelpCategoryQuerySet:
        return self.filter(enabled=True)


class HelpCategory(models.Model):
    code = models.CharField(
        max_length=64, unique=True, help_text="The articles' category, e.g. ORDER."
    )
    title = models.CharField(max_length=120, blank=True, help_text="Shown to customers.")
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=100, help_text="Lower comes first.")
    # The admin's switch per category: off hides every article of it from the help center.
    enabled = models.BooleanField(default=True, help_text="Shown in the public help center.")

    objects = HelpCategoryQuerySet.as_manager()

    class Meta:
        verbose_name = "help center category"
        verbose_name_plural = "help center categories"
        ordering = ["position", "code"]

    def __str__(self) -> str:
        return self.shown_title

    @property
    def shown_title(self) -> str:
        return self.title or title_of(self.code)


def title_of(code: str) -> str:
    """ "ORDER" → "Order", "SHIPPING_ADDRESS" → "Shipping address"."""
    return code.replace("_", " ").strip().capitalize() or "General"
