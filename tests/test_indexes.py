"""The vector, full-text and timeline indexes exist and the planner uses them."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.db import connection

from knowledge.models import DocumentSource, KBChunk, KBDocument
from support.models import Conversation, Message, MessageRole

DIMS = 384


def random_unit_vector(rng: random.Random) -> list[float]:
    values = [rng.gauss(0, 1) for _ in range(DIMS)]
    norm = sum(v * v for v in values) ** 0.5
    return [v / norm for v in values]


@pytest.fixture
def chunks(db: None) -> list[KBChunk]:
    rng = random.Random(7)
    doc = KBDocument.objects.create(
        source=DocumentSource.MANUAL, external_id="idx", title="Index test", content="..."
    )
    words = ["refund", "invoice", "delivery", "password", "shipping", "account"]
    return KBChunk.objects.bulk_create(
        KBChunk(
            document=doc,
            ordinal=i,
            text=f"{words[i % len(words)]} help article number {i}",
            text_hash=str(i),
            embedding=random_unit_vector(rng),
        )
        for i in range(60)
    )


def explain(sql: str, params: list[Any]) -> str:
    with connection.cursor() as cursor:
        # Tiny tables make a sequential scan cheapest; disabling it asks whether an index *can*
        # serve the query, which is what a missing or wrong-opclass index would fail.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def index_names(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


def test_expected_indexes_exist(db: None) -> None:
    assert {"kbchunk_embedding_hnsw_idx", "kbchunk_search_vector_gin_idx"} <= index_names(
        "knowledge_kbchunk"
    )
    assert "message_conversation_time_idx" in index_names("support_message")
    assert {"draft_status_idx", "draft_status_created_idx"} <= index_names("support_draft")


def test_hnsw_index_uses_cosine_ops(db: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'kbchunk_embedding_hnsw_idx'"
        )
        (definition,) = cursor.fetchone()
    assert "USING hnsw" in definition
    assert "vector_cosine_ops" in definition


def test_vector_query_uses_hnsw_index(chunks: list[KBChunk]) -> None:
    query = str(random_unit_vector(random.Random(1)))
    plan = explain(
        "SELECT id FROM knowledge_kbchunk ORDER BY embedding <=> %s::vector LIMIT 5", [query]
    )
    assert "kbchunk_embedding_hnsw_idx" in plan


def test_full_text_query_uses_gin_index(chunks: list[KBChunk]) -> None:
    plan = explain(
        "SELECT id FROM knowledge_kbchunk "
        "WHERE search_vector @@ websearch_to_tsquery('english', %s)",
        ["refund"],
    )
    assert "kbchunk_search_vector_gin_idx" in plan


def test_full_text_query_finds_rows(chunks: list[KBChunk]) -> None:
    found = KBChunk.objects.extra(
        where=["search_vector @@ websearch_to_tsquery('english', %s)"], params=["refunds"]
    ).count()
    assert found == 10


def test_timeline_query_uses_conversation_time_index(db: None) -> None:
    conversation = Conversation.objects.create()
    Message.objects.create(conversation=conversation, role=MessageRole.CUSTOMER, body="hi")
    plan = explain(
        "SELECT id FROM support_message WHERE conversation_id = %s "
        "ORDER BY created_at DESC LIMIT 10",
        [conversation.id],
    )
    assert "message_conversation_time_idx" in plan


@pytest.mark.parametrize("status", [None, "ESCALATED"])
def test_console_queue_pages_from_its_index_without_sorting(db: None, status: str | None) -> None:
    from support.models import Draft

    drafts = Draft.objects.needing_human()
    if status:
        drafts = drafts.filter(status=status)
    sql, params = drafts.in_queue_order()[:50].query.sql_with_params()
    with connection.cursor() as cursor:
        # Can the index hand out rows in queue order? Only if its expressions are exactly the
        # ORDER BY's: with sorting and bitmap scans off, the plan then has no Sort node.
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        plan = explain(sql, list(params))
    assert "Index Scan using draft_queue_order_idx" in plan
    assert "Sort" not in plan


def test_stored_vectors_are_found_by_their_text_through_an_index(chunks: list[KBChunk]) -> None:
    """known_vectors (every ingest batch, every article edit) reads the chunks of a few texts,
    not all of them."""
    from knowledge.ingest.upsert import known_vectors

    wanted = [chunk.text_hash for chunk in chunks[:3]]
    sql, params = (
        KBChunk.objects.filter(text_hash__in=wanted, embedding__isnull=False)
        .values_list("text_hash", "embedding")
        .distinct("text_hash")
        .order_by()
        .query.sql_with_params()
    )
    assert "kbchunk_text_hash_idx" in explain(sql, list(params))
    assert set(known_vectors(wanted)) == set(wanted)
