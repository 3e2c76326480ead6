"""Follow-up tasks' actions (support/tasks.py) on the real database: created, changed, done and
reopened, each audited; what they refuse; an action's task made once however often its backend
runs."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from resolver.audit_actor import Actor
from support.models import Action, AuditLog, Conversation, Task
from support.tasks import TaskError, complete_task, create_task, reopen_task, update_task
from support.tests.conftest import MakeDraft
from support.vocabulary import TaskCreator, TaskStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(make_draft: MakeDraft) -> Conversation:
    return make_draft("my parcel is late").conversation


@pytest.fixture
def actor(agent_user: Any) -> Actor:
    return Actor.for_user(agent_user)


def _audit(task: Task) -> list[tuple[str, Any, Any]]:
    rows = AuditLog.objects.filter(metadata__task_id=str(task.pk)).order_by("created_at", "id")
    return [(row.action, row.before, row.after) for row in rows]


def test_an_agent_creates_an_assigned_task_and_it_is_audited(
    conversation: Conversation, actor: Actor, agent_user: Any
) -> None:
    due = timezone.now() + timedelta(days=2)
    task = create_task(
        conversation.pk,
        "  Call the customer\nback  ",
        due_at=due,
        assignee="agnes",
        created_by=TaskCreator.AGENT,
        actor=actor,
    )

    stored = Task.objects.get(pk=task.pk)
    assert (stored.title, stored.due_at, stored.assignee, stored.status) == (
        "Call the customer back",
        due,
        agent_user,
        TaskStatus.OPEN,
    )
    assert stored.created_by == TaskCreator.AGENT and stored.done_at is None
    row = AuditLog.objects.get(metadata__task_id=str(task.pk))
    assert (row.action, row.actor, row.conversation_id) == (
        "task_created",
        "user:agnes",
        conversation.pk,
    )
    assert row.after == {
        "title": "Call the customer back",
        "due_at": due.isoformat(),
        "assignee": "agnes",
        "status": "open",
    }


def test_a_due_date_without_a_time_means_the_end_of_that_day(
    conversation: Conversation, actor: Actor
) -> None:
    today = timezone.localdate()
    task = create_task(
        conversation.pk,
        "Check the refund",
        due_at=today.isoformat(),
        created_by="agent",
        actor=actor,
    )
    task.refresh_from_db()
    assert task.due_at is not None and timezone.localdate(task.due_at) == today
    assert task.due_at > timezone.now()  # due today is not overdue this morning
    as_date = create_task(
        conversation.pk,
        "Check again",
        due_at=today + timedelta(days=1),
        created_by="agent",
        actor=actor,
    )
    assert as_date.due_at == task.due_at + timedelta(days=1)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"title": "   "}, "title: a task needs a title"),
        ({"title": "x" * 301}, "title: at most 300 characters"),
        ({"due_at": "next tuesday"}, "due_at: not an ISO 8601"),
        ({"due_at": "2026-02-30"}, "due_at: not an ISO 8601"),
        ({"due_at": "2020-01-01T10:00:00Z"}, "due_at: the due date is in the past"),
        ({"assignee": "nobody"}, "assignee: no user named 'nobody'"),
        ({"assignee": "outsider"}, "assignee: 'outsider' is not an agent"),
        ({"created_by": "customer"}, "created_by: one of agent, ai"),
    ],
)
def test_what_a_task_may_not_be(
    conversation: Conversation, actor: Actor, fields: dict[str, Any], reason: str
) -> None:
    User.objects.create_user("outsider", password="pw-outsider-1")  # not in the agents group
    arguments: dict[str, Any] = {"title": "Call back", "created_by": "agent", **fields}
    title = arguments.pop("title")
    with pytest.raises(TaskError) as refused:
        create_task(conversation.pk, title, actor=actor, **arguments)
    assert refused.value.detail.startswith(reason)
    assert refused.value.status_code == 422
    assert not Task.objects.exists()
    assert not AuditLog.objects.filter(action="task_created").exists()


def test_a_task_needs_an_existing_conversation(actor: Actor) -> None:

    with pytest.raises(TaskError, match="conversation_id: no such conversation"):
        create_task(uuid.uuid4(), "Call back", created_by="agent", actor=actor)


def test_an_actions_task_is_made_once(make_draft: MakeDraft) -> None:
    draft = make_draft("please call me back tomorrow")
    action = Action.objects.create(
        draft=draft,
        conversation=draft.conversation,
        name="create_follow_up",
        arguments={"title": "Call back"},
    )
    approver = Actor.agent()
    first = create_task(
        draft.conversation_id, "Call back", created_by="ai", actor=approver, action=action
    )
    again = create_task(
        draft.conversation_id, "Call back", created_by="ai", actor=approver, action=action
    )

    assert again.pk == first.pk
    assert Task.objects.filter(action=action).count() == 1
    assert first.created_by == TaskCreator.AI
    rows = AuditLog.objects.filter(action="task_created")
    assert [row.metadata for row in rows] == [
        {"task_id": str(first.pk), "title": "Call back", "action_id": str(action.pk)}
    ]


def test_completing_reopening_and_changing_are_audited_with_what_changed(
    conversation: Conversation, actor: Actor, agent_user: Any
) -> None:
    task = create_task(conversation.pk, "Call back", created_by="agent", actor=actor)

    done = complete_task(task.pk, actor)
    assert done.status == TaskStatus.DONE and done.done_at is not None
    assert complete_task(task.pk, actor).done_at == done.done_at  # done twice: unchanged
    reopened = reopen_task(task.pk, actor)
    assert reopened.status == TaskStatus.OPEN and reopened.done_at is None
    due = timezone.now() + timedelta(hours=3)
    update_task(task.pk, actor, title="Call back about the refund", due_at=due, assignee=agent_user)
    update_task(task.pk, actor, due_at=None, assignee=None)

    assert _audit(task) == [
        (
            "task_created",
            None,
            {"title": "Call back", "due_at": None, "assignee": None, "status": "open"},
        ),
        ("task_done", {"status": "open"}, {"status": "done"}),
        ("task_reopened", {"status": "done"}, {"status": "open"}),
        (
            "task_updated",
            {"title": "Call back", "due_at": None, "assignee": None},
            {"title": "Call back about the refund", "due_at": due.isoformat(), "assignee": "agnes"},
        ),
        (
            "task_updated",
            {"due_at": due.isoformat(), "assignee": "agnes"},
            {"due_at": None, "assignee": None},
        ),
    ]
    stored = Task.objects.get(pk=task.pk)
    assert (stored.title, stored.due_at, stored.assignee) == (
        "Call back about the refund",
        None,
        None,
    )


def test_a_due_date_ends_at_the_end_of_the_day_in_the_teams_time_zone() -> None:
    """TIME_ZONE (the team's): "due 10 December" in Berlin ends at 22:59:59 UTC in winter, not
    at 23:59:59 UTC, an hour into the next day there."""
    from datetime import UTC, datetime

    from django.test import override_settings

    from support.due import parse_due

    assert parse_due("2026-12-10") == datetime(2026, 12, 10, 23, 59, 59, tzinfo=UTC)
    with override_settings(TIME_ZONE="Europe/Berlin"):
        assert parse_due("2026-12-10") == datetime(2026, 12, 10, 22, 59, 59, tzinfo=UTC)
        assert parse_due("2026-07-10") == datetime(2026, 7, 10, 21, 59, 59, tzinfo=UTC)


def test_an_overdue_due_date_sent_back_unchanged_is_no_change(
    conversation: Conversation, actor: Actor
) -> None:
    task = create_task(conversation.pk, "Call back", created_by="agent", actor=actor)
    past = timezone.now() - timedelta(days=1)
    Task.objects.filter(pk=task.pk).update(due_at=past)  # it was due yesterday

    same = update_task(task.pk, actor, due_at=past.isoformat(), title="Call back")
    assert same.due_at == past
    assert [action for action, _, _ in _audit(task)] == ["task_created"]
    with pytest.raises(TaskError, match="in the past"):
        update_task(task.pk, actor, due_at=past - timedelta(days=1))


def test_a_refused_change_changes_nothing(conversation: Conversation, actor: Actor) -> None:
    task = create_task(conversation.pk, "Call back", created_by="agent", actor=actor)
    with pytest.raises(TaskError, match="status: one of open, done"):
        update_task(task.pk, actor, title="New title", status="closed")
    assert Task.objects.get(pk=task.pk).title == "Call back"
    with pytest.raises(Task.DoesNotExist):
        complete_task(uuid.uuid4(), actor)


def test_naive_datetimes_are_in_the_configured_time_zone(
    conversation: Conversation, actor: Actor
) -> None:
    naive = datetime.combine(date.today() + timedelta(days=3), datetime.min.time()).replace(hour=9)
    task = create_task(conversation.pk, "Call back", due_at=naive, created_by="agent", actor=actor)
    assert task.due_at == timezone.make_aware(naive)


def test_a_former_agents_task_keeps_them_until_someone_else_takes_it(
    conversation: Conversation, actor: Actor, agent_user: Any
) -> None:
    task = create_task(
        conversation.pk, "Call back", assignee=agent_user, created_by="agent", actor=actor
    )
    agent_user.groups.clear()  # agnes left the team

    same = update_task(task.pk, actor, assignee="agnes", title="Call back")
    assert same.assignee == agent_user  # sent back as read: no change, no refusal
    with pytest.raises(TaskError, match="'agnes' is not an agent"):
        create_task(conversation.pk, "Another", assignee="agnes", created_by="agent", actor=actor)
    dana = User.objects.create_user("dana", password="pw-dana-12345", is_staff=True)
    assert update_task(task.pk, actor, assignee="dana").assignee == dana
    with pytest.raises(TaskError, match="'agnes' is not an agent"):
        update_task(task.pk, actor, assignee="agnes")


def test_erasing_the_customer_erases_their_tasks_and_the_audit_text(
    make_draft: MakeDraft, actor: Actor
) -> None:
    from support.customer_data import do_erase

    theirs = make_draft("please call me at 555-0199", customer_ref="cust-erase").conversation
    other = make_draft("where is my parcel?", customer_ref="cust-keep").conversation
    task = create_task(theirs.pk, "Call Erin at 555-0199", created_by="agent", actor=actor)
    complete_task(task.pk, actor)
    kept = create_task(other.pk, "Call Kim back", created_by="agent", actor=actor)

    erased = do_erase("cust-erase", Actor.system("privacy-test"))

    assert erased["support.Task"] == 1
    assert not Task.objects.filter(pk=task.pk).exists()
    rows = AuditLog.objects.filter(conversation=theirs, action__startswith="task_")
    assert sorted(rows.values_list("action", flat=True)) == ["task_created", "task_done"]
    assert all((r.before, r.after, r.metadata) == (None, None, {}) for r in rows)
    assert Task.objects.get(pk=kept.pk).title == "Call Kim back"
    assert AuditLog.objects.get(metadata__task_id=str(kept.pk)).metadata["title"] == "Call Kim back"
