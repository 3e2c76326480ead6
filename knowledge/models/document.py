"""A knowledge-base article: the unit admins curate and drafts cite (its id is the `kb_id`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

if TYPE_CHECKING:
    from knowledge.search import SearchHit


class DocumentSource(models.TextChoices):
    BITEXT = "bitext", "Bitext answers"
    POLICY = "policy", "Policy (ABCD guidelines)"
    MARKDOWN = "markdown", "Markdown/text files"
    JSONL = "jsonl", "JSON lines"
    MANUAL = "manual", "Written in admin"
    LEARNED = "learned", "Learned from agents' answers"


class DocumentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


class EmbeddingStatus(models.TextChoices):
    PENDING = "pending", "Embedding pending"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class KBDocumentQuerySet(models.QuerySet["KBDocument"]):
    def published(self) -> KBDocumentQuerySet:
        return self.filter(status=DocumentStatus.PUBLISHED)

    def empty_hint(self) -> str | None:
        """What to tell someone searching a KB with nothing published in it (a fresh data dir)."""
        if self.published().exists():
            return None
        return (
            "the knowledge base has no published articles: load the demo with "
            "`manage.py load_demo_kb`, or your own with `manage.py ingest_kb SOURCE PATH`"
        )

    def hybrid_search(
        self, query: str, limit: int = 5, *, intent: str | None = None, learned: int = 0
    ) -> list[SearchHit]:
        """Published documents of this queryset that best answer `query`, best first: HNSW
        (cosine) and full-text legs fused with reciprocal-rank fusion; `learned` more learned
        articles the page left out, nearest first, after it. See knowledge/search.py."""
        from knowledge.search import hybrid_search

        return hybrid_search(self.published(), query, limit, intent=intent, learned=learned)


class KBDocument(models.Model):
    source = models.CharField(max_length=16, choices=DocumentSource.choices)
    # Stable per source so re-ingesting upserts instead of duplicating.
    external_id = models.CharField(max_length=200)
    intent = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=300)
    content = models.TextField()
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.PUBLISHED
    )
    # sha256 of what gets embedded: unchanged text is never re-embedded.
    content_hash = models.CharField(max_length=64, blank=True)
    embedding_status = models.CharField(
        max_length=16, choices=EmbeddingStatus.choices, default=EmbeddingStatus.PENDING
    )
    embedded_at = models.DateTimeField(null=True, blank=True)
    # A learned article's own similarity threshold: how close a message must come to one of its
    # retrieval keys (the taught customer questions) to be answered by it, calibrated on its
    # keys whenever they change (knowledge/matching.py). None for other articles.
    match_threshold = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = KBDocumentQuerySet.as_manager()

    class Meta:
        verbose_name = "KB document"
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="kbdocument_source_external_id_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=DocumentSource.values), name="kbdocument_source_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DocumentStatus.values), name="kbdocument_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(embedding_status__in=EmbeddingStatus.values),
                name="kbdocument_embedding_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(match_threshold__isnull=True)
                | models.Q(match_threshold__gte=0.0, match_threshold__lte=1.0),
                name="kbdocument_match_threshold_range",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "intent"], name="kbdocument_status_intent_idx"),
            models.Index(fields=["category"], name="kbdocument_category_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_learned(self) -> bool:
        """An article the KB learned from agents' answers (support's learning loop)."""
        return self.source == DocumentSource.LEARNED
