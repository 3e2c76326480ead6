"""Hybrid search on the real database: keywords via full text, paraphrases via vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from knowledge.embeddings import embed_query
from knowledge.models import DocumentStatus, KBDocument
from knowledge.search import VECTOR_SQL, EmptyQueryError, SearchHit, _documents_sql, text_query


def search(query: str, **kwargs: object) -> list[SearchHit]:
    return KBDocument.objects.hybrid_search(query, **kwargs)  # type: ignore[arg-type]


def test_exact_keyword_is_found_by_the_full_text_leg(small_kb: dict[str, KBDocument]) -> None:
    hits = search("any news on QX-48213?")
    assert hits[0].kb_id == small_kb["customs"].pk
    assert hits[0].text_rank == 1


def test_negated_terms_are_left_out_of_the_text_query(small_kb: dict[str, KBDocument]) -> None:
    assert text_query("zephyr jug -dishwasher") == "'zephyr' | 'jug'"


def test_negated_terms_inside_an_or_are_left_out_too(small_kb: dict[str, KBDocument]) -> None:
    """ "x or -y" parses to 'x' | !'y': kept, !'y' matched nearly every chunk."""
    query = text_query("zephyr jug or -dishwasher")
    assert "!" not in query and query == "'zephyr' | 'jug'"
    assert "!" not in text_query('refund or -"motor base" or -customs')
    hits = search("zephyr jug or -dishwasher")
    assert hits[0].kb_id == small_kb["zephyr"].pk and hits[0].text_rank == 1
    # Only the zephyr article has its words: a kept negation matched every other one too.
    assert [hit.kb_id for hit in hits if hit.text_rank is not None] == [small_kb["zephyr"].pk]


def test_product_term_is_found(small_kb: dict[str, KBDocument]) -> None:
    hits = search("zephyr jug")
    assert hits[0].kb_id == small_kb["zephyr"].pk
    assert hits[0].text_rank == 1


def test_paraphrase_is_found_by_the_vector_leg(small_kb: dict[str, KBDocument]) -> None:
    # No word in common with the article or its questions: only the vectors can connect them.
    hits = search("I am unable to sign into my account anymore")
    assert hits[0].kb_id == small_kb["password"].pk
    assert hits[0].vector_rank == 1
    assert hits[0].text_rank is None
    assert hits[0].similarity is not None and hits[0].similarity > 0.3


def test_result_shape_and_snippet(small_kb: dict[str, KBDocument]) -> None:
    hit = search("refund to my card", limit=1)[0]
    assert hit.as_result() == {
        "kb_id": small_kb["refund"].pk,
        "title": "Refund policy",
        "snippet": small_kb["refund"].content,
        "intent": "get_refund",
        "category": "REFUND",
        "score": hit.score,
    }
    assert 0 < hit.score < 1


def test_unpublished_documents_are_never_returned(small_kb: dict[str, KBDocument]) -> None:
    assert small_kb["customs"].pk in {hit.kb_id for hit in search("QX-48213 customs", limit=10)}
    KBDocument.objects.filter(external_id="customs").update(status=DocumentStatus.DRAFT)
    hits = search("QX-48213 customs", limit=10)
    assert small_kb["customs"].pk not in {hit.kb_id for hit in hits}


def test_queryset_filters_restrict_results(small_kb: dict[str, KBDocument]) -> None:
    hits = KBDocument.objects.filter(category="DELIVERY").hybrid_search("password reset", limit=10)
    assert {hit.category for hit in hits} == {"DELIVERY"}


def test_intent_boost_lifts_matching_documents(small_kb: dict[str, KBDocument]) -> None:
    plain = search("shipping", limit=5)
    boosted = search("shipping", limit=5, intent="delivery_period")
    assert boosted[0].intent == "delivery_period"
    assert plain[0].intent == "delivery_options"


def test_empty_query_is_an_error(small_kb: dict[str, KBDocument]) -> None:
    with pytest.raises(EmptyQueryError):
        search("   \n ")


def test_huge_query_is_truncated_not_a_crash(small_kb: dict[str, KBDocument]) -> None:
    hits = search("refund " + "x" * 1_000_000)
    assert hits[0].kb_id == small_kb["refund"].pk


def test_vector_leg_uses_hnsw_index(small_kb: dict[str, KBDocument]) -> None:
    documents = KBDocument.objects.published()
    sub_sql, sub_params = _documents_sql(documents)  # the subquery vector_leg sends
    vector = str(embed_query("refund").tolist())
    with connection.cursor() as cursor:
        # A tiny table makes scan+sort cheapest; forbidding both asks whether the HNSW index
        # can serve this exact query shape (operator class, expression, filters).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute(
            "EXPLAIN " + VECTOR_SQL.format(documents=sub_sql),
            [vector, ["content", "question"], *sub_params, 10],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "kbchunk_embedding_hnsw_idx" in plan


def test_kb_search_command_json(
    small_kb: dict[str, KBDocument], capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("kb_search", "--json", "--limit", "2", "QX-48213")
    record = json.loads(capsys.readouterr().out)
    assert record["id"] is None
    assert len(record["results"]) == 2
    assert record["results"][0]["kb_id"] == small_kb["customs"].pk
    assert set(record["results"][0]) == {"kb_id", "title", "snippet", "intent", "category", "score"}


def test_kb_search_command_batch_keeps_order_and_ids(
    small_kb: dict[str, KBDocument], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "in.jsonl"
    lines = [{"id": "a", "text": "zephyr"}, {"id": 7, "text": "  "}, {"id": "c", "text": "refund"}]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    call_command("kb_search", "--json", "--file", str(path))
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == ["a", 7, "c"]
    assert records[0]["results"][0]["kb_id"] == small_kb["zephyr"].pk
    assert records[1] == {"id": 7, "results": [], "error": "the query is empty"}


def test_kb_search_command_batch_answers_text_the_database_cannot_take(
    small_kb: dict[str, KBDocument], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NUL or an unpaired surrogate on one line is that line's error, not the batch's end."""
    path = tmp_path / "in.jsonl"
    lines = [
        {"id": 1, "text": "a\x00b"},
        {"id": 2, "text": "\ud83d refund"},
        {"id": 3, "text": "zephyr"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    call_command("kb_search", "--json", "--file", str(path))
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == [1, 2, 3]
    assert records[0] == {"id": 1, "results": [], "error": "the query holds a NUL character"}
    assert records[1] == {"id": 2, "results": [], "error": "the query holds an unpaired surrogate"}
    assert records[2]["results"][0]["kb_id"] == small_kb["zephyr"].pk


def test_kb_search_command_rejects_empty_query(small_kb: dict[str, KBDocument]) -> None:
    with pytest.raises(CommandError, match="the query is empty") as info:
        call_command("kb_search", "--json", " ")
    assert info.value.returncode == 2


def test_common_lexemes_are_computed_on_a_machine_just_booted(
    small_kb: dict[str, KBDocument], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The monotonic clock counts from boot: a worker started a few seconds after it must still
    # drop the KB's common words, not wait out the cache's TTL with an empty set.
    from knowledge import search as search_module

    monkeypatch.setattr(search_module, "COMMON_LEXEME_MIN_CHUNKS", 1)
    monkeypatch.setattr(search_module.time, "monotonic", lambda: 5.0)
    search_module.forget_common_lexemes()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT word FROM ts_stat('SELECT search_vector FROM knowledge_kbchunk') WHERE ndoc > 1"
        )
        frequent = {row[0] for row in cursor.fetchall()}
    assert frequent
    assert search_module.common_lexemes() == frequent
    search_module.forget_common_lexemes()


def test_common_lexemes_computed_during_an_ingest_are_forgotten_at_its_commit(
    transactional_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another thread of the process searches while an ingest's transaction is open: it sees the
    # chunks as they were and caches their common words; the ingest's commit must drop that.
    import threading
    from dataclasses import replace

    from django.db import transaction

    from knowledge import search as search_module
    from knowledge.ingest import upsert_documents
    from knowledge.tests.articles import ARTICLES

    monkeypatch.setattr(search_module, "COMMON_LEXEME_MIN_CHUNKS", 1)
    upsert_documents(ARTICLES[:1])
    search_module.forget_common_lexemes()

    def search_meanwhile() -> None:
        try:
            search_module.common_lexemes()
        finally:
            connection.close()

    extra = [replace(a, external_id=f"{a.external_id}-{n}") for n, a in enumerate(ARTICLES)]
    with transaction.atomic():
        upsert_documents(extra)
        thread = threading.Thread(target=search_meanwhile)
        thread.start()
        thread.join()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT word FROM ts_stat('SELECT search_vector FROM knowledge_kbchunk') WHERE ndoc > 1"
        )
        now = {row[0] for row in cursor.fetchall()}
    assert search_module.common_lexemes() == now
    search_module.forget_common_lexemes()
