"""train_triage adds the triage examples agents taught to its training rows, never to the dev
split that measures it."""

from __future__ import annotations

import pytest

from agents.management.commands.train_triage import (
    LEARNED_REPEAT,
    learned_rows,
    training_rows,
)
from knowledge.models import TriageExample


@pytest.mark.django_db
def test_taught_examples_train_and_never_measure() -> None:
    TriageExample.objects.create(text="parcel never came", intent="delivery_period", category="")
    TriageExample.objects.create(text="where is my box", intent="lost_parcel", category="")
    templates = [
        {"text": f"how do I cancel order {n}", "intent": "cancel_order", "category": "ORDER"}
        for n in range(40)
    ] + [
        {"text": f"when will order {n} arrive", "intent": "delivery_period", "category": "DELIVERY"}
        for n in range(40)
    ]
    learned = learned_rows()
    train, dev, categories = training_rows(templates, learned)
    taught = [r for r in train if r["text"] in {"parcel never came", "where is my box"}]
    assert len(taught) == 2 * LEARNED_REPEAT
    assert not any(r in dev for r in learned)
    assert len(train) + len(dev) == len(templates) + 2 * LEARNED_REPEAT
    # A template's category wins; a new intent of the agents' gets one too.
    assert categories == {
        "cancel_order": "ORDER",
        "delivery_period": "DELIVERY",
        "lost_parcel": "other",
    }
