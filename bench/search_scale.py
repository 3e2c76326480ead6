"""Hybrid search latency at 200k chunks and HNSW recall@10 against exact search.

Adds synthetic published documents to the bench KB (built by bench/retrieval.py or the demo KB):
chunk vectors are real KB vectors plus noise (so the index sees clustered data, as in a real KB)
and chunk texts are real KB words, loaded with binary COPY. Removed again at the end.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
from _setup import DATASETS, latency_summary, read_csv, setup_django, write_result

SYNTHETIC_SOURCE = "manual"
SYNTHETIC_PREFIX = "synthetic/"
CHUNKS_PER_DOC = 100


def _hnsw_index_sql() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'kbchunk_embedding_hnsw_idx'"
        )
        row = cursor.fetchone()
    if row is None:
        raise SystemExit("kbchunk_embedding_hnsw_idx is missing: run migrate")
    return str(row[0])


def add_synthetic(total_chunks: int, noise: float, seed: int = 7) -> dict[str, float]:
    from django.db import connection, transaction

    from knowledge.bulk import copy_chunks
    from knowledge.models import KBChunk, KBDocument
    from knowledge.search import forget_common_lexemes

    real = list(KBChunk.objects.values_list("embedding", "text")[:5000])
    if not real:
        raise SystemExit("the bench KB is empty: run bench/retrieval.py first")
    rng = np.random.default_rng(seed)
    base = np.array([np.asarray(vector, dtype=np.float32) for vector, _ in real])
    words = " ".join(text for _, text in real).split()
    docs = KBDocument.objects.bulk_create(
        KBDocument(
            source=SYNTHETIC_SOURCE,
            external_id=f"{SYNTHETIC_PREFIX}{i}",
            title=f"Synthetic article {i}",
            content="synthetic",
            embedding_status="ready",
        )
        for i in range(total_chunks // CHUNKS_PER_DOC)
    )
    index_sql = _hnsw_index_sql()
    with connection.cursor() as cursor:
        # Building the graph once is far cheaper than inserting 200k vectors into it one by one.
        cursor.execute("DROP INDEX kbchunk_embedding_hnsw_idx")
    started = time.perf_counter()
    with transaction.atomic():
        for doc in docs:
            # Blends of two real vectors plus noise: a continuous spread over the region real
            # embeddings occupy, without tight clumps of near-identical copies.
            first = base[rng.integers(0, len(base), CHUNKS_PER_DOC)]
            second = base[rng.integers(0, len(base), CHUNKS_PER_DOC)]
            weight = rng.uniform(0, 1, (CHUNKS_PER_DOC, 1))
            vectors = weight * first + (1 - weight) * second
            vectors += rng.normal(0, noise, vectors.shape)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            rows = []
            for ordinal, vector in enumerate(vectors):
                start = int(rng.integers(0, len(words) - 40))
                text = " ".join(words[start : start + 40])
                rows.append(
                    (doc.pk, "content", ordinal, text, f"s{doc.pk}-{ordinal}", vector, "english")
                )
            copy_chunks(rows)
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(index_sql)
        # Now, not during the measurements: autovacuum would otherwise wake up after the bulk
        # load and compete for the two cores.
        cursor.execute("VACUUM ANALYZE knowledge_kbchunk")
    forget_common_lexemes()  # as ingest does: word statistics changed
    return {
        "synthetic_chunks": len(docs) * CHUNKS_PER_DOC,
        "noise_std": noise,
        "load_seconds": round(load_s, 1),
        "hnsw_build_seconds": round(time.perf_counter() - started, 1),
    }


def remove_synthetic() -> None:
    from django.db import connection

    from knowledge.models import KBDocument
    from knowledge.search import forget_common_lexemes

    if not KBDocument.objects.filter(external_id__startswith=SYNTHETIC_PREFIX).exists():
        return
    index_sql = _hnsw_index_sql()
    with connection.cursor() as cursor:
        # Vacuuming 200k dead entries out of an HNSW graph takes far longer than rebuilding the
        # graph for what is left, so the index is dropped first and rebuilt after.
        cursor.execute("DROP INDEX kbchunk_embedding_hnsw_idx")
        KBDocument.objects.filter(external_id__startswith=SYNTHETIC_PREFIX).delete()
        cursor.execute("VACUUM ANALYZE knowledge_kbchunk")
        cursor.execute(index_sql)
    forget_common_lexemes()


def hnsw_recall(
    queries: np.ndarray, ef_search: int, k: int = 10, fetch: int | None = None
) -> dict[str, float]:
    """Share of the exact top-k (sequential scan) that the HNSW index returns. With `fetch`, as
    the product's vector leg does it: `fetch` rows with an iterative scan, best k of those."""
    from django.db import connection, transaction

    sql = "SELECT id, embedding <=> %s::vector AS d FROM knowledge_kbchunk ORDER BY d LIMIT %s"
    found = 0
    ann_ms = []
    for vector in queries:
        literal = str(vector.tolist())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
            if fetch:
                cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            started = time.perf_counter()
            cursor.execute(sql, [literal, fetch or k])
            ann_ms.append((time.perf_counter() - started) * 1000)
            ann = {row[0] for row in sorted(cursor.fetchall(), key=lambda row: row[1])[:k]}
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute(sql, [literal, k])
            exact = {row[0] for row in cursor.fetchall()}
        found += len(ann & exact)
    return {
        "ef_search": ef_search,
        "fetched": fetch or k,
        f"recall_at_{k}": round(found / (k * len(queries)), 4),
        "ann_p95_ms": latency_summary(ann_ms)["p95_ms"],
    }


def search_latency(texts: list[str]) -> dict[str, float]:
    from knowledge import embeddings
    from knowledge.models import KBDocument

    embeddings._cached_query_vector.cache_clear()
    KBDocument.objects.hybrid_search("warm up the model and the connection")
    millis = []
    for text in texts:
        started = time.perf_counter()
        KBDocument.objects.hybrid_search(text)
        millis.append((time.perf_counter() - started) * 1000)
    return latency_summary(millis)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--noise", type=float, default=0.01, help="per-dimension noise std")
    parser.add_argument("--keep", action="store_true", help="leave the synthetic chunks in place")
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    from knowledge.embeddings import embed_queries
    from knowledge.models import KBChunk, KBDocument
    from knowledge.search import CANDIDATES, EF_SEARCH

    if not KBDocument.objects.exists():
        call_command("load_demo_kb")
    remove_synthetic()
    rows = read_csv(DATASETS / "bitext" / "intents_train.csv")
    texts = [row["text"] for row in random.Random(1).sample(rows, args.queries)]
    base = {"kb_chunks": KBChunk.objects.count(), **search_latency(texts)}
    loaded = add_synthetic(args.chunks, args.noise)
    try:
        scale = {"kb_chunks": KBChunk.objects.count(), **search_latency(texts)}
        vectors = embed_queries(texts[:200])
        recall = [hnsw_recall(vectors, ef) for ef in (EF_SEARCH, 200, 400)]
        recall.append(hnsw_recall(vectors, EF_SEARCH, fetch=CANDIDATES))
    finally:
        if not args.keep:
            remove_synthetic()
    write_result(
        "search_scale",
        {"demo_size": base, "at_scale": {**loaded, **scale}, "hnsw": recall},
    )


if __name__ == "__main__":
    main()
