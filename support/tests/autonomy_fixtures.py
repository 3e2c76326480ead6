"""Autonomy in tests: an intent put on the `auto` rung directly (as if its evidence had earned
it), and a human's review of a draft, for the ladder's evidence."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from support.models import Draft, IntentAutonomy
from support.vocabulary import AutonomyCustomers, AutonomyMode


def make_auto(
    intent: str,
    settings: Any,
    min_confidence: float = 0.0,
    customers: str = AutonomyCustomers.ANYONE,
    **fields: Any,
) -> Any:
    """`intent` on the auto rung (no canary unless asked), AUTONOMY_ENABLED on. `customers`:
    AUTONOMY_CUSTOMERS, `anyone` here (the default is `verified`) since these tests' senders
    are not verified; test_autosend covers the verified-only rule."""
    settings.AUTONOMY_ENABLED = True
    settings.AUTONOMY_CUSTOMERS = customers
    values = {
        "mode": AutonomyMode.AUTO,
        "allowed": True,
        "canary": False,
        "since": timezone.now(),
        "min_confidence": min_confidence,
        **fields,
    }
    row, _ = IntentAutonomy.objects.update_or_create(intent=intent, defaults=values)
    return row


def reload(draft: Draft) -> Draft:
    draft.refresh_from_db()
    return draft
