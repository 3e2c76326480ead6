"""GET /kb/search: the same hybrid search as `kb_search`, for integrations and the console."""

from __future__ import annotations

from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import AfterValidator, Field

from knowledge.models import KBDocument
from knowledge.search import EmptyQueryError
from resolver.api.auth import scoped
from resolver.api.errors import ApiError
from support.api.messages import ERRORS
from support.api.schemas import Text
from support.models import Scope

router = Router(tags=["knowledge"])


def _searchable(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class SearchQuery(Schema):
    q: Annotated[Text, Field(min_length=1, max_length=2000), AfterValidator(_searchable)]
    limit: int = Field(5, ge=1, le=100)


class Result(Schema):
    kb_id: int
    title: str
    snippet: str
    intent: str
    category: str
    score: float


class SearchOut(Schema):
    results: list[Result]


@router.get("/kb/search", response={200: SearchOut, **ERRORS}, auth=scoped(Scope.READ))
def search(request: HttpRequest, query: Query[SearchQuery]) -> dict[str, Any]:
    """Published articles best first (vectors + full text, reciprocal-rank fusion)."""
    try:
        hits = KBDocument.objects.hybrid_search(query.q, query.limit)
    except EmptyQueryError as exc:
        raise ApiError(422, str(exc)) from None
    return {"results": [hit.as_result() for hit in hits]}
