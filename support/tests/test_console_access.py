"""Every console page and action is behind login, and only for agents (or staff)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from support.tests.conftest import MakeDraft

PAGES = ["/console/", "/console/dashboard/", "/console/conversations/{conversation}/"]
ACTIONS = [
    "/console/drafts/{draft}/approve/",
    "/console/drafts/{draft}/reject/",
    "/console/drafts/{draft}/escalate/",
    "/console/messages/{message}/reprocess/",
]


def _urls(make_draft: MakeDraft, templates: list[str]) -> list[str]:
    draft = make_draft()
    ids = {
        "conversation": draft.conversation_id,
        "draft": draft.pk,
        "message": draft.message_id,
    }
    return [template.format(**ids) for template in templates]


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_the_login_page(make_draft: MakeDraft) -> None:
    client = Client()
    for url in _urls(make_draft, PAGES + ACTIONS):
        response = client.post(url) if "/drafts/" in url or "/messages/" in url else client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/console/login/?next="), url


@pytest.mark.django_db
def test_logged_in_users_outside_the_agents_group_are_refused(make_draft: MakeDraft) -> None:
    client = Client()
    client.force_login(User.objects.create_user("visitor", password="pw-visitor-1"))
    for url in _urls(make_draft, PAGES + ACTIONS):
        response = client.post(url) if "/drafts/" in url or "/messages/" in url else client.get(url)
        assert response.status_code == 403, url
    assert "agents" in client.get("/console/").content.decode()


@pytest.mark.django_db
def test_agents_and_staff_get_every_page(make_draft: MakeDraft, console: Client) -> None:
    staff = Client()
    staff.force_login(User.objects.create_user("boss", password="pw-boss-123", is_staff=True))
    for url in _urls(make_draft, PAGES):
        assert console.get(url).status_code == 200, url
        assert staff.get(url).status_code == 200, url


@pytest.mark.django_db
def test_login_and_logout(agent_user: Any) -> None:
    client = Client()
    page = client.get("/console/login/").content.decode()
    assert '<label for="id_username">Username</label>' in page
    assert '<label for="id_password">Password</label>' in page
    assert ">Log in</button>" in page
    wrong = client.post("/console/login/", {"username": "agnes", "password": "nope"})
    assert wrong.status_code == 200
    assert "didn't match" in wrong.content.decode()
    response = client.post(
        "/console/login/",
        {"username": "agnes", "password": "pw-agnes-123", "next": "/console/dashboard/"},
    )
    assert (response.status_code, response["Location"]) == (302, "/console/dashboard/")
    assert client.get("/console/").status_code == 200
    assert client.post("/console/logout/")["Location"] == "/console/login/"
    assert client.get("/console/").status_code == 302


@pytest.mark.django_db
def test_actions_need_post_and_csrf(make_draft: MakeDraft, agent_user: Any) -> None:
    draft = make_draft()
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_user)
    url = f"/console/drafts/{draft.pk}/approve/"
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    draft.refresh_from_db()
    assert draft.status == "SUGGESTED"


@pytest.mark.django_db
def test_unknown_ids_are_404(console: Client) -> None:
    missing = uuid.uuid4()
    assert console.get(f"/console/conversations/{missing}/").status_code == 404
    assert console.post(f"/console/drafts/{missing}/approve/").status_code == 404
    assert console.post(f"/console/messages/{missing}/reprocess/").status_code == 404
    assert console.get("/console/kb/999999/").status_code == 404
