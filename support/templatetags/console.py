"""Template filters of the console. Cheap on purpose: the queue renders them for every row on
every push."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from support.console.why import Why, triage_why
from support.models import Channel, Draft

register = template.Library()

# A glyph per channel beside its label (the label is what a screen reader reads).
CHANNEL_ICONS: dict[str, str] = {Channel.API: "⇄", Channel.WIDGET: "💬", Channel.EMAIL: "✉"}


@register.filter
def waited(since: datetime) -> str:
    """Compact age ("45s", "12m", "3h 5m", "2d"), as console.js keeps it up to date."""
    seconds = max(0, int((timezone.now() - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d"


@register.filter
def channel_icon(channel: str) -> str:
    return CHANNEL_ICONS.get(channel, "•")


@register.filter
def why(draft: Draft) -> dict[str, Why]:
    """The tone chips' probabilities and cues of a queue row (support/console/why.py)."""
    return triage_why(draft)
