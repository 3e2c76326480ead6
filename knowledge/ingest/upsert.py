"""Idempotent upsert of DocumentSpecs: a transaction per batch; unchanged text isn't re-embedded."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from knowledge.bulk import copy_chunks, vector_index_built_after
from knowledge.chunking import chunk_text
from knowledge.embeddings import embed_documents
from knowledge.ingest.readers import read_source
from knowledge.ingest.specs import DocumentSpec, IngestReport, ReadProblem, unstorable
from knowledge.languages import text_search_config
from knowledge.matching import calibrate_learned
from knowledge.models import ChunkKind, EmbeddingStatus, KBChunk, KBDocument
from knowledge.search import forget_common_lexemes
from knowledge.specifics import find_specifics

BATCH_SIZE = 32
# A load of at least this many new passages into an empty KB (the first import, the demo KB)
# builds the vector index once at the end instead of growing it row by row (_load_into_empty).
BULK_LOAD_MIN_CHUNKS = 1000
Progress = Callable[[int], None]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def desired_chunks(document: KBDocument) -> list[tuple[str, int, str]]:
    """(kind, ordinal, text) for every passage of a document: its content, then its questions."""
    content = [(ChunkKind.CONTENT.value, i, t) for i, t in enumerate(chunk_text(document.content))]
    questions = document.metadata.get("questions") or []
    return content + [(ChunkKind.QUESTION.value, i, q) for i, q in enumerate(questions)]


Vectors = dict[str, Any]  # text_hash -> embedding


def known_vectors(hashes: Iterable[str]) -> Vectors:
    """Embeddings already stored for these texts (identical text, identical vector)."""
    wanted = set(hashes)
    rows = KBChunk.objects.filter(text_hash__in=wanted, embedding__isnull=False)
    return dict(rows.values_list("text_hash", "embedding").distinct("text_hash").order_by())


def vectors_for(texts: Iterable[str]) -> tuple[Vectors, int]:
    """Vectors for all texts: reused where stored, the rest embedded in one batched call
    (one large call keeps batches length-sorted, which is what makes encoding fast)."""
    by_hash = {text_hash(text): text for text in texts}
    vectors = known_vectors(by_hash)
    missing = [h for h in by_hash if h not in vectors]
    encoded = embed_documents([by_hash[h] for h in missing])
    vectors.update(zip(missing, encoded, strict=True))
    return vectors, len(missing)


def rebuild_chunks(documents: Sequence[KBDocument], vectors: Vectors | None = None) -> int:
    """Replace the documents' chunks. Vectors come from `vectors`, else from stored identical
    text, else are embedded now. Returns how many passages this call embedded."""
    planned = [(doc, *chunk) for doc in documents for chunk in desired_chunks(doc)]
    vectors = dict(vectors or {})
    missing = {row[3] for row in planned if text_hash(row[3]) not in vectors}
    fresh, embedded = vectors_for(missing)
    vectors.update(fresh)
    rows = [
        (
            doc.pk,
            kind,
            ordinal,
            text,
            text_hash(text),
            vectors[text_hash(text)],
            text_search_config(doc.language),  # stemmed in the article's language
        )
        for doc, kind, ordinal, text in planned
    ]
    KBChunk.objects.filter(document__in=documents).delete()
    copy_chunks(rows)
    # After commit: a search in this process between now and then would recompute them from
    # the chunks as they were, and keep that for the cache's TTL.
    transaction.on_commit(forget_common_lexemes)
    now = timezone.now()
    for document in documents:
        document.embedding_status = EmbeddingStatus.READY
        document.embedded_at = now
    KBDocument.objects.bulk_update(documents, ["embedding_status", "embedded_at"])
    return embedded


def _apply(spec: DocumentSpec, document: KBDocument) -> None:
    document.title = spec.title
    document.content = spec.content
    document.intent = spec.intent
    document.category = spec.category
    document.language = spec.language
    document.metadata = {**spec.metadata, "questions": list(spec.questions)}
    if specifics := find_specifics(spec.content):
        # Example text a draft must not repeat (knowledge/specifics.py); admin lists them.
        document.metadata["example_specifics"] = specifics
    document.content_hash = spec.content_hash()


def _upsert_batch(batch: Sequence[DocumentSpec], report: IngestReport, vectors: Vectors) -> None:
    keys = Q()
    for spec in batch:
        keys |= Q(source=spec.source, external_id=spec.external_id)
    existing = {
        (doc.source, doc.external_id): doc
        for doc in KBDocument.objects.select_for_update().filter(keys)
    }
    changed: list[KBDocument] = []
    for spec in batch:
        document = existing.get((spec.source, spec.external_id))
        if document is None:
            document = KBDocument(source=spec.source, external_id=spec.external_id)
            report.created += 1
        elif (
            document.content_hash == spec.content_hash()
            and document.embedding_status == EmbeddingStatus.READY
        ):
            report.unchanged += 1
            continue
        else:
            report.updated += 1
        _apply(spec, document)
        document.embedding_status = EmbeddingStatus.PENDING
        document.save()
        changed.append(document)
    if changed:
        report.chunks_embedded += rebuild_chunks(changed, vectors)


def _changed_texts(specs: Sequence[DocumentSpec]) -> list[str]:
    """Passages of the documents whose stored hash differs: the ones that may need embedding.
    Read before any write, so all new text is embedded in one call, outside the transactions."""
    ready = KBDocument.objects.filter(
        external_id__in={spec.external_id for spec in specs},
        embedding_status=EmbeddingStatus.READY,
    )
    stored = {
        (d.source, d.external_id): d.content_hash
        for d in ready.only("source", "external_id", "content_hash")
    }
    texts: list[str] = []
    for spec in specs:
        if stored.get((spec.source, spec.external_id)) != spec.content_hash():
            draft = KBDocument(content=spec.content, metadata={"questions": list(spec.questions)})
            texts.extend(text for _, _, text in desired_chunks(draft))
    return texts


def _writable(specs: Iterable[DocumentSpec], problems: list[ReadProblem]) -> list[DocumentSpec]:
    """The specs to write: a repeated (source, external_id) or one PostgreSQL cannot store
    (specs.unstorable) is a problem of its own, and the rest are written. The readers report
    these with the row's line and file (readers._refused); what is left here has none (specs
    given directly, Bitext's articles, built from many rows): line 0, named by the source and
    external_id, never by its position among the specs, which read as a line of the file."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for spec in specs:
        key = (spec.source, spec.external_id)
        where = f"{spec.source} {_shortened(spec.external_id)!r}"
        if key in seen:
            problems.append(ReadProblem(0, "duplicate external_id", where))
            continue
        if problem := unstorable(spec):
            problems.append(ReadProblem(0, problem, where))
            continue
        seen.add(key)
        unique.append(spec)
    return unique


def _shortened(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"


def _to_encode(batches: Sequence[Sequence[DocumentSpec]]) -> tuple[Vectors, list[list[str]]]:
    """The stored vectors that new text can reuse, and per batch the distinct texts still to
    encode (a text two batches share is encoded for the first). Read before any write."""
    texts = [_changed_texts(batch) for batch in batches]
    known = known_vectors(text_hash(text) for batch in texts for text in batch)
    seen = set(known)
    groups: list[list[str]] = []
    for batch in texts:
        group = []
        for text in batch:
            digest = text_hash(text)
            if digest not in seen:
                seen.add(digest)
                group.append(text)
        groups.append(group)
    return known, groups


def _encode(texts: list[str]) -> Vectors:
    return dict(zip((text_hash(text) for text in texts), embed_documents(texts), strict=True))


def _write_beside_encoding(
    batches: Sequence[Sequence[DocumentSpec]],
    groups: Sequence[list[str]],
    vectors: Vectors,
    report: IngestReport,
    progress: Progress | None,
) -> None:
    """A transaction per batch. The next batch's text is encoded in a thread while this batch is
    written: PostgreSQL inserting the chunks into the HNSW graph, the largest cost after
    encoding, then runs beside the model instead of after it. The model and the socket both
    release the GIL."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="kb-encode") as encoder:
        ahead = encoder.submit(_encode, groups[0]) if groups else None
        for number, batch in enumerate(batches):
            if ahead is not None:
                vectors.update(ahead.result())
            following = number + 1 < len(batches)
            ahead = encoder.submit(_encode, groups[number + 1]) if following else None
            with transaction.atomic():
                _upsert_batch(batch, report, vectors)
            if progress is not None:
                progress(len(batch))


def _load_into_empty(
    batches: Sequence[Sequence[DocumentSpec]],
    groups: Sequence[list[str]],
    vectors: Vectors,
    report: IngestReport,
    progress: Progress | None,
) -> None:
    """The first import: every text encoded in one pass (the model sorts them by length across
    the whole load: 13.2 s for the Bitext KB against 15.8 s in per-batch groups), then every
    batch written in one transaction with the vector index built once at its end
    (knowledge/bulk.py:vector_index_built_after). Searches wait for that transaction (seconds for
    the demo KB); a failure leaves the KB empty and its index in place."""
    vectors.update(_encode([text for group in groups for text in group]))
    with transaction.atomic(), vector_index_built_after():
        for batch in batches:
            _upsert_batch(batch, report, vectors)
            if progress is not None:
                progress(len(batch))


def upsert_documents(
    specs: Sequence[DocumentSpec],
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> IngestReport:
    report = IngestReport()
    unique = _writable(specs, report.problems)
    batches = [unique[start : start + batch_size] for start in range(0, len(unique), batch_size)]
    vectors, groups = _to_encode(batches)
    report.chunks_embedded = sum(len(group) for group in groups)
    if report.chunks_embedded >= BULK_LOAD_MIN_CHUNKS and not KBChunk.objects.exists():
        _load_into_empty(batches, groups, vectors, report, progress)
    else:
        _write_beside_encoding(batches, groups, vectors, report, progress)
    if report.created or report.updated:
        calibrate_learned()  # the questions learned topics are told apart from changed
    return report


def ingest(
    kind: str, path: Path, progress_factory: Callable[[int], Progress] | None = None
) -> IngestReport:
    """Read a source and upsert it; SourceError (nothing written) if it cannot be read."""
    specs, problems = read_source(kind, path)
    progress = progress_factory(len(specs)) if progress_factory else None
    report = upsert_documents(specs, progress=progress)
    report.problems = problems + report.problems
    return report
