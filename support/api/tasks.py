"""Follow-up tasks (CONTRACTS.md, "Additions (2026-12-05)"): GET /tasks (scope read), POST /tasks
and PATCH /tasks/{id} (scope act). The actions are support/tasks.py's, as the console's are."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Header, Query, Router, Schema, Status
from pydantic import Field

from resolver.api.auth import actor_of, scoped
from resolver.api.errors import ERRORS, ApiError
from resolver.api.idempotency import check_key, once
from resolver.api.types import Text
from resolver.audit_actor import Actor
from resolver.models import Scope
from support import tasks
from support.api.cursor import after_due, encode_due
from support.models import Task
from support.vocabulary import TaskCreator, TaskStatus

router = Router(tags=["tasks"])

# `assignee=me` in GET /tasks: the console user calling.
ME = "me"
# `assignee=none`: nobody's yet.
NOBODY = "none"


# A string, parsed by support/tasks.py:parse_due, so that a bad one is refused with one reason.
DUE_AT = (
    "ISO 8601: a date-time (without an offset: UTC) or a date (due by the end of that day); "
    "not in the past, at most five years ahead"
)


class TaskOut(Schema):
    id: uuid.UUID
    conversation_id: uuid.UUID
    title: str
    due_at: datetime | None
    assignee: str | None  # the user's username
    status: TaskStatus
    created_by: TaskCreator
    created_at: datetime
    # Additions to the contract's shape: when it was done, the create_follow_up action that
    # made it, and whether it is open past its due date.
    done_at: datetime | None
    action_id: uuid.UUID | None
    overdue: bool


class TaskPage(Schema):
    items: list[TaskOut]
    next_cursor: str | None = Field(None, description="Pass back as `cursor` for the next page.")


class TaskIn(Schema):
    conversation_id: uuid.UUID
    title: Text
    due_at: Text | None = Field(None, description=DUE_AT)
    assignee: Text | None = None  # a username; absent: nobody yet


class TaskPatch(Schema):
    """Only what is sent changes; `null` clears the due date or the assignee."""

    title: Text | None = None
    due_at: Text | None = Field(None, description=DUE_AT)
    assignee: Text | None = None
    status: TaskStatus | None = None


class TaskFilter(Schema):
    status: TaskStatus | None = None
    # "me" (the console user calling), "none" (unassigned) or a username.
    assignee: Text | None = None
    # true: open and past their due date; false: the others.
    overdue: bool | None = None
    conversation_id: uuid.UUID | None = None
    limit: int = Field(50, ge=1, le=200)
    cursor: str | None = Field(None, max_length=300)


def _assignee_filter(assignee: str, actor: Actor) -> dict[str, Any]:
    if assignee == NOBODY:
        return {"assignee__isnull": True}
    if assignee == ME:
        if actor.user is None:
            raise ApiError(
                422,
                "assignee=me names the console user calling; an API key is not one: "
                "pass a username",
            )
        return {"assignee": actor.user}
    try:
        # Anyone's, a former agent's too (their open tasks are the ones to hand over).
        return {"assignee": tasks.find_user(assignee)}
    except tasks.TaskError as exc:
        raise ApiError(422, exc.detail) from None


@router.get("/tasks", response={200: TaskPage, **ERRORS}, auth=scoped(Scope.READ))
def list_tasks(request: HttpRequest, filters: Query[TaskFilter]) -> dict[str, Any]:
    """Soonest due first (no due date last), at most `limit`; pass `next_cursor` back as
    `cursor` for the next page (every task is reachable, however many)."""
    found = Task.objects.all()
    if filters.status:
        found = found.filter(status=filters.status)
    if filters.assignee:
        found = found.filter(**_assignee_filter(filters.assignee, actor_of(request)))
    if filters.conversation_id:
        found = found.filter(conversation_id=filters.conversation_id)
    if filters.overdue is not None:
        late = Task.objects.overdue(timezone.now()).values("id")
        found = found.filter(id__in=late) if filters.overdue else found.exclude(id__in=late)
    if filters.cursor:
        found = found.filter(after_due(filters.cursor))
    page = list(found.in_due_order()[: filters.limit + 1])
    more = len(page) > filters.limit
    page = page[: filters.limit]
    last = page[-1] if more else None
    return {
        "items": [tasks.as_wire(t) for t in page],
        "next_cursor": encode_due(last.due_at, last.created_at, last.pk) if last else None,
    }


@router.post("/tasks", response={201: TaskOut, **ERRORS}, auth=scoped(Scope.ACT))
def create_task(
    request: HttpRequest,
    payload: TaskIn,
    idempotency_key: str | None = Header(None, alias="Idempotency-Key"),
) -> Status[dict[str, Any]]:
    """A new open task, made by an agent (`created_by` "agent"); 404 for an unknown
    conversation, 422 with the reason for an empty title, a due date in the past or an assignee
    who is not an agent. With an `Idempotency-Key`, a retry (a timeout) gets the first answer
    back instead of a second task, as POST /messages does."""
    key = check_key(idempotency_key) if idempotency_key else None
    actor = actor_of(request)

    def create() -> tuple[int, dict[str, Any]]:
        task = tasks.create_task(
            payload.conversation_id,
            payload.title,
            due_at=payload.due_at,
            assignee=payload.assignee,
            created_by=TaskCreator.AGENT,
            actor=actor,
        )
        # As JSON: the answer is stored for a retry to get back.
        return 201, TaskOut.model_validate(tasks.as_wire(task)).model_dump(mode="json")

    # Keys are the caller's per endpoint: one used for a message is not a task's.
    owner = f"{actor.owner}/tasks"
    status, body = once(owner, key, payload.model_dump(mode="json"), create)
    return Status(status, body)


@router.patch("/tasks/{task_id}", response={200: TaskOut, **ERRORS}, auth=scoped(Scope.ACT))
def update_task(request: HttpRequest, task_id: uuid.UUID, payload: TaskPatch) -> dict[str, Any]:
    """Changes what the body sends: `status` done or open again, `title`, `due_at`, `assignee`
    (null clears the last two). Sending nothing, or what it already is, changes nothing."""
    changes = payload.model_dump(exclude_unset=True)
    task = tasks.update_task(task_id, actor_of(request), **changes)
    return tasks.as_wire(task)
