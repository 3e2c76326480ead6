"""GET /kb/search: the same hybrid search as `kb_search`, for integrations and the console."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from knowledge.models import KBDocument
from knowledge.search import EmptyQueryError, SearchResult
from knowledge.taxonomy import taxonomy
from resolver.api.auth import scoped
from resolver.api.errors import ERRORS, ApiError
from resolver.api.types import Body
from resolver.models import Scope

router = Router(tags=["knowledge"])


class SearchQuery(Schema):
    q: Annotated[Body, Field(max_length=2000)]
    limit: int = Field(5, ge=1, le=100)


class SearchOut(Schema):
    results: list[SearchResult]


class Intent(Schema):
    intent: str
    category: str


class IntentList(Schema):
    items: list[Intent]


@router.get("/kb/search", response={200: SearchOut, **ERRORS}, auth=scoped(Scope.READ))
def search(request: HttpRequest, query: Query[SearchQuery]) -> dict[str, Any]:
    """Published articles best first (vectors + full text, reciprocal-rank fusion)."""
    try:
        hits = KBDocument.objects.hybrid_search(query.q, query.limit)
    except EmptyQueryError as exc:
        raise ApiError(422, str(exc)) from None
    return {"results": [hit.as_result() for hit in hits]}


@router.get("/intents", response={200: IntentList, **ERRORS}, auth=scoped(Scope.READ))
def list_intents(request: HttpRequest) -> dict[str, Any]:
    """The taxonomy: every intent Resolver knows (the KB's published articles and the triage
    examples agents added) with its category; what GET /drafts?intent= and re-labels accept."""
    return {"items": [{"intent": i, "category": c} for i, c in taxonomy().items()]}
