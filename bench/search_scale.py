"""Hybrid search latency at 200k chunks and HNSW recall@10 against exact search.

Adds synthetic published documents to the bench KB (built by bench/retrieval.py or the demo KB):
chunk vectors are real KB vectors plus noise (so the index sees clustered data, as in a real KB)
and chunk texts are real KB words, loaded with binary COPY. Removed again at the end.

Each `--index M:EF_CONSTRUCTION` builds the HNSW graph with those parameters on the same rows
(the first is the product's, from the migrations; others for comparison in the same run) and
measures hybrid latency and recall@10 against exact search (sequential scan), unfiltered and as
the product's vector leg queries (published documents only, 200 rows, iterative scan).
Recall is reported strictly (ids of the exact top 10) and tie-aware (a returned row at the same
distance as the exact 10th also counts, as ann-benchmarks counts it): the KB holds identical
passages (the same question under two articles), and which of two equal rows a scan returns is
arbitrary.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from typing import Any

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


def with_parameters(index_sql: str, m: int, ef_construction: int) -> str:
    """The index definition with other HNSW parameters."""
    return re.sub(r"WITH \(.*\)", f"WITH (m='{m}', ef_construction='{ef_construction}')", index_sql)


def build_index(index_sql: str) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS kbchunk_embedding_hnsw_idx")
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute(index_sql)
        cursor.execute("ANALYZE knowledge_kbchunk")
    return round(time.perf_counter() - started, 1)


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
            # bulk_create skips save(), which names an article; slugs are unique (help center).
            slug=f"synthetic-{i}",
            content="synthetic",
            embedding_status="ready",
        )
        for i in range(total_chunks // CHUNKS_PER_DOC)
    )
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
    with connection.cursor() as cursor:
        # Now, not during the measurements: autovacuum would otherwise wake up after the bulk
        # load and compete for the two cores. The HNSW index is built by the caller.
        cursor.execute("VACUUM ANALYZE knowledge_kbchunk")
    forget_common_lexemes()  # as ingest does: word statistics changed
    return {
        "synthetic_chunks": len(docs) * CHUNKS_PER_DOC,
        "noise_std": noise,
        "load_seconds": round(load_s, 1),
    }


def remove_synthetic(index_sql: str) -> None:
    """Drops the synthetic rows and leaves the product's index (`index_sql`) in place."""
    from django.db import connection

    from knowledge.models import KBDocument
    from knowledge.search import forget_common_lexemes

    if not KBDocument.objects.filter(external_id__startswith=SYNTHETIC_PREFIX).exists():
        return
    with connection.cursor() as cursor:
        # Vacuuming 200k dead entries out of an HNSW graph takes far longer than rebuilding the
        # graph for what is left, so the index is dropped first and rebuilt after.
        cursor.execute("DROP INDEX IF EXISTS kbchunk_embedding_hnsw_idx")
        KBDocument.objects.filter(external_id__startswith=SYNTHETIC_PREFIX).delete()
        cursor.execute("VACUUM ANALYZE knowledge_kbchunk")
        cursor.execute(index_sql)
    forget_common_lexemes()


TIE = 1e-6  # distances this close are equal (float4 vectors)
# Exact answers do not depend on the index: computed once per query and filter, not per sweep.
_exact_rows: dict[tuple[str, str, int], list[tuple[int, int, float]]] = {}


def _exact(cursor: Any, sql: str, params: list[Any]) -> list[tuple[int, int, float]]:
    key = (sql, params[0], params[-1])
    if key not in _exact_rows:
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(sql, params)
        _exact_rows[key] = cursor.fetchall()
        cursor.execute("SET LOCAL enable_indexscan = on")
    return _exact_rows[key]


def hnsw_recall(
    queries: np.ndarray,
    ef_search: int,
    k: int = 10,
    fetch: int | None = None,
    filtered: bool = False,
) -> dict[str, Any]:
    """Share of the exact top-k (sequential scan) that the HNSW index returns. With `fetch`, as
    the product's vector leg does it: `fetch` rows with an iterative scan, best k of those;
    `filtered` adds the leg's filter (published documents, the kinds it searches)."""
    from django.db import connection, transaction

    from knowledge.models import KBDocument
    from knowledge.search import ALL_KINDS, VECTOR_SQL, _documents_sql

    if filtered:
        sub_sql, sub_params = _documents_sql(KBDocument.objects.published())
        sql = VECTOR_SQL.format(documents=sub_sql)
    else:
        sql = (
            "SELECT id, 0, embedding <=> %s::vector AS d FROM knowledge_kbchunk ORDER BY d LIMIT %s"
        )

    def params(literal: str, limit: int) -> list[Any]:
        if filtered:
            return [literal, list(ALL_KINDS), *sub_params, limit]
        return [literal, limit]

    strict = tied = 0
    ann_ms = []
    for vector in queries:
        literal = str(vector.tolist())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
            if fetch:
                cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
            started = time.perf_counter()
            cursor.execute(sql, params(literal, fetch or k))
            ann_ms.append((time.perf_counter() - started) * 1000)
            ann = sorted(cursor.fetchall(), key=lambda row: row[2])[:k]
            exact = _exact(cursor, sql, params(literal, k))
        exact_ids = {row[0] for row in exact}
        strict += sum(row[0] in exact_ids for row in ann)
        kth = exact[-1][2] if exact else 0.0
        tied += sum(row[0] in exact_ids or row[2] <= kth + TIE for row in ann)
    return {
        "ef_search": ef_search,
        "fetched": fetch or k,
        "filtered": filtered,
        f"recall_at_{k}": round(strict / (k * len(queries)), 4),
        f"recall_at_{k}_ties_counted": round(tied / (k * len(queries)), 4),
        "ann_p95_ms": latency_summary(ann_ms)["p95_ms"],
    }


def neighbourhood(queries: np.ndarray, k: int = 10) -> dict[str, float]:
    """How hard the data is for an approximate index, from the exact top k+1 of each query:
    the share of synthetic rows in the top k, the median distance to the k-th neighbour, the
    median gap between the k-th and the next (near-ties make any ANN index miss), and how many
    queries have a tie at the k-th place (identical passages)."""
    from django.db import connection, transaction

    from knowledge.models import KBChunk

    real = set(
        KBChunk.objects.exclude(document__external_id__startswith=SYNTHETIC_PREFIX).values_list(
            "pk", flat=True
        )
    )
    sql = "SELECT id, 0, embedding <=> %s::vector AS d FROM knowledge_kbchunk ORDER BY d LIMIT %s"
    synthetic = ties = 0
    kth, gaps = [], []
    for vector in queries:
        with transaction.atomic(), connection.cursor() as cursor:
            rows = _exact(cursor, sql, [str(vector.tolist()), k + 1])
        synthetic += sum(row[0] not in real for row in rows[:k])
        kth.append(rows[k - 1][2])
        gaps.append(rows[k][2] - rows[k - 1][2])
        ties += rows[k][2] - rows[k - 1][2] <= TIE
    return {
        "synthetic_share_of_exact_top10": round(synthetic / (k * len(queries)), 4),
        "median_distance_to_10th": round(float(np.median(kth)), 4),
        "median_gap_10th_to_11th": round(float(np.median(gaps)), 5),
        "queries_with_tie_at_10th": round(ties / len(queries), 4),
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


def measure_index(
    index_sql: str, m: int, ef_construction: int, texts: list[str], vectors: np.ndarray
) -> dict[str, Any]:
    """Builds the graph with these parameters and measures it."""
    from knowledge.search import CANDIDATES, EF_SEARCH

    built = build_index(with_parameters(index_sql, m, ef_construction))
    recall = [hnsw_recall(vectors, ef) for ef in sorted({EF_SEARCH, 40, 100, 200, 400})]
    recall.append(hnsw_recall(vectors, EF_SEARCH, fetch=CANDIDATES, filtered=True))
    return {
        "m": m,
        "ef_construction": ef_construction,
        "hnsw_build_seconds": built,
        "hybrid": search_latency(texts),
        "hnsw": recall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--noise", type=float, default=0.01, help="per-dimension noise std")
    parser.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="M:EF_CONSTRUCTION",
        help="HNSW parameters to compare (repeat); the product's own are always measured first",
    )
    parser.add_argument("--note", default="", help="what else ran on the machine")
    args = parser.parse_args()
    setup_django()
    from django.core.management import call_command

    from knowledge.embeddings import embed_queries
    from knowledge.models import KBChunk, KBDocument
    from knowledge.search import EF_SEARCH

    if not KBDocument.objects.exists():
        call_command("load_demo_kb")
    index_sql = _hnsw_index_sql()
    remove_synthetic(index_sql)
    product = re.search(r"m='?(\d+)'?, ef_construction='?(\d+)", index_sql)
    if product is None:
        raise SystemExit(f"cannot read the HNSW parameters from {index_sql}")
    configs = [(int(product[1]), int(product[2]))]
    configs += [tuple(int(x) for x in spec.split(":")) for spec in args.index]  # type: ignore[misc]
    rows = read_csv(DATASETS / "bitext" / "intents_train.csv")
    texts = [row["text"] for row in random.Random(1).sample(rows, args.queries)]
    vectors = embed_queries(texts[:200])
    base = {"kb_chunks": KBChunk.objects.count(), **search_latency(texts)}
    base_data = neighbourhood(vectors)
    loaded = add_synthetic(args.chunks, args.noise)
    _exact_rows.clear()
    result: dict[str, Any] = {
        "note": args.note,
        "ef_search": EF_SEARCH,
        "demo_size": {**base, **base_data},
    }
    try:
        result["at_scale"] = {"kb_chunks": KBChunk.objects.count(), **loaded}
        result["at_scale"].update(neighbourhood(vectors))
        result["indexes"] = []
        for m, ef in configs:
            result["indexes"].append(measure_index(index_sql, m, ef, texts, vectors))
            write_result("search_scale", result)  # each index's numbers as soon as they exist
    finally:
        remove_synthetic(index_sql)


if __name__ == "__main__":
    main()
