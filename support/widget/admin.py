"""Admin for widget keys (origins one per line, the script tag to paste)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.html import format_html

from support.models import WidgetKey
from support.models.widget import normalise_origin


class WidgetKeyForm(forms.ModelForm):
    origins = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Sites that may embed the widget, one origin per line "
        "(https://shop.example, http://localhost:8080).",
    )

    class Meta:
        model = WidgetKey
        fields = ["name", "company_name", "colour", "greeting", "active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["origins"].initial = "\n".join(self.instance.allowed_origins or [])

    def clean_origins(self) -> list[str]:
        origins = []
        for line in self.cleaned_data["origins"].splitlines():
            if line.strip():
                try:
                    origins.append(normalise_origin(line))
                except ValueError as exc:
                    raise forms.ValidationError(str(exc)) from None
        return sorted(set(origins))

    def save(self, commit: bool = True) -> Any:
        self.instance.allowed_origins = self.cleaned_data["origins"]
        return super().save(commit)


@admin.register(WidgetKey)
class WidgetKeyAdmin(admin.ModelAdmin):
    form = WidgetKeyForm
    list_display = ["name", "public_key", "origins_list", "company_name", "active"]
    list_filter = ["active"]
    readonly_fields = ["public_key", "embed", "created_at"]

    @admin.display(description="Allowed origins")
    def origins_list(self, key: WidgetKey) -> str:
        return ", ".join(key.allowed_origins) or "(none: the widget is refused everywhere)"

    @admin.display(description="Paste into your site")
    def embed(self, key: WidgetKey) -> str:
        if not key.pk:
            return "(saved keys show their script tag here)"
        tag = key.script_tag("https://RESOLVER-HOST")
        return format_html("<code>{}</code><br>with RESOLVER-HOST this server's address", tag)
