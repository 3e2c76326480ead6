"""Example specifics in KB text: found, flagged at ingest, listed and filtered in admin; titles do
not end sentences."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from knowledge.chunking import split_units
from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.models import DocumentSource, KBDocument
from knowledge.specifics import find_specifics, unsupported


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("a restitution of $299 is on its way", ["$299"]),
        ("error SU-35931-1 again", ["SU-35931-1"]),
        ("order 370795561790 ships", ["370795561790"]),
        ("call +1 (800) 555-0199", ["+1 (800) 555-0199"]),
        ("the invoice from Ms. Hawkings", ["Ms. Hawkings"]),
        ("delivered on December 24th or 12/24/2026", ["December 24th", "12/24/2026"]),
        ("within 5-7 business days, open 24 hours", []),
        ("your order {{Order Number}} of {{Amount}}", []),
    ],
)
def test_find_specifics(text: str, found: list[str]) -> None:
    assert find_specifics(text) == found


def test_unsupported_compares_normalised_specifics() -> None:
    assert unsupported("order NW-10001 and $5.00", ["where is order nw10001?"]) == ["$5.00"]


def test_titles_do_not_end_a_sentence() -> None:
    assert split_units("Ask Ms. Hawkings. She knows. Dr. Who too.") == [
        "Ask Ms. Hawkings.",
        "She knows.",
        "Dr. Who too.",
    ]


def test_ingest_flags_and_admin_lists_example_specifics(db: None, admin_client: Client) -> None:
    base: dict[str, Any] = {"source": DocumentSource.JSONL, "category": "REFUND"}
    upsert_documents(
        [
            DocumentSpec(
                external_id="bad",
                title="Refund",
                content="Your refund of $299 is processed.",
                **base,
            ),
            DocumentSpec(
                external_id="good", title="Refund policy", content="Refunds take 5 days.", **base
            ),
        ]
    )
    assert KBDocument.objects.get(external_id="bad").metadata["example_specifics"] == ["$299"]
    assert "example_specifics" not in KBDocument.objects.get(external_id="good").metadata
    page = admin_client.get("/admin/knowledge/kbdocument/", {"specifics": "yes"}).content.decode()
    assert "$299" in page and ">Refund policy<" not in page
    clean = admin_client.get("/admin/knowledge/kbdocument/", {"specifics": "no"}).content.decode()
    assert ">Refund policy<" in clean and "$299" not in clean
