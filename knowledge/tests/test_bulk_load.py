"""The first import into an empty KB (#30): every text encoded in one pass, the vector index built
once at the end of one transaction instead of grown row by row; any other ingest keeps its
index and its transaction per batch."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection

from knowledge import bulk
from knowledge.ingest import upsert
from knowledge.ingest.upsert import upsert_documents
from knowledge.models import KBChunk, KBDocument
from knowledge.tests.articles import ARTICLES


def _index_definition() -> str | None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = %s", [bulk.VECTOR_INDEX])
        row = cursor.fetchone()
    return row[0] if row else None


def _drops(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Counts the loads that took the index down (and still does so, for real)."""
    calls: list[bool] = []
    real = bulk.vector_index_built_after

    @contextmanager
    def counted() -> Iterator[None]:
        calls.append(True)
        with real():
            yield

    monkeypatch.setattr(upsert, "vector_index_built_after", counted)
    return calls


def test_a_first_import_builds_the_index_once_and_searches_use_it(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upsert, "BULK_LOAD_MIN_CHUNKS", 1)
    drops = _drops(monkeypatch)
    before = _index_definition()
    assert before is not None and "hnsw" in before
    report = upsert_documents(ARTICLES, batch_size=2)  # three batches, one transaction
    assert drops == [True]
    assert report.created == len(ARTICLES)
    assert _index_definition() == before  # the migration's parameters, not defaults
    assert KBChunk.objects.count() == report.chunks_embedded > len(ARTICLES)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        vector = str([0.05] * 384)
        cursor.execute(
            "EXPLAIN SELECT id FROM knowledge_kbchunk ORDER BY embedding <=> %s::vector LIMIT 5",
            [vector],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert bulk.VECTOR_INDEX in plan
    hits = KBDocument.objects.hybrid_search("how do I change my password?", 1)
    assert hits[0].title == "Reset your password"


def test_a_failed_first_import_leaves_an_empty_kb_with_its_index(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upsert, "BULK_LOAD_MIN_CHUNKS", 1)
    before = _index_definition()
    written: list[int] = []
    real = upsert._upsert_batch

    def fails_second(batch: Sequence[Any], *args: Any) -> None:
        if written:
            raise RuntimeError("disk full")
        written.append(len(batch))
        real(batch, *args)

    monkeypatch.setattr(upsert, "_upsert_batch", fails_second)
    with pytest.raises(RuntimeError, match="disk full"):
        upsert_documents(ARTICLES, batch_size=2)
    assert written == [2]
    assert not KBDocument.objects.exists() and not KBChunk.objects.exists()
    assert _index_definition() == before


def test_an_ingest_into_a_kb_with_chunks_keeps_its_index(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches go on while a populated KB grows: no drop, a transaction per batch."""
    monkeypatch.setattr(upsert, "BULK_LOAD_MIN_CHUNKS", 1)
    drops = _drops(monkeypatch)
    upsert_documents(ARTICLES[:1])
    assert drops == [True]  # the first import, empty before
    report = upsert_documents(ARTICLES[1:], batch_size=2)
    assert report.created == len(ARTICLES) - 1
    assert drops == [True]


def test_a_small_first_import_is_written_as_any_other(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    drops = _drops(monkeypatch)
    assert upsert.BULK_LOAD_MIN_CHUNKS > 100
    upsert_documents(ARTICLES)
    assert drops == []
