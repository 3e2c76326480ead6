"""Follow-up tasks (issue #27): a human-owned next step on a conversation (call the customer
back, check that the replacement shipped), made by an agent (console, API) or by an approved
`create_follow_up` action (support/actions/backends: created_by "ai", the action linked).

Each function validates first (a refusal is a `TaskError`, a 4xx with a reason whatever the
door), then locks, writes and audits in one transaction. Creating the task of an action twice
returns the first one: a backend that runs again after a retry makes no second task."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from resolver.bootstrap import may_use_console
from resolver.events import EventType, make_event
from support.announce import broadcast

# The due date's rules live in support/due.py (the actions' catalogue checks with them too);
# re-exported: callers know them as support.tasks'.
from support.due import TaskError, check_due, check_due_ahead, parse_due
from support.models import Action, AuditAction, AuditLog, Conversation, Task
from support.vocabulary import TaskCreator, TaskStatus

if TYPE_CHECKING:
    from resolver.audit_actor import Actor

logger = logging.getLogger(__name__)

TITLE_MAX_LENGTH = Task._meta.get_field("title").max_length or 300


class NoSuchConversation(TaskError):
    """A task for a conversation that does not exist (404, as POST /messages answers)."""

    status_code = 404
    code = "not_found"


class _Unset:
    """An argument of update_task that was not given (None means: clear it)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


# -- validation --


def check_title(title: Any) -> str:
    if not isinstance(title, str) or not title.strip():
        raise TaskError("title: a task needs a title")
    if "\x00" in title:  # PostgreSQL cannot store it
        raise TaskError("title: NUL characters are not allowed")
    title = " ".join(title.split())  # one line, as the lists show it
    if len(title) > TITLE_MAX_LENGTH:
        raise TaskError(f"title: at most {TITLE_MAX_LENGTH} characters")
    return title


def find_user(username: str) -> Any:
    if "\x00" in username:
        raise TaskError("assignee: NUL characters are not allowed")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise TaskError(f"assignee: no user named {username!r}")
    return user


def check_assignee(assignee: Any) -> Any:
    """The user a task is assigned to (a user or a username; None: nobody yet), who must be
    someone who works the console: a task for anyone else would never be seen."""
    user = resolve_assignee(assignee)
    check_agent(user)
    return user


def resolve_assignee(assignee: Any) -> Any:
    if assignee is None or assignee == "":
        return None
    return find_user(assignee) if isinstance(assignee, str) else assignee


def check_agent(user: Any) -> None:
    if user is not None and not may_use_console(user):
        raise TaskError(f"assignee: {user.get_username()!r} is not an agent")


def check_creator(created_by: Any) -> str:
    if created_by not in TaskCreator.values:
        raise TaskError(f"created_by: one of {', '.join(TaskCreator.values)}")
    return str(created_by)


def check_status(status: Any) -> str:
    if status not in TaskStatus.values:
        raise TaskError(f"status: one of {', '.join(TaskStatus.values)}")
    return str(status)


# -- what the audit rows say --


def snapshot(task: Task) -> dict[str, Any]:
    return {
        "title": task.title,
        "due_at": task.due_at.isoformat() if task.due_at else None,
        "assignee": task.assignee.get_username() if task.assignee else None,
        "status": task.status,
    }


def _audit(task: Task, actor: Actor, action: str, before: Any, after: Any) -> None:
    """The audit row, and after commit the console's open pages of the conversation are told
    (task.changed: the conversation page's task list is pushed again)."""
    event = make_event(
        EventType.TASK_CHANGED, task_id=task.pk, conversation_id=task.conversation_id
    )
    transaction.on_commit(partial(broadcast, event))
    AuditLog.objects.record(
        actor,
        action,
        conversation_id=task.conversation_id,
        before=before,
        after=after,
        task_id=str(task.pk),
        title=task.title,  # what the conversation's activity names it by
        **({"action_id": str(task.action_id)} if task.action_id else {}),
    )


# -- reading --


def as_wire(task: Task) -> dict[str, Any]:
    """The Task object of the API (CONTRACTS.md), plus when it was done and the action that made
    it. Select the assignee with the task: its username is the wire's `assignee`."""
    return {
        "id": task.pk,
        "conversation_id": task.conversation_id,
        "title": task.title,
        "due_at": task.due_at,
        "assignee": task.assignee.get_username() if task.assignee else None,
        "status": task.status,
        "created_by": task.created_by,
        "created_at": task.created_at,
        "done_at": task.done_at,
        "action_id": task.action_id,
        "overdue": task.is_overdue(timezone.now()),
    }


# -- create --


def create_task(
    conversation_id: Any,
    title: str,
    *,
    due_at: datetime | date | str | None = None,
    assignee: Any = None,
    created_by: str,
    actor: Actor,
    action: Action | None = None,
) -> Task:
    """A new open task on the conversation, audited (`task_created`). `assignee`: a user or a
    username; `created_by`: TaskCreator (an approved action's task is "ai" and passes `action`).
    The task of an action that already has one is that one, unchanged."""
    title = check_title(title)
    due = check_due(due_at)
    user = check_assignee(assignee)
    creator = check_creator(created_by)
    with transaction.atomic():
        if action is not None:
            # The action's row lock serialises two runs of its backend: one task, ever.
            Action.objects.select_for_update().filter(pk=action.pk).first()
            existing = Task.objects.filter(action_id=action.pk).first()
            if existing is not None:
                logger.info("action %s already made task %s", action.pk, existing.pk)
                return existing
        if not Conversation.objects.filter(pk=conversation_id).exists():
            raise NoSuchConversation("conversation_id: no such conversation")
        task = Task.objects.create(
            conversation_id=conversation_id,
            title=title,
            due_at=due,
            assignee=user,
            created_by=creator,
            action=action,
        )
        _audit(task, actor, AuditAction.TASK_CREATED, None, snapshot(task))
    return task


# -- update, complete --


@dataclass(frozen=True)
class _Changes:
    fields: dict[str, Any]

    def apply(self, task: Task, now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
        """Sets what differs on `task`; returns (before, after) of what changed."""
        before_all = snapshot(task)
        for name, value in self.fields.items():
            setattr(task, name, value)
        if "status" in self.fields and before_all["status"] != task.status:
            task.done_at = now if task.status == TaskStatus.DONE else None
        after_all = snapshot(task)
        changed = [k for k in after_all if after_all[k] != before_all[k]]
        return {k: before_all[k] for k in changed}, {k: after_all[k] for k in changed}


def _audit_action(before: dict[str, Any], after: dict[str, Any]) -> str:
    if "status" in after:
        return (
            AuditAction.TASK_DONE
            if after["status"] == TaskStatus.DONE
            else AuditAction.TASK_REOPENED
        )
    return AuditAction.TASK_UPDATED


def update_task(
    task_id: Any,
    actor: Actor,
    *,
    title: Any = UNSET,
    due_at: Any = UNSET,
    assignee: Any = UNSET,
    status: Any = UNSET,
) -> Task:
    """Changes what is given (None clears the due date or the assignee); audited when anything
    changed (`task_done`, `task_reopened` or `task_updated`, with before and after of what
    changed). Task.DoesNotExist when there is none (a 404)."""
    now = timezone.now()
    fields: dict[str, Any] = {}
    if title is not UNSET:
        fields["title"] = check_title(title)
    if due_at is not UNSET:
        fields["due_at"] = parse_due(due_at)
    if assignee is not UNSET:
        fields["assignee"] = resolve_assignee(assignee)
    if status is not UNSET:
        fields["status"] = check_status(status)
    with transaction.atomic():
        task = (
            Task.objects.select_for_update(of=("self",)).select_related("assignee").get(pk=task_id)
        )
        # Only a new due date must be ahead, and only a new assignee an agent: a client sending
        # the task back as it read it (overdue, a former agent's) changes nothing.
        due = fields.get("due_at")
        if due is not None and due != task.due_at:
            check_due_ahead(due, now)
        if "assignee" in fields and fields["assignee"] != task.assignee:
            check_agent(fields["assignee"])
        before, after = _Changes(fields).apply(task, now)
        if not after:
            return task  # nothing changed: no row written, nothing audited
        task.save()
        _audit(task, actor, _audit_action(before, after), before, after)
    return task


def complete_task(task_id: Any, actor: Actor) -> Task:
    """Marks the task done (done_at now); a task already done stays as it was."""
    return update_task(task_id, actor, status=TaskStatus.DONE)


def reopen_task(task_id: Any, actor: Actor) -> Task:
    return update_task(task_id, actor, status=TaskStatus.OPEN)
