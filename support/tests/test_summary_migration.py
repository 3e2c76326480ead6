"""Migration 0043 masks the card numbers and IBANs of summaries written before extractive
summaries masked them, and leaves every other summary as it was."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from support.models import Channel, Conversation

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("support.migrations.0043_mask_cards_in_summaries")


def test_the_migration_masks_cards_and_ibans_in_stored_summaries() -> None:
    summaries = {
        "card": "3 May 2026: the customer wrote:\nrefund card 4111 1111 1111 1111 please",
        "iban": "3 May 2026: the customer wrote:\npay GB82 WEST 1234 5698 7654 32 instead",
        "order": "3 May 2026: the customer wrote:\norder NW-10001, tracking 1Z9999 1234",
        "none": "",
    }
    made = {
        key: Conversation.objects.create(channel=Channel.EMAIL, summary=text)
        for key, text in summaries.items()
    }
    MIGRATION.mask_summaries(apps, None)
    after = {key: Conversation.objects.get(pk=row.pk).summary for key, row in made.items()}
    assert after["card"].endswith("refund card •••• 1111 please")
    assert after["iban"].endswith("pay •••• 5432 instead")
    assert after["order"] == summaries["order"]
    assert after["none"] == ""
