"""GET/POST /tasks and PATCH /tasks/{id} (CONTRACTS.md): the Task's shape, the filters (status,
assignee=me, overdue), scopes (read to list, act to change), 4xx with a reason for bad input."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from support.models import AuditLog, Conversation, Task
from support.tasks import create_task
from support.tests.conftest import API, MakeDraft, key_client, post_json
from support.vocabulary import TaskStatus

pytestmark = pytest.mark.django_db
CONTRACT_KEYS = {
    "id",
    "conversation_id",
    "title",
    "due_at",
    "assignee",
    "status",
    "created_by",
    "created_at",
}


@pytest.fixture
def conversation(make_draft: MakeDraft) -> Conversation:
    return make_draft("the replacement has not arrived").conversation


def patch_json(client: Client, path: str, data: Any) -> Any:
    return client.patch(f"{API}{path}", data, content_type="application/json")


def test_an_agent_creates_a_task_through_the_api(
    api: Client, conversation: Conversation, agent_user: Any
) -> None:
    due = (timezone.now() + timedelta(days=1)).replace(microsecond=0)
    response = post_json(
        api,
        "/tasks",
        {
            "conversation_id": str(conversation.pk),
            "title": "Check the replacement shipped",
            "due_at": due.isoformat(),
            "assignee": "agnes",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) >= CONTRACT_KEYS
    task = Task.objects.get(pk=body["id"])
    assert body["conversation_id"] == str(conversation.pk)
    assert (body["title"], body["assignee"], body["status"], body["created_by"]) == (
        "Check the replacement shipped",
        "agnes",
        "open",
        "agent",
    )
    assert task.due_at == due and task.assignee == agent_user
    assert body["overdue"] is False and body["done_at"] is None and body["action_id"] is None
    row = AuditLog.objects.get(action="task_created")
    assert row.actor == "key:test"
    assert row.metadata == {"task_id": body["id"], "title": "Check the replacement shipped"}


def test_a_retried_create_with_its_idempotency_key_makes_one_task(
    api: Client, conversation: Conversation
) -> None:
    body = {"conversation_id": str(conversation.pk), "title": "Call back about the refund"}
    headers = {"HTTP_IDEMPOTENCY_KEY": "task-retry-1"}
    first = post_json(api, "/tasks", body, **headers)
    again = post_json(api, "/tasks", body, **headers)
    other = post_json(api, "/tasks", {**body, "title": "Something else"}, **headers)
    message = post_json(api, "/messages", {"customer_ref": "c-1", "body": "hi"}, **headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert Task.objects.count() == 1
    assert other.status_code == 409 and other.json()["code"] == "idempotency_reuse"
    assert message.status_code == 202  # a key used for a task is not a message's


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"title": ""}, 422, "title: a task needs a title"),
        ({"title": "x" * 400}, 422, "title: at most 300 characters"),
        ({"due_at": "2019-03-01T09:00:00Z"}, 422, "due_at: the due date is in the past"),
        ({"due_at": "9999-12-31"}, 422, "due_at: more than five years ahead"),
        ({"due_at": "0001-01-01T00:00:00+05:00"}, 422, "due_at: out of range"),
        ({"due_at": "soon"}, 422, "due_at"),
        ({"assignee": "ghost"}, 422, "assignee: no user named 'ghost'"),
        ({"conversation_id": str(uuid.uuid4())}, 404, "conversation_id: no such conversation"),
        ({"conversation_id": "not-a-uuid"}, 422, "conversation_id"),
    ],
)
def test_a_bad_task_gets_a_4xx_with_the_reason(
    api: Client, conversation: Conversation, body: dict[str, Any], status: int, detail: str
) -> None:
    payload = {"conversation_id": str(conversation.pk), "title": "Call back", **body}
    response = post_json(api, "/tasks", payload)

    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith(detail)
    assert not Task.objects.exists()


def test_a_task_for_someone_who_is_not_an_agent_is_refused(
    api: Client, conversation: Conversation
) -> None:
    User.objects.create_user("carol", password="pw-carol-123")  # no console access
    response = post_json(
        api, "/tasks", {"conversation_id": str(conversation.pk), "title": "x", "assignee": "carol"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "detail": "assignee: 'carol' is not an agent",
        "code": "invalid_action",
    }


def test_scopes_read_lists_act_changes(conversation: Conversation) -> None:
    reader, ingester = key_client("read"), key_client("ingest", name="shop")
    body = {"conversation_id": str(conversation.pk), "title": "Call back"}

    assert reader.get(f"{API}/tasks").status_code == 200
    assert ingester.get(f"{API}/tasks").status_code == 403
    assert post_json(reader, "/tasks", body).status_code == 403
    task = create_task(conversation.pk, "Call back", created_by="agent", actor=Actor.agent())
    assert patch_json(reader, f"/tasks/{task.pk}", {"status": "done"}).status_code == 403
    assert Client().get(f"{API}/tasks").status_code == 401
    assert Task.objects.get(pk=task.pk).status == TaskStatus.OPEN


def test_patch_completes_reopens_and_changes_only_what_is_sent(
    api: Client, conversation: Conversation, agent_user: Any
) -> None:
    due = timezone.now() + timedelta(days=2)
    task = create_task(
        conversation.pk,
        "Call back",
        due_at=due,
        assignee=agent_user,
        created_by="agent",
        actor=Actor.agent(),
    )

    done = patch_json(api, f"/tasks/{task.pk}", {"status": "done"})
    assert done.status_code == 200, done.content
    assert (done.json()["status"], done.json()["assignee"]) == ("done", "agnes")
    assert done.json()["done_at"] is not None
    stored = Task.objects.get(pk=task.pk)
    assert (stored.status, stored.due_at, stored.title) == ("done", due, "Call back")

    changed = patch_json(
        api, f"/tasks/{task.pk}", {"status": "open", "assignee": None, "title": "Call again"}
    )
    assert changed.status_code == 200
    assert changed.json()["assignee"] is None and changed.json()["done_at"] is None
    stored.refresh_from_db()
    assert (stored.status, stored.assignee, stored.title, stored.due_at) == (
        "open",
        None,
        "Call again",
        due,
    )
    actions = AuditLog.objects.filter(metadata__task_id=str(task.pk)).values_list(
        "action", flat=True
    )
    assert sorted(actions) == ["task_created", "task_done", "task_reopened"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"status": "closed"}, "status"),
        ({"status": None}, "status: one of open, done"),
        ({"title": None}, "title: a task needs a title"),
        ({"due_at": "2020-01-01"}, "due_at: the due date is in the past"),
        ({"assignee": "ghost"}, "assignee: no user named 'ghost'"),
    ],
)
def test_a_bad_patch_changes_nothing(
    api: Client, conversation: Conversation, body: dict[str, Any], detail: str
) -> None:
    task = create_task(conversation.pk, "Call back", created_by="agent", actor=Actor.agent())
    response = patch_json(api, f"/tasks/{task.pk}", body)
    assert response.status_code == 422, response.content
    assert response.json()["detail"].startswith(detail)
    assert Task.objects.get(pk=task.pk).title == "Call back"
    assert AuditLog.objects.filter(metadata__task_id=str(task.pk)).count() == 1


@pytest.mark.parametrize("bad", ["Call\u0000 back", "Call \ud800 back"])
@pytest.mark.parametrize("field", ["title", "assignee", "due_at"])
def test_text_the_database_cannot_store_is_a_422(
    api: Client, conversation: Conversation, field: str, bad: str
) -> None:
    task = create_task(conversation.pk, "Call back", created_by="agent", actor=Actor.agent())
    payload = {"conversation_id": str(conversation.pk), "title": "Call back", field: bad}

    created = post_json(api, "/tasks", payload)
    patched = patch_json(api, f"/tasks/{task.pk}", {field: bad})
    listed = api.get(f"{API}/tasks", {"assignee": bad.replace("\ud800", "\x00")})

    for reply in (created, patched):
        assert reply.status_code == 422, reply.content
        assert field in reply.json()["detail"]
    assert listed.status_code == 422, listed.content
    assert Task.objects.get().title == "Call back"


def test_patching_an_unknown_task_is_404(api: Client) -> None:
    response = patch_json(api, f"/tasks/{uuid.uuid4()}", {"status": "done"})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.fixture
def tasks_of_two_agents(conversation: Conversation, agent_user: Any) -> dict[str, Task]:
    """Agnes's overdue, due-later and undated open tasks, her done one, Bob's and nobody's."""
    bob = User.objects.create_user("bob", password="pw-bob-12345", is_staff=True)
    now = timezone.now()
    made = {
        name: create_task(
            conversation.pk,
            name,
            due_at=now + timedelta(hours=hours) if hours is not None else None,
            assignee=assignee,
            created_by="agent",
            actor=Actor.agent(),
        )
        for name, hours, assignee in [
            ("later", 48, agent_user),
            ("undated", None, agent_user),
            ("overdue", 1, agent_user),
            ("done", 2, agent_user),
            ("bobs", 3, bob),
            ("nobodys", 4, None),
        ]
    }
    Task.objects.filter(pk=made["overdue"].pk).update(due_at=now - timedelta(hours=5))
    Task.objects.filter(pk=made["done"].pk).update(status="done", done_at=now)
    return made


def _titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["items"]]


def test_the_list_filters_by_status_assignee_and_overdue(
    console: Client, api: Client, tasks_of_two_agents: dict[str, Task]
) -> None:
    mine_open = console.get(f"{API}/tasks", {"assignee": "me", "status": "open"})
    assert _titles(mine_open) == ["overdue", "later", "undated"]  # soonest due, undated last
    assert mine_open.json()["items"][0]["overdue"] is True
    assert _titles(api.get(f"{API}/tasks", {"overdue": "true"})) == ["overdue"]
    assert _titles(api.get(f"{API}/tasks", {"status": "done"})) == ["done"]
    assert _titles(api.get(f"{API}/tasks", {"assignee": "bob"})) == ["bobs"]
    assert _titles(api.get(f"{API}/tasks", {"assignee": "none"})) == ["nobodys"]
    assert len(_titles(api.get(f"{API}/tasks", {"overdue": "false"}))) == 5
    assert _titles(api.get(f"{API}/tasks", {"limit": 2})) == ["overdue", "done"]


def test_the_list_pages_through_every_task_with_a_cursor(
    api: Client, conversation: Conversation, tasks_of_two_agents: dict[str, Task]
) -> None:
    """Pages of 2 in due order reach every task once, undated ones (a tie on created_at
    among them too) last; the last page has no next cursor."""
    undated = Task.objects.get(title="undated")
    twin = create_task(conversation.pk, "undated twin", created_by="agent", actor=Actor.agent())
    Task.objects.filter(pk=twin.pk).update(created_at=undated.created_at)
    expected = _titles(api.get(f"{API}/tasks", {"limit": 200}))
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = api.get(f"{API}/tasks", {"limit": 2, **({"cursor": cursor} if cursor else {})})
        seen += _titles(page)
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == expected and len(seen) == 7
    assert expected[-2:] == sorted(
        ["undated", "undated twin"], key=lambda t: str(Task.objects.get(title=t).pk)
    )


@pytest.mark.parametrize(
    "cursor", ["garbage", "W251bGwsIDEsIDJd", "WyIyMDI2LTAxLTAxIiwgIngiLCAieSJd"]
)
def test_a_cursor_the_api_did_not_return_is_a_400(api: Client, cursor: str) -> None:
    reply = api.get(f"{API}/tasks", {"cursor": cursor})
    assert reply.status_code == 400 and reply.json()["code"] == "invalid_cursor"


def test_list_filters_refuse_what_they_cannot_mean(
    api: Client, tasks_of_two_agents: dict[str, Task]
) -> None:
    me = api.get(f"{API}/tasks", {"assignee": "me"})
    assert me.status_code == 422  # an API key is not a console user
    assert "pass a username" in me.json()["detail"]
    assert api.get(f"{API}/tasks", {"assignee": "ghost"}).status_code == 422
    assert api.get(f"{API}/tasks", {"status": "closed"}).status_code == 422
    assert api.get(f"{API}/tasks", {"limit": 0}).status_code == 422


def test_the_list_by_conversation(
    api: Client, make_draft: MakeDraft, tasks_of_two_agents: dict[str, Task]
) -> None:
    other = make_draft("another question", customer_ref="cust-2").conversation
    create_task(other.pk, "elsewhere", created_by="agent", actor=Actor.agent())
    listed = api.get(f"{API}/tasks", {"conversation_id": str(other.pk)})
    assert _titles(listed) == ["elsewhere"]
