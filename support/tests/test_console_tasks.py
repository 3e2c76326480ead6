"""The console's follow-up tasks: the Tasks page (my open tasks, overdue first; everyone else's),
the conversation page's list and add form, done/reopen/take, and the live update's fragment."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from support.console.live import ConversationLive
from support.models import AuditLog, Conversation, Task
from support.tasks import create_task
from support.tests.conftest import MakeDraft
from support.vocabulary import TaskStatus

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def conversation(make_draft: MakeDraft) -> Conversation:
    return make_draft("my replacement never came", customer_ref="cust-ella").conversation


@pytest.fixture
def bob(db: None) -> Any:
    return User.objects.create_user("bob", password="pw-bob-12345", is_staff=True)


def _task(conversation: Conversation, title: str, hours: float | None, assignee: Any) -> Task:
    due = timezone.now() + timedelta(hours=hours) if hours is not None else None
    return create_task(
        conversation.pk,
        title,
        due_at=due,
        assignee=assignee,
        created_by="agent",
        actor=Actor.agent(),
    )


def _section(page: str, title_id: str) -> str:
    """The HTML of the page's <section> labelled by `title_id`."""
    match = re.search(rf'<section[^>]*aria-labelledby="{title_id}">(.*?)</section>', page, re.S)
    assert match, title_id
    return match.group(1)


def _titles(html: str) -> list[str]:
    return [
        unescape(title) for title in re.findall(r'<span class="task-title">(?:<s>)?([^<]*)', html)
    ]


def test_the_tasks_page_lists_mine_overdue_first_then_everyone_elses(
    console: Client, conversation: Conversation, agent_user: Any, bob: Any
) -> None:
    _task(conversation, "Check the replacement", 30, agent_user)
    _task(conversation, "Undated note", None, agent_user)
    late = _task(conversation, "Call Ella back", 2, agent_user)
    Task.objects.filter(pk=late.pk).update(due_at=timezone.now() - timedelta(hours=3))
    _task(conversation, "Bob's callback", 5, bob)
    _task(conversation, "Nobody's yet", 1, None)
    finished = _task(conversation, "Already done", 1, agent_user)
    Task.objects.filter(pk=finished.pk).update(status=TaskStatus.DONE, done_at=timezone.now())

    response = console.get("/console/tasks/")
    assert response.status_code == 200
    page = response.content.decode()
    mine = _section(page, "my-tasks-title")
    assert _titles(mine) == ["Call Ella back", "Check the replacement", "Undated note"]
    assert "1 overdue" in mine
    assert re.search(r'class="task overdue" id="task-' + str(late.pk), mine)
    assert mine.count("<strong>overdue</strong>") == 1
    assert f'href="/console/conversations/{conversation.pk}/"' in mine
    others = _section(page, "other-tasks-title")
    assert _titles(others) == ["Nobody's yet", "Bob's callback"]
    assert "· bob" in others and "nobody yet" in others
    assert others.count(">Take</button>") == 2 and ">Take</button>" not in mine
    assert _titles(_section(page, "done-tasks-title")) == [] and "Already done" in page
    assert 'href="/console/tasks/" aria-current="page">Tasks</a>' in page  # in the nav


def test_the_tasks_page_is_for_agents(client: Client, conversation: Conversation) -> None:
    assert client.get("/console/tasks/").status_code == 302  # to the login page
    User.objects.create_user("visitor", password="pw-visitor-1")
    client.login(username="visitor", password="pw-visitor-1")
    assert client.get("/console/tasks/").status_code == 403


def test_done_take_and_reopen_from_the_tasks_page(
    console: Client, conversation: Conversation, agent_user: Any, bob: Any
) -> None:
    bobs = _task(conversation, "Bob's callback", 5, bob)

    taken = console.post(f"/console/tasks/{bobs.pk}/take/", {"next": "tasks"})
    assert taken.status_code == 302 and taken["Location"] == "/console/tasks/"
    assert Task.objects.get(pk=bobs.pk).assignee == agent_user
    assert _titles(_section(console.get("/console/tasks/").content.decode(), "my-tasks-title")) == [
        "Bob's callback"
    ]
    done = console.post(f"/console/tasks/{bobs.pk}/done/", {"next": "tasks"})
    assert done.status_code == 302
    stored = Task.objects.get(pk=bobs.pk)
    assert stored.status == TaskStatus.DONE and stored.done_at is not None
    console.post(f"/console/tasks/{bobs.pk}/reopen/", {"next": "tasks"})
    assert Task.objects.get(pk=bobs.pk).status == TaskStatus.OPEN
    rows = AuditLog.objects.filter(metadata__task_id=str(bobs.pk), actor="user:agnes")
    assert sorted(rows.values_list("action", flat=True)) == [
        "task_done",
        "task_reopened",
        "task_updated",
    ]
    assert console.get(f"/console/tasks/{bobs.pk}/done/").status_code == 405


def test_the_conversation_page_shows_its_tasks_and_the_add_form(
    console: Client, conversation: Conversation, agent_user: Any, bob: Any
) -> None:
    _task(conversation, "Call Ella back", 4, bob)
    done = _task(conversation, "Ask for a photo", 1, None)
    Task.objects.filter(pk=done.pk).update(status=TaskStatus.DONE, done_at=timezone.now())

    page = console.get(f"/console/conversations/{conversation.pk}/").content.decode()
    listed = re.search(r'<ul id="conversation-tasks".*?</ul>', page, re.S)
    assert listed
    assert _titles(listed.group(0)) == ["Call Ella back", "Ask for a photo"]  # open first
    assert ">Reopen</button>" in listed.group(0) and "Done</button>" in listed.group(0)
    assert f'action="/console/conversations/{conversation.pk}/tasks/"' in page
    # The assignee list: the console's users, the agent looking at it chosen.
    assert '<option value="agnes" selected>agnes</option>' in page
    assert '<option value="bob">bob</option>' in page


def test_an_agent_adds_a_task_on_the_conversation_page(
    console: Client, conversation: Conversation, bob: Any
) -> None:
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = console.post(
        f"/console/conversations/{conversation.pk}/tasks/",
        {
            "title": "Check the shipment",
            "due_at": tomorrow.isoformat(),
            "assignee": "bob",
        },
        headers=HTMX,
    )

    assert response.status_code == 200
    task = Task.objects.get(conversation=conversation)
    assert (task.title, task.assignee, task.created_by) == (
        "Check the shipment",
        bob,
        "agent",
    )
    assert task.due_at is not None and timezone.localdate(task.due_at) == tomorrow
    fragment = response.content.decode()
    # Due by the end of the day: the day alone, no "23:59".
    assert f"due {tomorrow.strftime('%b')} {tomorrow.day}</time>" in fragment
    # The activity log names the task.
    assert "<strong>user:agnes</strong> task created: “Check the shipment”" in fragment
    assert 'id="conversation-tasks" class="tasks" hx-swap-oob="true"' in fragment
    assert "Check the shipment" in fragment
    assert AuditLog.objects.get(action="task_created").actor == "user:agnes"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"title": ""}, "title: This field is required."),
        ({"title": "Call back", "due_at": "2020-01-01"}, "due_at: the due date is in the past"),
        ({"title": "Call back", "assignee": "ghost"}, "assignee: no user named &#x27;ghost&#x27;"),
    ],
)
def test_a_bad_task_is_refused_with_the_reason(
    console: Client, conversation: Conversation, form: dict[str, str], error: str
) -> None:
    url = f"/console/conversations/{conversation.pk}/tasks/"
    response = console.post(url, form, headers=HTMX)
    assert response.status_code == 422
    assert f'<p class="flash error">{error}</p>' in response.content.decode()
    assert not Task.objects.exists()
    # Without htmx: back to the page, the reason as a flash message.
    plain = console.post(url, form, follow=True)
    assert error in plain.content.decode()


def test_done_on_the_conversation_page_refreshes_its_list(
    console: Client, conversation: Conversation, agent_user: Any
) -> None:
    task = _task(conversation, "Call Ella back", 4, agent_user)
    response = console.post(f"/console/tasks/{task.pk}/done/", headers=HTMX)
    assert response.status_code == 200
    assert ">Reopen</button>" in response.content.decode()
    assert Task.objects.get(pk=task.pk).status == TaskStatus.DONE
    plain = console.post(f"/console/tasks/{task.pk}/reopen/")
    assert plain.status_code == 302
    assert plain["Location"] == f"/console/conversations/{conversation.pk}/"


def test_task_text_is_escaped(console: Client, conversation: Conversation, agent_user: Any) -> None:
    _task(conversation, '<img src=x onerror="alert(1)">', 4, agent_user)
    for url in ("/console/tasks/", f"/console/conversations/{conversation.pk}/"):
        page = console.get(url).content.decode()
        assert "<img src=x" not in page and "&lt;img src=x" in page


def test_the_live_update_carries_the_tasks(conversation: Conversation, agent_user: Any) -> None:
    _task(conversation, "Call Ella back", 4, agent_user)
    (fragment,) = ConversationLive(conversation.pk).snapshot()
    assert 'id="conversation-tasks" class="tasks" hx-swap-oob="true"' in fragment
    assert "Call Ella back" in fragment


@pytest.mark.django_db(transaction=True)
async def test_an_open_conversation_page_is_pushed_its_new_task(agent_user: Any) -> None:
    """Another agent adds a task: the page open on the conversation gets the list again over
    /ws/console/ once the task commits (real Redis channel layer)."""
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from resolver.asgi import application
    from support.inbound import receive_message
    from tests.helpers import session_headers

    def _conversation() -> Any:
        _, draft = receive_message("my replacement never came", customer_ref="cust-ella")
        return draft.conversation_id

    conversation_id = await database_sync_to_async(_conversation)()
    headers = await database_sync_to_async(session_headers)(agent_user)
    socket = WebsocketCommunicator(
        application, f"/ws/console/?conversation={conversation_id}", headers=headers
    )
    connected, _ = await socket.connect()
    assert connected
    snapshot = await socket.receive_from(timeout=5)
    assert "No tasks." in snapshot

    await database_sync_to_async(create_task)(
        conversation_id, "Call Ella back", created_by="agent", actor=Actor.agent()
    )
    pushed = await socket.receive_from(timeout=5)
    assert 'id="conversation-tasks" class="tasks" hx-swap-oob="true"' in pushed
    assert "Call Ella back" in pushed
    await socket.disconnect()
