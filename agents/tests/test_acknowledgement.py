"""Acknowledgement only for praise a person would thank (issue #28): sarcasm, irony, another
company praised, praise with a problem and thanks closing a complaint are not thanked; thanks with
a question gets the answer; a complaint with a question goes to a person with the question named.
The whole graph on a real KB and the real tone model; the signals on their own where the tone
model's probability is given."""

from __future__ import annotations

import pytest
from langgraph.graph.state import CompiledStateGraph

from agents.graph import run_graph
from agents.message_signals import asks_for_person, question_of, read_signals
from agents.prompts import ACKNOWLEDGEMENT_VERSION
from agents.state_builder import build_state
from agents.triage.tone_model import load_tone_model
from support.vocabulary import EscalationReason, MessageKind

GENUINE = (
    "Just wanted to say thank you, the team sorted my return in minutes, brilliant service!",
    "Thank you! You guys are the best, my parcel arrived early.",
)
NOT_TO_THANK = {
    "sarcasm": "Great job losing my package again 🙄",
    "thanks for nothing": "Wow, thanks for nothing. Still no refund after 3 weeks.",
    "another company": "Amazon is so much more helpful than you guys.",
    "praise with a problem": "Love the app but it keeps crashing when I pay.",
    "thanks closing a complaint": "Thanks anyway, I'll take my business elsewhere.",
}


@pytest.mark.parametrize("text", GENUINE)
def test_genuine_praise_is_acknowledged(extractive_graph: CompiledStateGraph, text: str) -> None:
    outcome = run_graph(extractive_graph, build_state(text))
    signals = outcome.triage["signals"]
    assert "acknowledge" in outcome.trace and outcome.status == "SUGGESTED"
    assert outcome.prompt_version == ACKNOWLEDGEMENT_VERSION
    threshold = load_tone_model().ack_min
    assert signals["praise"] and signals["acknowledge"] >= threshold and not signals["vetoes"]
    # The acknowledgement's confidence is the probability a person would thank it.
    assert outcome.confidence == pytest.approx(signals["acknowledge"])


@pytest.mark.parametrize("text", NOT_TO_THANK.values(), ids=NOT_TO_THANK.keys())
def test_praise_not_to_thank_is_not_acknowledged(
    extractive_graph: CompiledStateGraph, text: str
) -> None:
    outcome = run_graph(extractive_graph, build_state(text))
    signals = outcome.triage["signals"]
    assert "acknowledge" not in outcome.trace
    assert outcome.prompt_version != ACKNOWLEDGEMENT_VERSION
    assert not signals["praise"] and signals["acknowledge"] < load_tone_model().ack_min
    assert "Thank you so much for your kind words" not in outcome.answer


@pytest.mark.parametrize(
    "text",
    [
        "Thank you so much, you are great! I want to speak to a human agent.",
        "Thanks a lot, you guys are amazing. I want to talk to a real person.",
    ],
)
def test_praise_asking_for_a_person_goes_to_a_person(
    extractive_graph: CompiledStateGraph, text: str
) -> None:
    outcome = run_graph(extractive_graph, build_state(text))
    assert outcome.triage["signals"]["human_requested"]
    assert (outcome.status, outcome.escalation_reason) == (
        "ESCALATED",
        EscalationReason.CUSTOMER_REQUESTED_HUMAN,
    )
    assert "acknowledge" not in outcome.trace
    assert outcome.prompt_version != ACKNOWLEDGEMENT_VERSION


def test_praise_naming_an_agent_asks_for_nobody() -> None:
    """The route reads the words: an intent that hears "agent" in praise is not a request."""
    assert asks_for_person("I want to speak to a human agent.")
    assert not asks_for_person("Hands down best gate agent I've ever seen.")


def test_sarcasm_is_a_complaint_whatever_the_words(extractive_graph: CompiledStateGraph) -> None:
    outcome = run_graph(extractive_graph, build_state(NOT_TO_THANK["sarcasm"]))
    assert (outcome.status, outcome.escalation_reason) == (
        "ESCALATED",
        EscalationReason.CUSTOMER_COMPLAINT,
    )
    assert outcome.triage["signals"]["vetoes"]  # the cues that said so, for the agent


@pytest.mark.parametrize(
    "text",
    [
        "Great job losing my parcel 🙄",
        "great job... not",
        "Thanks for nothing, the refund never came",
        "Honestly Zappos is way better than you",
        "Love you guys but my order still hasn't arrived and the tracking is broken",
        "Thanks so much! How do I change my delivery address?",
    ],
)
def test_vetoes_hold_however_sure_the_tone_model_is(text: str) -> None:
    """The cues veto a praise reading the tone model is sure of."""
    signals = read_signals(
        text, "review", {MessageKind.PRAISE: 0.99}, 0.9, acknowledge_probability=0.99
    )
    assert not signals.praise and signals.acknowledge < 0.1 and signals.vetoes


def test_the_acknowledge_probability_decides_without_vetoes() -> None:
    """P(ack) from the tone model's threshold decides, whatever P(praise) of the kind head."""
    text = "Thank you, lovely service as always"
    kinds: dict[str, float] = {MessageKind.PRAISE: 0.3}
    sure = read_signals(
        text, "review", kinds, 0.9, acknowledge_probability=0.6, acknowledge_min=0.5
    )
    unsure = read_signals(
        text, "review", {MessageKind.PRAISE: 0.93}, 0.9, acknowledge_probability=0.4
    )
    assert (sure.praise, sure.acknowledge) == (True, 0.6)
    assert (unsure.praise, unsure.acknowledge) == (False, 0.4)


@pytest.mark.parametrize(
    "text",
    [
        "THANK YOU so much!!! #bestcrew (see what I did there?)",
        "Parcel came early, how cool is that? Thanks!",
    ],
)
def test_a_rhetorical_question_asks_nothing(text: str) -> None:
    signals = read_signals(
        text, "review", {}, 0.9, acknowledge_probability=0.9, acknowledge_min=0.5
    )
    assert question_of(text) == "" and signals.praise and not signals.vetoes


def test_the_question_of_a_mixed_message_is_found_verbatim() -> None:
    assert question_of("Thanks a lot! Where is my refund? Have a nice day.") == (
        "Where is my refund?"
    )
    assert question_of("Loved it. Could you send me the invoice") == "Could you send me the invoice"
    assert question_of("Thank you, brilliant service!") == ""
    assert question_of("@Delta when will my flight board") == "@Delta when will my flight board"
    # A question word alone asks nothing: praise that starts with one is still praise.
    assert question_of("When I called, your staff were lovely. What a great service!") == ""


def test_thanks_with_a_store_question_gets_the_answer(
    extractive_graph: CompiledStateGraph,
) -> None:
    text = "Thanks so much for your help last week! How can I cancel my order?"
    outcome = run_graph(extractive_graph, build_state(text))
    assert outcome.status == "SUGGESTED" and "compose" in outcome.trace
    assert "acknowledge" not in outcome.trace
    assert outcome.triage["signals"]["question"] == "How can I cancel my order?"
    assert outcome.citations and outcome.citations[0]["title"].startswith("Cancel order")
    assert not outcome.answer.startswith("Thank you so much for your kind words")


def test_a_complaint_with_a_question_names_the_question(
    extractive_graph: CompiledStateGraph,
) -> None:
    text = (
        "I have shopped with you for fifteen years and that ends today. Your support is a "
        "disgrace. How do I cancel my order?"
    )
    outcome = run_graph(extractive_graph, build_state(text))
    assert (outcome.status, outcome.escalation_reason) == (
        "ESCALATED",
        EscalationReason.CUSTOMER_COMPLAINT,
    )
    assert outcome.answer == "" and "compose" not in outcome.trace
    stored = outcome.draft_fields()["triage_scores"]
    assert stored["signals"]["question"] == "How do I cancel my order?"
    # The tone's reasons are stored with it: this complaint's sentiment names what decided it.
    assert stored["cues"]["sentiment"]
