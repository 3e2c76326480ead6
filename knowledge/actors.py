"""Background work on the knowledge base."""

from __future__ import annotations

import logging
from datetime import timedelta
from functools import partial

import dramatiq
from django.db import transaction
from django.utils import timezone

from knowledge.ingest.upsert import desired_chunks, rebuild_chunks, vectors_for
from knowledge.matching import calibrate_learned
from knowledge.models import EmbeddingStatus, KBDocument

logger = logging.getLogger(__name__)


@dramatiq.actor(queue_name="knowledge", max_retries=3, time_limit=10 * 60 * 1000)
def reindex_document(document_id: int) -> None:
    """Re-chunk and re-embed one document after an edit. Takes an id, so a retry or a duplicate
    message re-reads the current text. The model runs before the row lock is taken (embedding
    is the slow part); under the lock, texts edited meanwhile are embedded by rebuild_chunks."""
    pending = KBDocument.objects.filter(pk=document_id, embedding_status=EmbeddingStatus.PENDING)
    document = pending.first()
    if document is None:  # deleted, or another run already finished it
        logger.info("reindex_document %s: nothing pending", document_id)
        return
    vectors, _ = vectors_for(text for _, _, text in desired_chunks(document))
    with transaction.atomic():
        locked = pending.select_for_update().first()
        if locked is None:
            logger.info("reindex_document %s: finished by another run", document_id)
            return
        rebuild_chunks([locked], vectors)
    # Its keys (or, for another article, the questions learned topics are told apart from)
    # changed: the learned articles' own thresholds are derived again.
    calibrate_learned()


@dramatiq.actor(queue_name="knowledge", max_retries=3, time_limit=10 * 60 * 1000)
def calibrate_learned_articles() -> None:
    """Re-derives the published learned articles' thresholds (knowledge/matching.py): after a
    learned article is published, unpublished or deleted without a re-embed, its neighbours'
    closest other topic changed. Takes nothing, reads the current rows: a duplicate or a retry
    derives the same thresholds."""
    calibrate_learned()


def enqueue_calibration() -> None:
    """Re-calibrate the learned articles once the change's transaction has committed (Redis
    down: the change is saved; the next re-embed or import calibrates them all again)."""
    transaction.on_commit(calibrate_learned_articles.send, robust=True)


def enqueue_reindex(document_ids: list[int]) -> None:
    """Mark documents pending now; enqueue once the marking transaction has committed (Redis
    down: requeue_stranded_embeddings sends it later; the edit is saved either way)."""
    KBDocument.objects.filter(pk__in=document_ids).update(
        embedding_status=EmbeddingStatus.PENDING, updated_at=timezone.now()
    )
    for document_id in document_ids:
        transaction.on_commit(partial(reindex_document.send, document_id), robust=True)


# A re-embed pending this long lost its queue message: longer than a run may take (its time
# limit), so a slow run is not started twice.
EMBEDDING_STRANDED_AFTER = timedelta(minutes=11)


def requeue_stranded_embeddings() -> int:
    """Re-sends the re-embeds still pending long after their edit (the outbox sweep)."""
    late = timezone.now() - EMBEDDING_STRANDED_AFTER
    stranded = KBDocument.objects.filter(
        embedding_status=EmbeddingStatus.PENDING, updated_at__lt=late
    )
    ids = list(stranded.values_list("pk", flat=True)[:1000])
    for document_id in ids:
        reindex_document.send(document_id)
        # Sent now: looked at again only after another EMBEDDING_STRANDED_AFTER.
        KBDocument.objects.filter(pk=document_id).update(updated_at=timezone.now())
    return len(ids)
