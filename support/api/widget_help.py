"""The widget's help articles (issue #31): suggestions while the visitor types, the article
opened inside the widget, and the deflection a "yes, that answered it" records. Authenticated by
the widget key (X-Widget-Key); only what the public help center shows (KBDocument.public())."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from django.urls import reverse
from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from knowledge.languages import answer_language
from knowledge.models import KBDocument
from knowledge.search import EmptyQueryError, clean_query, hybrid_search
from resolver.api.errors import ERRORS, ApiError
from resolver.api.types import Body, Text
from support.deflections import record_deflection
from support.widget.access import widget_key

router = Router(tags=["widget"])

SUGGESTIONS = 3
# Fewer characters than this match too much to help: no search, no suggestions.
MIN_QUERY_CHARS = 3
QUERY_MAX_CHARS = 500


# What KBDocument.slug holds (a SlugField); anything else is bad input, not a missing article.
ArticleSlug = Annotated[str, Field(max_length=100, pattern=r"^[-a-zA-Z0-9_]+$")]


class SuggestQuery(Schema):
    q: Annotated[Body, Field(max_length=QUERY_MAX_CHARS)]
    # The visitor's browser language (ISO 639-1): its articles are preferred and the query is
    # stemmed in it; empty or one the KB does not have: the default language's stemming.
    lang: str = Field("", pattern=r"^([a-z]{2})?$")


class Suggestion(Schema):
    id: int
    slug: str
    title: str
    snippet: str
    url: str


class Suggestions(Schema):
    items: list[Suggestion]


class ArticleOut(Schema):
    id: int
    slug: str
    title: str
    content: str
    url: str


class DeflectionIn(Schema):
    article_id: int = Field(ge=1, le=2**63 - 1)
    # What the visitor had typed: only its keyed hash is stored (support/deflections.py).
    query: Annotated[Text, Field(max_length=QUERY_MAX_CHARS)] = ""


class DeflectionOut(Schema):
    id: int
    article_id: int


def _url(request: HttpRequest, slug: str) -> str:
    return request.build_absolute_uri(reverse("help:article", args=[slug]))


@router.get("/widget/suggest", response={200: Suggestions, **ERRORS}, auth=None)
def suggest(request: HttpRequest, query: Query[SuggestQuery]) -> dict[str, Any]:
    """Up to three public help articles matching what the visitor is typing, best first."""
    widget_key(request, origin_required=False)
    text = " ".join(query.q.split())
    if len(text) < MIN_QUERY_CHARS:
        return {"items": []}
    documents = KBDocument.objects.public()
    try:
        hits = hybrid_search(
            documents, clean_query(text), SUGGESTIONS, language=answer_language(query.lang)
        )
    except EmptyQueryError as exc:
        raise ApiError(422, str(exc)) from None
    slugs = dict(documents.filter(pk__in=[hit.kb_id for hit in hits]).values_list("pk", "slug"))
    items = [
        {
            "id": hit.kb_id,
            "slug": slugs[hit.kb_id],
            "title": hit.title,
            "snippet": hit.snippet,
            "url": _url(request, slugs[hit.kb_id]),
        }
        for hit in hits
        if hit.kb_id in slugs  # unpublished since the search read it: left out
    ]
    return {"items": items}


@router.get("/widget/articles/{slug}", response={200: ArticleOut, **ERRORS}, auth=None)
def article(request: HttpRequest, slug: Path[ArticleSlug]) -> dict[str, Any]:
    """One public help article, to read inside the widget."""
    widget_key(request, origin_required=False)
    document = KBDocument.objects.public().filter(slug=slug).first()
    if document is None:
        raise ApiError(404, "no such help article")
    return {
        "id": document.pk,
        "slug": document.slug,
        "title": document.title,
        "content": document.content,
        "url": _url(request, document.slug),
    }


@router.post(
    "/widget/deflections", response={201: DeflectionOut, 200: DeflectionOut, **ERRORS}, auth=None
)
def deflect(request: HttpRequest, payload: DeflectionIn) -> Status[dict[str, Any]]:
    """The visitor said the article answered their question: no conversation, one deflection
    (the same visitor again for the same article within a day: 200, the first one)."""
    key = widget_key(request)
    visitor = request.META.get("REMOTE_ADDR") or ""
    deflection, new = record_deflection(key, payload.article_id, payload.query, visitor)
    found = deflection.pk if deflection is not None else 0
    return Status(201 if new else 200, {"id": found, "article_id": payload.article_id})
