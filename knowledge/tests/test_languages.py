"""#31 on the real database: an article's language, its chunks' text-search configuration (the
stored tsvector per row), the query's configuration and the preference for the query's
language."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest
from django.db import connection

from knowledge.ingest import DocumentSpec, read_source, upsert_documents
from knowledge.ingest.upsert import rebuild_chunks
from knowledge.languages import searchable
from knowledge.models import KBChunk, KBDocument
from knowledge.search import text_query

CANCEL_EN = DocumentSpec(
    source="jsonl",
    external_id="cancel-en",
    title="Cancel an order",
    content="To cancel your orders, open My orders and press Cancel order.",
    intent="cancel_order",
    questions=("How do I cancel my order?",),
)
CANCEL_ES = DocumentSpec(
    source="jsonl",
    external_id="cancel-es",
    title="Cancelar un pedido",
    content="Para cancelar tus pedidos, abre Mis pedidos y pulsa Cancelar pedido.",
    intent="cancel_order",
    questions=("¿Cómo cancelo mi pedido?",),
    language="es",
)


@pytest.fixture
def two_languages(db: None) -> dict[str, KBDocument]:
    upsert_documents([CANCEL_EN, CANCEL_ES])
    return {doc.language: doc for doc in KBDocument.objects.all()}


def _stored_equals(chunk: KBChunk, config: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector = to_tsvector(%s::regconfig, %s) FROM knowledge_kbchunk "
            "WHERE id = %s",
            [config, searchable(chunk.text), chunk.pk],
        )
        return bool(cursor.fetchone()[0])


def test_each_chunk_is_stemmed_in_its_articles_language(
    two_languages: dict[str, KBDocument],
) -> None:
    spanish = KBChunk.objects.filter(document=two_languages["es"])
    assert spanish.count() == 2  # its text and its question
    for chunk in spanish:
        assert chunk.search_config == "spanish"
        assert _stored_equals(chunk, "spanish")
        assert not _stored_equals(chunk, "english")
    english = KBChunk.objects.filter(document=two_languages["en"]).first()
    assert english is not None and english.search_config == "english"
    assert _stored_equals(english, "english")


def test_punctuation_glued_to_a_word_does_not_hide_it(
    two_languages: dict[str, KBDocument],
) -> None:
    # In a locale-C database the parser reads "¿", "«" and the typographic apostrophe as
    # letters: "¿Dónde" would be stored as "¿dond" and never match "dónde".
    stored = KBChunk.objects.create(
        document=two_languages["es"],
        kind="content",
        ordinal=9,
        text="¿Dónde está «Mis pedidos»? Tu dirección\u2019s",
        text_hash="x",
        search_config="spanish",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT search_vector::text FROM knowledge_kbchunk WHERE id = %s", [stored.pk]
        )
        vector = cursor.fetchone()[0]
    assert "'dond'" in vector and "'ped'" in vector and "¿" not in vector and "«" not in vector
    assert text_query("¿dónde están «mis pedidos»?", "spanish") == text_query(
        "dónde están mis pedidos", "spanish"
    )


def test_the_query_is_parsed_with_its_languages_configuration(db: None) -> None:
    # Spanish stop words go, Spanish inflections meet their stem; English keeps "los".
    spanish = text_query("cancelar los pedidos", "spanish")
    assert "los" not in spanish
    assert text_query("cancelar los pedidos", "spanish") == text_query("cancelar pedido", "spanish")
    assert "'los'" in text_query("cancelar los pedidos", "english")


def test_a_spanish_inflection_is_found_by_the_full_text_leg_only_in_spanish(
    two_languages: dict[str, KBDocument],
) -> None:
    # "pedido" (singular) meets "pedidos" in the article only through the Spanish stemmer.
    found = KBDocument.objects.hybrid_search("pedido", language="es")
    spanish = next(hit for hit in found if hit.kb_id == two_languages["es"].pk)
    assert spanish.text_rank == 1
    assert spanish.language == "es"


def test_the_customers_language_is_preferred(two_languages: dict[str, KBDocument]) -> None:
    for language in ("es", "en"):
        hits = KBDocument.objects.hybrid_search("cancel pedido order", language=language)
        assert hits[0].kb_id == two_languages[language].pk
    only = KBDocument.objects.in_language("es").hybrid_search("cancel my order", language="es")
    assert [hit.kb_id for hit in only] == [two_languages["es"].pk]


def test_a_language_change_restems_the_chunks(two_languages: dict[str, KBDocument]) -> None:
    document = two_languages["en"]
    document.language = "fr"
    document.save()
    rebuild_chunks([document])
    configs = set(KBChunk.objects.filter(document=document).values_list("search_config", flat=True))
    assert configs == {"french"}


def test_ingest_reads_the_language_and_refuses_an_unsupported_one(db: None, tmp_path: Path) -> None:
    source = tmp_path / "kb.jsonl"
    rows = [
        {"title": "Annuler", "content": "Pour annuler votre commande...", "language": "FR"},
        {"title": "Cancel", "content": "To cancel your order..."},
        {"title": "取消", "content": "取消订单", "language": "zh"},
    ]
    source.write_text("\n".join(json.dumps(row) for row in rows))
    specs, problems = read_source("jsonl", source)
    assert [spec.language for spec in specs] == ["fr", "en"]
    assert len(problems) == 1 and "unsupported language 'zh'" in problems[0].reason
    upsert_documents(specs)
    assert sorted(KBDocument.objects.values_list("language", flat=True)) == ["en", "fr"]
    assert KBDocument.objects.languages() == ["en", "fr"]


def test_an_english_articles_hash_is_the_one_stored_before_languages() -> None:
    # Re-ingesting an unchanged English KB after the migration re-embeds nothing: its hash is
    # computed as before the language existed; another language changes it.
    payload: list[object] = [
        CANCEL_EN.title,
        CANCEL_EN.content,
        CANCEL_EN.intent,
        CANCEL_EN.category,
    ]
    payload += [list(CANCEL_EN.questions), CANCEL_EN.metadata]
    before = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    assert CANCEL_EN.content_hash() == before
    assert replace(CANCEL_EN, language="es").content_hash() != before
