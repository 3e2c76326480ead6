"""The draft queue and what humans do with drafts."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from knowledge.taxonomy import UnknownIntent, check_intent
from resolver.api.auth import actor_of, scoped
from resolver.api.errors import ERRORS, ApiError
from resolver.models import Scope
from support import review
from support.actions import decide
from support.api.cursor import after, encode
from support.api.schemas import (
    ActionApproveIn,
    ActionOut,
    ActionRejectIn,
    ApproveIn,
    CorrectedOut,
    CorrectIn,
    DraftOut,
    DraftPage,
    RejectIn,
)
from support.models import Draft, DraftStatus

router = Router(tags=["drafts"])


class DraftFilter(Schema):
    status: DraftStatus | None = None
    intent: str | None = Field(None, max_length=64, description="One of GET /intents.")
    limit: int = Field(20, ge=1, le=100)
    cursor: str | None = Field(None, max_length=200)


@router.get("/drafts", response={200: DraftPage, **ERRORS}, auth=scoped(Scope.READ))
def list_drafts(request: HttpRequest, filters: Query[DraftFilter]) -> dict[str, Any]:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    drafts = Draft.objects.with_actions().order_by("-created_at", "-id")
    if filters.status:
        drafts = drafts.filter(status=filters.status)
    if filters.intent:
        try:
            drafts = drafts.filter(intent=check_intent(filters.intent))
        except UnknownIntent as exc:
            raise ApiError(422, str(exc), code="unknown_intent") from None
    if filters.cursor:
        drafts = drafts.filter(after(filters.cursor))
    page = list(drafts[: filters.limit + 1])
    more = len(page) > filters.limit
    page = page[: filters.limit]
    return {
        "items": [draft.as_wire() for draft in page],
        "next_cursor": encode(page[-1].created_at, page[-1].pk) if more else None,
    }


@router.post(
    "/drafts/{draft_id}/approve", response={200: DraftOut, **ERRORS}, auth=scoped(Scope.ACT)
)
def approve(
    request: HttpRequest, draft_id: uuid.UUID, payload: ApproveIn | None = None
) -> dict[str, Any]:
    """Sends the draft (or `edited`, if given) to the customer as an AGENT message; with
    `basis` (the answer_digest `edited` was made from), 409 if the answer changed since."""
    edited = payload.edited if payload else None
    basis = payload.basis if payload else None
    return review.approve(draft_id, actor_of(request), edited, basis=basis).as_wire()


@router.post(
    "/drafts/{draft_id}/correct", response={200: CorrectedOut, **ERRORS}, auth=scoped(Scope.ACT)
)
def correct(request: HttpRequest, draft_id: uuid.UUID, payload: CorrectIn) -> dict[str, Any]:
    """Corrects a reply sent without a human (an addition to CONTRACTS.md): `text` goes to the
    customer as an AGENT message, the audit trail records it, and the draft's intent goes back
    to review (CORRECTED). 409 for a draft that was not sent automatically."""
    reply = review.correct(draft_id, actor_of(request), payload.text)
    return {"draft_id": draft_id, "message_id": reply.pk, "body": reply.body}


@router.post(
    "/drafts/{draft_id}/reject", response={200: DraftOut, **ERRORS}, auth=scoped(Scope.ACT)
)
def reject(
    request: HttpRequest, draft_id: uuid.UUID, payload: RejectIn | None = None
) -> dict[str, Any]:
    reason = (payload.reason if payload else None) or ""
    category = (payload.category if payload else None) or ""
    return review.reject(draft_id, actor_of(request), reason, category).as_wire()


@router.post(
    "/drafts/{draft_id}/escalate", response={200: DraftOut, **ERRORS}, auth=scoped(Scope.ACT)
)
def escalate(request: HttpRequest, draft_id: uuid.UUID) -> dict[str, Any]:
    return review.escalate(draft_id, actor_of(request)).as_wire()


@router.post(
    "/drafts/{draft_id}/actions/{action_id}/approve",
    response={200: ActionOut, **ERRORS},
    auth=scoped(Scope.ACT),
)
def approve_action(
    request: HttpRequest,
    draft_id: uuid.UUID,
    action_id: uuid.UUID,
    payload: ActionApproveIn | None = None,
) -> dict[str, Any]:
    """Approves a proposed action (with corrected `arguments`, if given), re-checked against the
    store's facts as they are now, and executes it: the Action, `executed` or `failed` with the
    reason (`approved` while the store's backend retries it). Approving again executes nothing."""
    arguments = payload.arguments if payload else None
    action = decide.approve(action_id, actor_of(request), arguments, draft_id=draft_id)
    return action.as_wire()


@router.post(
    "/drafts/{draft_id}/actions/{action_id}/reject",
    response={200: ActionOut, **ERRORS},
    auth=scoped(Scope.ACT),
)
def reject_action(
    request: HttpRequest,
    draft_id: uuid.UUID,
    action_id: uuid.UUID,
    payload: ActionRejectIn | None = None,
) -> dict[str, Any]:
    """The action will not run; the reply sent says its fallback instead of its confirmation."""
    reason = (payload.reason if payload else None) or ""
    return decide.reject(action_id, actor_of(request), reason, draft_id=draft_id).as_wire()
