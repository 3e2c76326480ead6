"""What an LLM provider may quote and cite (agents/providers/chat.py): customer-facing articles
only. An internal POLICY note is the agents' instructions, never a numbered source of the reply
(the extractive provider never quotes one either)."""

from __future__ import annotations

from agents.entities import Entities
from agents.facts import CustomerFacts
from agents.profile import Profile
from agents.providers.base import DraftRequest
from agents.providers.chat import build_messages
from agents.tests.conftest import llm_json, scripted
from agents.triage.service import Triage
from knowledge.search import SearchHit


def _hit(kb_id: int, title: str, category: str, content: str) -> SearchHit:
    return SearchHit(
        kb_id=kb_id,
        title=title,
        snippet="",
        intent="get_refund",
        category=category,
        score=0.9,
        content=content,
    )


POLICY_NOTE = _hit(
    7,
    "Refund rules for agents",
    "POLICY",
    "Steps an agent must take: pull up the account, refunds over 50 need a team lead.",
)
ARTICLE = _hit(
    8, "Refunds", "REFUND", "Refunds reach your card within 5 business days of our approval."
)


def _request() -> DraftRequest:
    return DraftRequest(
        message="when will my refund arrive?",
        history=[],
        triage=Triage("get_refund", "REFUND", "NEUTRAL", "NORMAL", 0.9, {}),
        evidence=[POLICY_NOTE, ARTICLE],
        facts=CustomerFacts(),
        entities=Entities(),
        profile=Profile(
            values=dict.fromkeys(("support_phone", "support_email", "support_hours"), "")
        ),
        retrieval_confidence=0.8,
    )


def test_an_internal_policy_note_is_not_given_to_the_model_as_a_source() -> None:
    prompt = str(build_messages(_request())[1].content)
    assert "[1] Refunds" in prompt
    assert "Refund rules for agents" not in prompt and "team lead" not in prompt


def test_source_numbers_name_the_customer_facing_articles() -> None:
    """[1] is the first article the model was given: the customer-facing one, cited as such;
    a [2] would be beyond the sources and is refused as invalid output."""
    drafted = scripted(llm_json("Refunds reach your card within 5 business days [1].", [1]))
    answer = drafted.draft(_request())
    assert [c["kb_id"] for c in answer.citations] == [ARTICLE.kb_id]

    beyond = scripted(*[llm_json("See the rules [2].", [2])] * 2).draft(_request())
    assert beyond.invalid and not beyond.citations
