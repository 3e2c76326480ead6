"""The business profile: the company facts drafts may state (name, contact channels, hours, URLs)
and the names of buttons and pages in the company's own UI. One row, edited in admin."""

from __future__ import annotations

from django.db import models


def default_labels() -> dict[str, str]:
    # What the knowledge base's UI placeholders are called in this shop's site; admins rename.
    return {
        "Online Order Interaction": "Order History",
        "Online Company Portal Info": "account page",
        "Online Payment Interaction": "Payment Methods",
        "Online Navigation Step": "Account Settings",
        "Online Customer Support Channel": "Live Chat",
    }


class BusinessProfile(models.Model):
    """A singleton (pk=1), saved when an admin edits it; until then `BusinessProfile.load()`
    gives the demo values unsaved."""

    company_name = models.CharField(max_length=200, default="Northwind Outfitters")
    website_url = models.URLField(default="https://shop.example.com")
    support_phone = models.CharField(max_length=64, default="+1 555 0100")
    support_email = models.EmailField(default="support@example.com")
    support_hours = models.CharField(
        max_length=200, default="Monday to Friday, 9:00 to 18:00 (CET)"
    )
    live_chat_label = models.CharField(
        max_length=200, default="Live Chat", help_text="What the chat entry point is called."
    )
    labels = models.JSONField(
        default=default_labels,
        blank=True,
        help_text="Knowledge-base placeholder → the label customers see, e.g. "
        '{"Online Order Interaction": "Order History"}. Placeholders with no value here or in '
        "the fields above are rephrased or dropped from drafts, never shown.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "business profile"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="profile_singleton")]

    def __str__(self) -> str:
        return self.company_name

    def save(self, *args: object, **kwargs: object) -> None:
        self.pk = 1
        super().save(*args, **kwargs)  # type: ignore[arg-type]

    @classmethod
    def load(cls) -> BusinessProfile:
        # Reads only: the graph calls it and writes nothing (agents/tests/test_node_purity.py).
        return cls.objects.filter(pk=1).first() or cls()

    def values(self) -> dict[str, str]:
        """Profile fields by name, as the placeholder filler reads them."""
        return {
            "company_name": self.company_name,
            "website_url": self.website_url,
            "support_phone": self.support_phone,
            "support_email": self.support_email,
            "support_hours": self.support_hours,
            "live_chat": self.live_chat_label,
        }
