"""#31: the message's language (lingua, real models), on the Draft and in triage; the extractive
provider answers from articles in that language only, else escalates `language_unsupported`;
an LLM provider is told the language."""

from __future__ import annotations

import pytest
from langgraph.graph.state import CompiledStateGraph

from agents.entities import Entities
from agents.facts import CustomerFacts
from agents.graph import run_graph
from agents.nodes.triage import foreign
from agents.profile import load_profile
from agents.prompts import NO_REPLY_ACTION
from agents.providers.base import DraftRequest
from agents.providers.chat import build_messages
from agents.runner import run_for_draft
from agents.state_builder import build_state
from agents.triage.language import (
    OTHER_MAX_ENGLISH,
    SENTENCE_MAX_ENGLISH,
    detect_language,
    detector,
    words_of,
)
from agents.triage.service import triage_text
from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.models import KBDocument
from support.agent_runs import claim_draft
from support.inbound import receive_message
from support.models import Draft
from support.vocabulary import DraftStatus, EscalationReason, Sentiment

TRACK_ES = DocumentSpec(
    source="jsonl",
    external_id="track-es",
    title="Seguir un pedido",
    content=(
        "Para ver el estado de tu pedido, inicia sesión en tu cuenta, ve a «Mis pedidos» y abre "
        "el pedido: verás su estado y el enlace de seguimiento del transportista."
    ),
    intent="track_order",
    category="ORDER",
    questions=("¿Dónde está mi pedido?", "¿Cómo sigo mi pedido?", "quiero saber el estado"),
    language="es",
)


@pytest.fixture
def spanish_kb(agent_kb: dict[str, KBDocument]) -> dict[str, KBDocument]:
    upsert_documents([TRACK_ES])
    return {doc.external_id: doc for doc in KBDocument.objects.all()}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("¿Dónde está mi pedido? Lo pedí hace una semana", "es"),
        ("Je voudrais annuler ma commande, s'il vous plaît", "fr"),
        ("Ich möchte meine Lieferadresse ändern", "de"),
        ("Como posso cancelar o meu pedido?", "pt"),
        ("yo where's my package at lol, been waiting forever", "en"),
    ],
)
def test_a_messages_language(text: str, language: str) -> None:
    assert detect_language(text).language == language


def test_a_short_message_takes_the_conversations_language_or_none() -> None:
    assert detect_language("ok").language == "und"
    assert detect_language("NW-10001").language == "und"
    # Not a supported language's script: nothing to tell (never Dutch, lingua's guess).
    assert detect_language("客服提單編號 哪時候可以處理 真的很火大").language == "und"
    earlier = ["¿Dónde está mi pedido? Lo pedí hace una semana"]
    detected = detect_language("ok", earlier)
    assert (detected.language, detected.source) == ("es", "conversation")
    # A message that tells its own language keeps it, whatever came before.
    assert detect_language("Where is my order? It has been a week", earlier).language == "en"


@pytest.mark.parametrize(
    "text", ["okay", "Okay!", "Okay :)", "Tracking?", "tracking NW-10001?", "Okay, NW-10001"]
)
def test_loan_words_alone_take_the_conversations_language(text: str) -> None:
    """They read as English, sure from one word: a German conversation's "okay" got an English
    draft language (and no language note to the LLM)."""
    earlier = ["Wo ist mein Paket? Ich warte seit einer Woche darauf."]
    detected = detect_language(text, earlier)
    assert (detected.language, detected.source) == ("de", "conversation")


def test_english_slang_is_never_taken_for_another_language() -> None:
    # Proper names may leave it undetermined (answered in English), never another language.
    place = "I'm at American Airlines Admirals Club in Guarulhos, São Paulo"
    for text in ("dm theey", "wya my pkg lol", "thx!!", "smh still no refund", place):
        assert not foreign(detect_language(text)), text


@pytest.mark.parametrize(
    "text",
    [
        # Some English in the reading (a loan word, a shared word), but a clear sentence: it
        # stands, unless a stretch of it is English on its own (the Guarulhos check above).
        "Comment modifier mon compte ?",
        "Wo ist mein Paket gerade?",
    ],
)
def test_a_clear_sentence_stands_with_a_little_english_in_its_reading(text: str) -> None:
    values = detector().compute_language_confidence_values(" ".join(words_of(text)))
    english = next(v.value for v in values if v.language.iso_code_639_1.name == "EN")
    assert OTHER_MAX_ENGLISH < english <= SENTENCE_MAX_ENGLISH  # the case the rule is for
    assert foreign(detect_language(text))


@pytest.mark.parametrize(
    ("text", "language"),
    [
        # Names and quotations are someone else's words: the writer's are English.
        ("Can you ship it to Rua das Flores in Porto please?", "en"),
        ('The parcel label says "Zustellung fehlgeschlagen", what now?', "en"),
        ("My order to Calle Mayor in Valladolid never came", "en"),
        # A loan word does not make a French writer English; German nouns are not names.
        ("je voudrais changer mon email", "fr"),
        ("Mein Paket ist bei der Packstation in Köln nicht angekommen", "de"),
        ("Mi pedido de Zara no llegó a Sevilla", "es"),
    ],
)
def test_names_quotations_and_loan_words_do_not_tell_the_language(text: str, language: str) -> None:
    assert detect_language(text).language == language


def test_addresses_codes_and_blobs_are_not_words() -> None:
    """A run of letters too long for any language's word (a pasted key, a blob without spaces)
    is not read, and addresses are found in a long run as in a short one (from its start: the
    pattern once re-read the run from every position, 3 s for a 32 kB token)."""
    blob = "x" * 5_000
    assert words_of(f"merci {blob} beaucoup") == ["merci", "beaucoup"]
    assert words_of(f"ecrivez a {blob}@example.com svp") == ["ecrivez", "a", "svp"]
    assert words_of("Mail jane.doe@example.com or @shop_help, order NW-10001") == [
        "Mail",
        "or",
        "order",
    ]
    assert words_of("Kfz-Haftpflichtversicherungsbedingungen") == [
        "Kfz",
        "Haftpflichtversicherungsbedingungen",
    ]  # German compounds


def test_no_english_thank_you_to_a_message_of_undetermined_language(
    extractive_graph: CompiledStateGraph,
) -> None:
    # "vale, perfecto": the tone model (English) reads thanks; the language was not told.
    outcome = run_graph(extractive_graph, build_state("vale, perfecto"))
    assert outcome.triage["language"] == "und"
    assert "acknowledge" in outcome.trace
    assert outcome.answer == "" and outcome.suggested_action == NO_REPLY_ACTION
    english = run_graph(extractive_graph, build_state("Thank you, brilliant service!"))
    assert english.answer.startswith("Thank you so much for your kind words!")


def test_a_spanish_question_is_answered_from_the_spanish_article(
    spanish_kb: dict[str, KBDocument], extractive_graph: CompiledStateGraph
) -> None:
    outcome = run_graph(extractive_graph, build_state("¿Dónde está mi pedido? No ha llegado"))
    assert outcome.triage["language"] == "es"
    assert outcome.status == DraftStatus.SUGGESTED, outcome.escalation_reason
    assert [c["kb_id"] for c in outcome.citations] == [spanish_kb["track-es"].pk]
    assert outcome.answer.startswith("Para ver el estado de tu pedido")
    # Triage read no tone into it, and took its intent from the article.
    assert outcome.triage["intent"] == "track_order"
    assert outcome.triage["sentiment"] == Sentiment.NEUTRAL


def test_a_language_without_articles_escalates_language_unsupported(
    spanish_kb: dict[str, KBDocument], extractive_graph: CompiledStateGraph
) -> None:
    outcome = run_graph(
        extractive_graph, build_state("Dov'è il mio ordine? È passata una settimana")
    )
    assert outcome.triage["language"] == "it"
    assert outcome.status == DraftStatus.ESCALATED
    assert outcome.escalation_reason == EscalationReason.LANGUAGE_UNSUPPORTED
    assert outcome.answer == ""


def test_a_language_gap_claims_no_confidence(
    spanish_kb: dict[str, KBDocument], extractive_graph: CompiledStateGraph
) -> None:
    """The Spanish article comes close (an order, the same words) but does not answer a return:
    no answer to be right, so the escalated draft shows no more confidence than the tone model's
    P(store question) alone leaves after calibration."""
    outcome = run_graph(
        extractive_graph,
        build_state("Quiero devolver unas zapatillas que me quedan chicas, ¿cómo hago?"),
    )
    assert outcome.escalation_reason == EscalationReason.LANGUAGE_UNSUPPORTED
    assert outcome.confidence < 0.15


def test_an_english_question_is_answered_in_english_only(
    spanish_kb: dict[str, KBDocument], extractive_graph: CompiledStateGraph
) -> None:
    outcome = run_graph(extractive_graph, build_state("How do I cancel my order?"))
    assert outcome.triage["language"] == "en"
    assert outcome.status == DraftStatus.SUGGESTED
    assert spanish_kb["track-es"].pk not in [c["kb_id"] for c in outcome.citations]
    assert detect_language(outcome.answer).language == "en"


def test_the_language_is_stored_on_the_draft(
    spanish_kb: dict[str, KBDocument], extractive_graph: CompiledStateGraph
) -> None:
    _, draft = receive_message("¿Dónde está mi pedido? No ha llegado", enqueue=False)
    assert Draft.objects.get(pk=draft.pk).as_wire()["language"] is None  # not triaged yet
    assert claim_draft(draft.message_id) is not None
    run_for_draft(draft, graph=extractive_graph)
    draft.refresh_from_db()
    assert draft.language == "es"
    assert draft.as_wire()["language"] == "es"


def test_an_llm_is_told_to_reply_in_the_customers_language(
    spanish_kb: dict[str, KBDocument],
) -> None:
    request = _request("¿Dónde está mi pedido?", "es")
    prompt = build_messages(request)[1].content
    assert "The customer writes in Spanish" in prompt
    assert "in Spanish" in prompt
    english = build_messages(_request("Where is my order?", "en"))[1].content
    assert "The customer writes in" not in english


def _request(message: str, language: str) -> DraftRequest:
    return DraftRequest(
        message=message,
        history=[],
        triage=triage_text(message),
        evidence=KBDocument.objects.hybrid_search(message, language=language),
        facts=CustomerFacts(),
        entities=Entities(),
        profile=load_profile(),
        retrieval_confidence=0.5,
        language=language,
    )
