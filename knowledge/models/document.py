"""A knowledge-base article: the unit admins curate and drafts cite (its id is the `kb_id`)."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from django.db import models
from django.utils.text import slugify

from knowledge.languages import DEFAULT_LANGUAGE, Language

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


# Articles of this category tell agents what to do (internal notes): never shown to customers
# (knowledge/search.py:POLICY_CATEGORY says the same for drafts' quotes).
INTERNAL_CATEGORY = "POLICY"
SLUG_CHARS = 80
# The help center's own pages sit beside its articles (/help/search/): no article takes their name.
RESERVED_SLUGS = frozenset({"search", "category"})


def slug_for(title: str, source: str, external_id: str, taken: bool) -> str:
    """An article's URL name: its title's slug; when another article has it, a suffix from its
    (source, external_id), so the same article always gets the same slug."""
    base = slugify(title)[:SLUG_CHARS].strip("-") or "article"
    if not taken and base not in RESERVED_SLUGS:
        return base
    return f"{base}-{hashlib.sha1(f'{source}:{external_id}'.encode()).hexdigest()[:8]}"


class KBDocumentQuerySet(models.QuerySet["KBDocument"]):
    def published(self) -> KBDocumentQuerySet:
        return self.filter(status=DocumentStatus.PUBLISHED)

    def public(self) -> KBDocumentQuerySet:
        """What the public help center shows: published, switched on (`public`: a learned
        article is off until an admin approves it for customers), not an internal note, and not
        in a category switched off (knowledge/models/help.py:HelpCategory)."""
        from knowledge.models.help import HelpCategory

        off = HelpCategory.objects.filter(enabled=False).values("code")
        return (
            self.published()
            .filter(public=True)
            .exclude(category=INTERNAL_CATEGORY)
            .exclude(category__in=off)
        )

    def empty_hint(self) -> str | None:
        """What to tell someone searching a KB with nothing published in it (a fresh data dir)."""
        if self.published().exists():
            return None
        return (
            "the knowledge base has no published articles: load the demo with "
            "`manage.py load_demo_kb`, or your own with `manage.py ingest_kb SOURCE PATH`"
        )

    def learned(self) -> KBDocumentQuerySet:
        """Articles the learning loop made from agents' answers (#16)."""
        return self.filter(source=DocumentSource.LEARNED)

    def in_language(self, language: str) -> KBDocumentQuerySet:
        return self.filter(language=language)

    def languages(self) -> list[str]:
        """The languages published articles are written in (the help center's and the
        extractive provider's choice)."""
        rows = self.published().order_by().values_list("language", flat=True).distinct()
        return sorted(rows)

    def hybrid_search(
        self,
        query: str,
        limit: int = 5,
        *,
        intent: str | None = None,
        language: str | None = None,
        learned: int = 0,
    ) -> list[SearchHit]:
        """Published documents of this queryset that best answer `query`, best first: HNSW
        (cosine) and full-text legs fused with reciprocal-rank fusion. `language`: the query's
        (its full-text configuration; articles in it are preferred); `learned` more learned
        articles the page left out, nearest first, after it. See knowledge/search.py."""
        from knowledge.search import hybrid_search

        return hybrid_search(
            self.published(), query, limit, intent=intent, language=language, learned=learned
        )


class KBDocument(models.Model):
    source = models.CharField(max_length=16, choices=DocumentSource.choices)
    # Stable per source so re-ingesting upserts instead of duplicating.
    external_id = models.CharField(max_length=200)
    intent = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=300)
    content = models.TextField()
    # What the article is written in (ISO 639-1, knowledge/languages.py): its chunks are stemmed
    # in that language, the extractive provider quotes it only to a customer writing in it, the
    # help center lists it under it.
    language = models.CharField(
        max_length=8, choices=Language.choices, default=DEFAULT_LANGUAGE.value
    )
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
    # The help center's URL name (/help/<slug>/): set once from the title, kept when it changes.
    slug = models.SlugField(max_length=100, blank=True, db_index=False)
    # The admin's switch per article for the public help center. A learned article starts off
    # (support/learning/decisions.py): answers taught by agents reach customers' search engines
    # only once an admin approves them here.
    public = models.BooleanField(
        default=True,
        help_text="Shown in the public help center (when published and not an internal note).",
    )
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
            models.UniqueConstraint(fields=["slug"], name="kbdocument_slug_uniq"),
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
                condition=models.Q(language__in=Language.values),
                name="kbdocument_language_valid",
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
            models.Index(fields=["language", "status"], name="kbdocument_language_status_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self.slug:
            clash = KBDocument.objects.exclude(pk=self.pk).filter(
                slug=slug_for(self.title, self.source, self.external_id, taken=False)
            )
            self.slug = slug_for(self.title, self.source, self.external_id, clash.exists())
            if kwargs.get("update_fields") is not None:
                kwargs["update_fields"] = {*kwargs["update_fields"], "slug"}
        super().save(*args, **kwargs)

    @property
    def is_learned(self) -> bool:
        """An article the KB learned from agents' answers (support's learning loop)."""
        return self.source == DocumentSource.LEARNED
