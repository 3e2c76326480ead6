"""GET /evals: the latest evaluation runs; GET /evals/{id}: one run with its per-case results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from evals.models import EvalRun
from resolver.api.auth import scoped
from resolver.api.errors import ERRORS
from resolver.api.types import Text
from resolver.models import Scope

router = Router(tags=["evals"])


class EvalQuery(Schema):
    limit: int = Field(20, ge=1, le=100)
    suite: Annotated[Text, Field(max_length=64)] | None = None


class EvalRunOut(Schema):
    id: int
    suite: str
    dataset: str
    status: str
    provider: str
    model: str
    prompt_version: str
    git_sha: str
    n_items: int
    metrics: dict[str, Any]
    config: dict[str, Any]
    error: str
    started_at: datetime
    finished_at: datetime | None


class EvalList(Schema):
    items: list[EvalRunOut]


class EvalCaseOut(Schema):
    case_id: str
    tags: list[str]
    expect: dict[str, Any]
    actual: dict[str, Any]
    scores: dict[str, Any]
    passed: bool


class EvalRunDetail(EvalRunOut):
    cases: list[EvalCaseOut]


@router.get("/evals", response={200: EvalList, **ERRORS}, auth=scoped(Scope.READ))
def list_evals(request: HttpRequest, query: Query[EvalQuery]) -> dict[str, Any]:
    runs = EvalRun.objects.order_by("-started_at", "-id")
    if query.suite:
        runs = runs.filter(suite=query.suite)
    return {"items": list(runs[: query.limit])}


@router.get("/evals/{run_id}", response={200: EvalRunDetail, **ERRORS}, auth=scoped(Scope.READ))
def read_eval(request: HttpRequest, run_id: int) -> dict[str, Any]:
    run = EvalRun.objects.get(pk=run_id)
    return {**EvalRunOut.from_orm(run).dict(), "cases": list(run.cases.order_by("position"))}
