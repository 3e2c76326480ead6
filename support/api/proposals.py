"""The learning loop's proposals: GET /proposals (scope read), POST /proposals/{id}/approve and
/dismiss (scope act), through support/learning.py as the console and admin do."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from knowledge.models import Proposal, ProposalKind, ProposalStatus
from resolver.api.auth import actor_of, scoped
from resolver.api.errors import ERRORS
from resolver.api.types import Text
from resolver.models import Scope
from support import learning

router = Router(tags=["proposals"])


class Source(Schema):
    conversation_id: str | None = None
    draft_id: str | None = None


class ProposalOut(Schema):
    id: int
    kind: ProposalKind
    status: ProposalStatus
    title: str
    question: str
    answer: str
    intent: str | None
    source_count: int
    sources: list[Source]
    created_at: datetime
    decided_at: datetime | None
    decided_by: str | None


class ProposalPage(Schema):
    items: list[ProposalOut]


class ProposalQuery(Schema):
    status: ProposalStatus | None = None
    kind: ProposalKind | None = None
    limit: int = Field(20, ge=1, le=100)


class ApproveIn(Schema):
    answer: Annotated[Text, Field(max_length=8000)] | None = None
    title: Annotated[Text, Field(max_length=300)] | None = None


class DismissIn(Schema):
    reason: Annotated[Text, Field(max_length=2000)] | None = None


@router.get("/proposals", response={200: ProposalPage, **ERRORS}, auth=scoped(Scope.READ))
def list_proposals(request: HttpRequest, query: Query[ProposalQuery]) -> dict[str, Any]:
    proposals = Proposal.objects.select_related("decided_by").by_impact()
    if query.status:
        proposals = proposals.filter(status=query.status)
    if query.kind:
        proposals = proposals.filter(kind=query.kind)
    return {"items": [p.as_wire() for p in proposals[: query.limit]]}


@router.post(
    "/proposals/{proposal_id}/approve",
    response={200: ProposalOut, **ERRORS},
    auth=scoped(Scope.ACT),
)
def approve(
    request: HttpRequest, proposal_id: int, payload: ApproveIn | None = None
) -> dict[str, Any]:
    answer = (payload.answer if payload else None) or ""
    title = (payload.title if payload else None) or ""
    return learning.approve(proposal_id, actor_of(request), answer, title).as_wire()


@router.post(
    "/proposals/{proposal_id}/dismiss",
    response={200: ProposalOut, **ERRORS},
    auth=scoped(Scope.ACT),
)
def dismiss(
    request: HttpRequest, proposal_id: int, payload: DismissIn | None = None
) -> dict[str, Any]:
    reason = (payload.reason if payload else None) or ""
    return learning.dismiss(proposal_id, actor_of(request), reason).as_wire()
