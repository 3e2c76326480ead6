"""The console's follow-up tasks: the Tasks page (/console/tasks/: my open tasks, overdue first,
then everyone else's open ones) and the conversation page's task list with its small add form.
Every change goes through support/tasks.py, as the API's do; what the screens show is gathered
in task_screens.py."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from resolver.audit_actor import Actor
from support import tasks
from support.console.access import agent_required
from support.console.forms import first_error
from support.console.task_screens import TasksScreen
from support.console.views import HtmxHttpRequest, _respond
from support.models import Conversation, Task
from support.vocabulary import TaskCreator, TaskStatus

# Where a task's buttons send the agent back to: the Tasks page or the conversation.
BACK_TO_TASKS = "tasks"


class TaskForm(forms.Form):
    title = forms.CharField(max_length=tasks.TITLE_MAX_LENGTH)
    # A date (due by the end of that day) or a date and time, as the browser's inputs send them.
    due_at = forms.CharField(required=False, max_length=40)
    assignee = forms.CharField(required=False, max_length=150)


@agent_required
def tasks_page(request: HttpRequest) -> HttpResponse:
    return render(request, "console/tasks.html", TasksScreen.load(request.user).context())


@require_POST
@agent_required
def add(request: HtmxHttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """A task on the conversation, made by the agent; assigned to whoever the form names."""
    get_object_or_404(Conversation.objects.only("id"), pk=conversation_id)
    form = TaskForm(request.POST)
    if not form.is_valid():
        return _respond(request, conversation_id, first_error(form), 422)
    try:
        tasks.create_task(
            conversation_id,
            form.cleaned_data["title"],
            due_at=form.cleaned_data["due_at"] or None,
            assignee=form.cleaned_data["assignee"] or None,
            created_by=TaskCreator.AGENT,
            actor=Actor.for_user(request.user),
        )
    except tasks.TaskError as exc:
        return _respond(request, conversation_id, exc.detail, exc.status_code)
    return _respond(request, conversation_id)


def _change(request: HtmxHttpRequest, task_id: uuid.UUID, **changes: Any) -> HttpResponse:
    """A button on a task (done, reopen, take): back to where it was pressed."""
    task = get_object_or_404(Task.objects.only("id", "conversation_id"), pk=task_id)
    error = ""
    try:
        tasks.update_task(task_id, Actor.for_user(request.user), **changes)
    except tasks.TaskError as exc:
        error = exc.detail
    if request.POST.get("next") == BACK_TO_TASKS:
        if error:
            messages.error(request, error)
        return redirect("console:tasks")
    return _respond(request, task.conversation_id, error, 422 if error else 200)


@require_POST
@agent_required
def done(request: HtmxHttpRequest, task_id: uuid.UUID) -> HttpResponse:
    return _change(request, task_id, status=TaskStatus.DONE)


@require_POST
@agent_required
def reopen(request: HtmxHttpRequest, task_id: uuid.UUID) -> HttpResponse:
    return _change(request, task_id, status=TaskStatus.OPEN)


@require_POST
@agent_required
def take(request: HtmxHttpRequest, task_id: uuid.UUID) -> HttpResponse:
    """Assigns someone else's (or nobody's) task to the agent pressing it."""
    return _change(request, task_id, assignee=request.user)
