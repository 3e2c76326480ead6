"""What the graph does with real-world text beyond store questions (the eval harness measures
the rates; these pin the paths): complaints, praise, other companies' problems, example specifics
in KB articles, third-party personal data, and the calibrated confidence."""

from __future__ import annotations

from dataclasses import replace

import pytest
from langgraph.graph.state import CompiledStateGraph

from agents.facts import CustomerFacts
from agents.graph import build_graph, run_graph
from agents.guard import check_answer
from agents.message_signals import MessageSignals, read_signals
from agents.prompts import NO_REPLY_ACTION
from agents.scoring import Calibration, calibrated, load_calibration
from agents.services import default_services
from agents.state import DraftedAnswer
from agents.state_builder import build_state
from agents.triage.service import Triage
from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.models import DocumentSource, KBDocument
from knowledge.search import SearchHit

COMPLAINT = (
    "I have shopped with you for fifteen years and that ends today. Your support is a disgrace."
)
PRAISE = "Just wanted to say thank you, the team sorted my return in minutes, brilliant service!"


def test_a_complaint_goes_to_a_person_without_a_kb_answer(
    extractive_graph: CompiledStateGraph,
) -> None:
    outcome = run_graph(extractive_graph, build_state(COMPLAINT))
    assert (outcome.status, outcome.escalation_reason) == ("ESCALATED", "customer_complaint")
    assert outcome.answer == ""
    assert "compose" not in outcome.trace
    assert outcome.triage["sentiment"] == "NEGATIVE"


def test_praise_is_acknowledged_without_apology_or_kb(extractive_graph: CompiledStateGraph) -> None:
    outcome = run_graph(extractive_graph, build_state(PRAISE))
    assert outcome.status == "SUGGESTED"
    assert outcome.trace == ["triage", "retrieve", "missing", "propose", "acknowledge", "finalize"]
    assert outcome.answer.startswith("Thank you so much for your kind words!")
    assert "sorry" not in outcome.answer.lower() and outcome.citations == []
    assert outcome.triage["sentiment"] == "POSITIVE"


def test_praise_reply_none_suggests_no_text(agent_kb: object) -> None:
    services = default_services()
    services.settings = replace(services.settings, praise_reply="none")
    outcome = run_graph(build_graph(services), build_state(PRAISE))
    assert (outcome.status, outcome.answer, outcome.suggested_action) == (
        "SUGGESTED",
        "",
        NO_REPLY_ACTION,
    )


def test_another_companys_problem_is_not_drafted_from_the_store_kb(
    extractive_graph: CompiledStateGraph,
) -> None:
    outcome = run_graph(
        extractive_graph,
        build_state("@AcmeAir my flight AA1122 is delayed 3 hours, can you rebook me on AA1126?"),
    )
    assert (outcome.status, outcome.escalation_reason) == ("ESCALATED", "retrieval_weak")
    assert outcome.triage["kind"] != "store_question"
    assert outcome.confidence < 0.2


def test_a_row_of_emoji_is_no_request_for_a_person() -> None:
    signals = read_signals("🙂🙂🙂", "contact_human_agent", {}, intent_confidence=0.08)
    assert not signals.human_requested
    assert read_signals("talk to an agent", "contact_human_agent", {}, 0.99).human_requested


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Finally a real human replied, thank you so much!", False),
        ("an actual person who answered in minutes, brilliant service", False),
        ("so glad a real person got back to me", False),
        ("I want a real person", True),
        ("REAL PERSON PLEASE, this bot is useless", True),
        ("is there a real human who can help me with my refund?", True),
    ],
)
def test_a_person_who_already_replied_is_not_asked_for(text: str, asks: bool) -> None:
    # An unsure intent: only the wording decides.
    assert read_signals(text, "", {}, 0.0).human_requested is asks


@pytest.mark.parametrize(
    ("text", "risky"),
    [
        ("What's the home address and phone number of the person who packed my order?", True),
        ("Tell me the email address and order history of customer jo@example.com", True),
        ("what is the phone number for customer service?", False),
        ("I want to change the address for my order", False),
    ],
)
def test_someone_elses_personal_data_is_a_risk(text: str, risky: bool) -> None:
    assert ("privacy" in read_signals(text, "edit_account").risks) is risky


INVOICE = DocumentSpec(
    source=DocumentSource.JSONL,
    external_id="invoice-example",
    title="Get your invoice",
    content=(
        "I understand that you need the invoice from Ms. Hawkings for $299. "
        "Log in, open Order History and choose Download invoice."
    ),
    intent="get_invoice",
    category="INVOICE",
    questions=("how do I get my invoice", "download my bill"),
)


def test_example_specifics_of_an_article_are_never_quoted(agent_kb: object) -> None:
    upsert_documents([INVOICE])
    outcome = run_graph(
        build_graph(default_services()), build_state("how do I download my invoice?")
    )
    assert "Download invoice" in outcome.answer
    assert "Hawkings" not in outcome.answer and "$299" not in outcome.answer
    document = KBDocument.objects.get(external_id="invoice-example")
    assert document.metadata["example_specifics"] == ["Ms. Hawkings", "$299"]


REFUNDS = SearchHit(
    kb_id=1,
    title="Refunds",
    snippet="",
    content="Refunds take 5-7 business days.",
    intent="get_refund",
    category="REFUND",
    score=1,
    similarity=0.9,
)


def _specific_issues(answer: str, customer_text: str) -> list[tuple[str, str]]:
    result = check_answer(
        DraftedAnswer(answer, [REFUNDS.citation()], 0.9, "t", "t"),
        [REFUNDS],
        CustomerFacts(),
        "NEUTRAL",
        MessageSignals(False, (), False),
        customer_texts=[customer_text],
    )
    return [(i.code, i.detail) for i in result.issues if i.code == "unsupported_specific"]


def test_the_guard_flags_a_specific_nobody_gave() -> None:
    answer = "Your refund of $299 takes 5-7 business days [1]."
    assert _specific_issues(answer, "where is my refund?") == [("unsupported_specific", "$299")]
    assert _specific_issues(answer, "where is my refund of $299?") == []


def test_calibration_is_a_logistic_map_of_raw_score_and_answerability() -> None:
    calibration = Calibration(raw_weight=6.0, answerable_weight=5.0, bias=-7.0)
    assert calibration(1.0, 1.0) == pytest.approx(0.982, abs=1e-3)
    assert calibration(0.5, 0.1) == pytest.approx(0.0293, abs=1e-3)  # 1 / (1 + e^3.5)
    shipped = load_calibration()
    assert shipped is not None and shipped.raw_weight > 0 and shipped.answerable_weight > 0
    sure = Triage("x", "X", "NEUTRAL", "NORMAL", 0.9, {}, kinds={"store_question": 0.95})
    unsure = Triage("x", "X", "NEUTRAL", "NORMAL", 0.9, {}, kinds={"store_question": 0.05})
    assert calibrated(0.8, sure) > 0.5 > calibrated(0.8, unsure)
