"""Admin forms that check what a model field alone cannot."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from support.models import BusinessProfile


class BusinessProfileForm(forms.ModelForm):
    class Meta:
        model = BusinessProfile
        fields = [
            "company_name",
            "website_url",
            "support_phone",
            "support_email",
            "support_hours",
            "live_chat_label",
            "labels",
        ]

    def clean_labels(self) -> dict[str, str]:
        """A JSON object of text to text: every draft reads it as placeholder -> label
        (agents/placeholders.py), and a number or a list there stopped every draft run."""
        labels: Any = self.cleaned_data.get("labels")
        if labels in (None, "", [], {}):
            return {}
        if not isinstance(labels, dict):
            raise ValidationError(
                "Labels must be a JSON object of placeholder names and labels, e.g. "
                '{"Online Order Interaction": "Order History"}.',
                code="labels_not_object",
            )
        wrong = [
            name
            for name, label in labels.items()
            if not isinstance(name, str) or not isinstance(label, str)
        ]
        if wrong:
            raise ValidationError(
                "Each label must be text (in quotes): not %(names)s.",
                code="label_not_text",
                params={"names": ", ".join(f'"{name}"' for name in wrong)},
            )
        return labels
