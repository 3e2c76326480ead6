"""The embedding model runs once per draft's triage (issue #30): every text triage reads (the
message, its follow-up reading with the previous turn, what it says besides its question) is
embedded in one forward pass, and the KB search then finds its query's vector cached."""

from __future__ import annotations

import pytest

from agents.nodes.triage import texts_read, triage_node
from agents.providers.extractive import ExtractiveProvider
from agents.services import default_services
from agents.state import Turn
from agents.state_builder import build_state
from knowledge import embeddings
from knowledge.search import clean_query

HISTORY: list[Turn] = [
    {"role": "CUSTOMER", "body": "I ordered a kettle last week."},
    {"role": "AGENT", "body": "Thanks, we have your order."},
]


def test_texts_read_lists_every_reading() -> None:
    message = "It arrived broken. Can I get a refund?"
    texts = texts_read(message, HISTORY)
    assert texts[0] == message
    assert f"I ordered a kettle last week.\n{message}" in texts  # the follow-up reading
    assert "It arrived broken." in texts  # what it says besides its question
    assert texts_read("How do I change my address?", []) == ["How do I change my address?"]


@pytest.mark.parametrize(
    "message, history",
    [
        ("It arrived broken. Can I get a refund?", HISTORY),
        ("and how long does that take?", HISTORY),
        ("Where is my order?\n\nI would like to track it.", []),
    ],
)
def test_triage_embeds_in_one_pass_and_the_search_query_is_cached(
    encoder_calls: list[list[str]], message: str, history: list[Turn]
) -> None:
    services = default_services(drafter=ExtractiveProvider())
    update = triage_node(build_state(message, history), services)
    assert len(encoder_calls) == 1, encoder_calls
    # What retrieve searches for (knowledge/search.py cleans it first) is already embedded.
    assert embeddings._query_vectors.get(clean_query(update["context_text"])) is not None
