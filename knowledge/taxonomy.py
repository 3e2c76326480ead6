"""The intents and categories Resolver knows: those of the KB's articles and of the triage
examples agents added. What an agent may re-label a draft as."""

from __future__ import annotations

from knowledge.models import KBDocument, TriageExample


def taxonomy() -> dict[str, str]:
    """Intent -> category."""
    pairs = KBDocument.objects.exclude(intent="").values_list("intent", "category").distinct()
    examples = TriageExample.objects.values_list("intent", "category").distinct()
    return {intent: category for intent, category in [*examples, *pairs]}
