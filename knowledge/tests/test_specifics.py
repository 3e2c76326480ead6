"""Example specifics in KB text: found, flagged at ingest, listed and filtered in admin; titles do
not end sentences."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client

from knowledge.chunking import split_units
from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.models import DocumentSource, KBDocument
from knowledge.specifics import find_specifics, generalise, unsupported
from support.learning import answers
from support.learning.observations import Observation


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
        ("1,299.50 usd, costs,5 eur or 1,,5 gbp", ["1,299.50 usd", "5 eur", "5 gbp"]),
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


def test_numbers_in_a_list_are_generalised_in_linear_time() -> None:
    # The amount pattern re-read "1,1,1,…" from each digit: 9 s for 20 kB (a 32 kB message held
    # the learning observer 25 s).
    for text in ["1," * 10_000, ",".join(str(n) for n in range(5_000))]:
        started = time.perf_counter()
        generalise(text)
        assert time.perf_counter() - started < 1.0


def test_the_learning_loop_generalises_only_what_it_can_keep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """answers.observe keeps 2,000 characters of the question and 8,000 of the answer: it
    generalises twice that, cut at a space, and keeps what generalising it all kept."""
    seen: list[str] = []

    def spy(text: str) -> str:
        seen.append(text)
        return generalise(text)

    monkeypatch.setattr(answers, "generalise", spy)
    monkeypatch.setattr(answers, "_already_answered", lambda observation: True)
    question = "where is it? " * 307 + "jo@example.com asks " * 10  # the cut at 4,000 goes
    assert question[3_991:4_005] == "jo@example.com"  # through an address
    answer = "It ships Monday, Ms. Hawkings; call +1 (800) 555-0199. " * 2_000
    observation = Observation(question, answer, conversation_id="c1", draft_id=None)

    assert answers.observe(observation) is None  # already answered: nothing proposed

    assert [len(text) for text in seen] == [3_991, 15_995]  # 2 x 2,000 and 2 x 8,000 at most
    # Cut at a space: no part of an address or a number left for generalise() to miss.
    assert seen[0].endswith("where is it? ")  # not "… jo@example.co", which is no address
    assert answers._generalised(question, 2_000) == generalise(question)[:2_000]
    assert answers._generalised(answer, 8_000) == generalise(answer)[:8_000]
