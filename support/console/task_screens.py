"""What the console shows of follow-up tasks, gathered in a few queries: the Tasks page (my open
tasks, overdue first, then everyone else's open ones, my recently done) and a conversation's
tasks (the conversation page's side column, in the full page and the live update)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from resolver.bootstrap import console_users
from support.models import Conversation, Task
from support.models.action import END_OF_DAY, TaskQuerySet
from support.vocabulary import TaskCreator, TaskStatus

# Each list of the page shows this many; the API pages through every task.
PAGE_ROWS = 100
DONE_ROWS = 10


@dataclass(frozen=True)
class TaskRow:
    task: Task
    overdue: bool  # open and past its due date

    @property
    def done(self) -> bool:
        return self.task.status == TaskStatus.DONE

    @property
    def whole_day(self) -> bool:
        """Due by the end of a day (given as a date): the lists show the day alone."""
        due = self.task.due_at
        return due is not None and timezone.localtime(due).time() == END_OF_DAY

    @property
    def by_ai(self) -> bool:
        """Made by an approved create_follow_up action the copilot proposed."""
        return self.task.created_by == TaskCreator.AI


@dataclass
class TasksScreen:
    mine: list[TaskRow]
    others: list[TaskRow]
    done: list[Task]
    now: datetime

    @classmethod
    def load(cls, user: Any) -> TasksScreen:
        open_ones = Task.objects.filter(status=TaskStatus.OPEN).select_related("conversation")
        mine = open_ones.filter(assignee=user).in_due_order()
        others = open_ones.exclude(assignee=user).in_due_order()
        done = (
            Task.objects.filter(status=TaskStatus.DONE, assignee=user)
            .select_related("conversation", "assignee")
            .order_by("-done_at")
        )
        now = timezone.now()
        return cls(_rows(mine, now), _rows(others, now), list(done[:DONE_ROWS]), now)

    def context(self) -> dict[str, Any]:
        return {
            "mine": self.mine,
            "others": self.others,
            "done": self.done,
            "overdue_count": sum(1 for row in self.mine if row.overdue),
        }


def _rows(found: TaskQuerySet, now: datetime) -> list[TaskRow]:
    return [TaskRow(task, task.is_overdue(now)) for task in found[:PAGE_ROWS]]


def conversation_tasks(conversation: Conversation) -> dict[str, Any]:
    """What the conversation page shows of its tasks (templates/console/_tasks.html): every
    task, open ones first, and whom a new one may be assigned to."""
    listed = _rows(Task.objects.filter(conversation=conversation).in_due_order(), timezone.now())
    return {
        "tasks": sorted(listed, key=lambda row: row.task.status != TaskStatus.OPEN),
        "assignable": list(console_users().only("id", "username")),
    }
