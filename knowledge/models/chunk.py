"""A searchable passage of a KB document, with its embedding and full-text vector."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import HnswIndex, VectorField

from knowledge.languages import DEFAULT_LANGUAGE, searchable_expression, text_search_config


class ChunkKind(models.TextChoices):
    CONTENT = "content", "Article text"
    # Customer questions that led to the article: lets a message match question-to-question.
    QUESTION = "question", "Customer question"


class RegConfigField(models.TextField):
    """A PostgreSQL `regconfig` (a text-search configuration's name, checked by the server): a
    generated tsvector may read it per row, which a text column cast to regconfig may not (the
    cast is not immutable)."""

    def db_type(self, connection: object) -> str:
        return "regconfig"


class KBChunk(models.Model):
    document = models.ForeignKey(
        "knowledge.KBDocument", on_delete=models.CASCADE, related_name="chunks"
    )
    kind = models.CharField(max_length=16, choices=ChunkKind.choices, default=ChunkKind.CONTENT)
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    text_hash = models.CharField(max_length=64)
    embedding = VectorField(dimensions=settings.EMBEDDING_DIMENSIONS, null=True, blank=True)
    # The text-search configuration of the document's language (knowledge/languages.py): a
    # Spanish passage is stemmed as Spanish. Set from KBDocument.language whenever chunks are
    # rebuilt (knowledge/ingest/upsert.py; an admin's change of the language rebuilds them).
    search_config = RegConfigField(default=text_search_config(DEFAULT_LANGUAGE))
    # Postgres keeps this in step with `text` (punctuation the parser would glue to a word
    # blanked out: knowledge/languages.py); the GIN index below serves full-text search.
    search_vector = models.GeneratedField(
        expression=SearchVector(searchable_expression("text"), config=models.F("search_config")),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        verbose_name = "KB chunk"
        ordering = ["document", "kind", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["document", "kind", "ordinal"], name="kbchunk_document_kind_ordinal_uniq"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ChunkKind.values), name="kbchunk_kind_valid"
            ),
        ]
        indexes = [
            # m=32/ef_construction=256 (not pgvector's 16/64): at 200k chunks recall@10 at
            # ef_search=100 went from 0.86 (16/64) to 0.96 (32/128) to 0.999 (32/256)
            # (bench/search_scale.py), for a slower build and slower inserts.
            HnswIndex(
                name="kbchunk_embedding_hnsw_idx",
                fields=["embedding"],
                m=32,
                ef_construction=256,
                opclasses=["vector_cosine_ops"],
            ),
            GinIndex(fields=["search_vector"], name="kbchunk_search_vector_gin_idx"),
            # Embeddings reused by text (ingest/upsert.py:known_vectors, each ingest batch and
            # every article edit): without it each read scanned every chunk, vectors and all.
            models.Index(fields=["text_hash"], name="kbchunk_text_hash_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}/{self.kind}/{self.ordinal}"
