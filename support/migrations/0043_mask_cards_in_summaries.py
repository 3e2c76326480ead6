"""Masks the card numbers and IBANs that extractive summaries written before copied whole (an
LLM's summaries already had them masked): a summary keeps only their last four characters."""

from __future__ import annotations

from typing import Any

from django.db import migrations

BATCH = 500


def mask_summaries(apps: Any, schema_editor: Any) -> None:
    # The product's own matcher (Luhn, IBAN check digits): a migration's copy would drift from
    # what new summaries get. Only summaries with 13 or more digits in a row (spaces and dashes
    # between them) or an IBAN's country and check digits are read: every summary has a year.
    from django.db.models import Q

    from resolver.redaction import mask_cards

    conversation = apps.get_model("support", "Conversation")
    maybe = Q(summary__regex=r"[0-9][0-9 -]{11,}[0-9]") | Q(summary__iregex=r"[a-z]{2}[0-9]{2}")
    rows = conversation.objects.filter(maybe).values_list("pk", "summary")
    changed = []
    for pk, summary in rows.iterator(chunk_size=BATCH):
        masked = mask_cards(summary)
        if masked != summary:
            changed.append(conversation(pk=pk, summary=masked))
        if len(changed) >= BATCH:
            conversation.objects.bulk_update(changed, ["summary"])
            changed = []
    conversation.objects.bulk_update(changed, ["summary"])


class Migration(migrations.Migration):
    dependencies = [("support", "0042_draft_evidence_index")]

    operations = [migrations.RunPython(mask_summaries, migrations.RunPython.noop, elidable=True)]
