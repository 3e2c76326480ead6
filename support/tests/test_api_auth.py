"""Who may call what: API-key scopes, the console session (with CSRF), revoked keys, limits."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings

from resolver.models import ApiKey
from resolver.models.apikey import hash_key
from support.models import Draft
from support.tests.conftest import API, key_client, post_json

NIL = uuid.UUID(int=0)
# (method, path, scope, status with the scope); ids that do not exist are fine: scopes are
# checked before lookups, which then answer 404.
ENDPOINTS = [
    ("post", "/messages", "ingest", 202),
    ("get", f"/conversations/{NIL}", "read", 404),
    ("get", "/drafts", "read", 200),
    ("post", f"/drafts/{NIL}/approve", "act", 404),
    ("post", f"/drafts/{NIL}/reject", "act", 404),
    ("post", f"/drafts/{NIL}/escalate", "act", 404),
    ("post", f"/messages/{NIL}/reprocess", "act", 404),
    ("get", "/kb/search?q=refund", "read", 200),
    ("get", "/stats", "read", 200),
    ("get", "/evals", "read", 200),
]


def call(client: Client, method: str, path: str) -> int:
    if method == "get":
        return client.get(f"{API}{path}").status_code
    return post_json(client, path, {"body": "hello"}).status_code


@pytest.mark.parametrize(("method", "path", "scope", "allowed"), ENDPOINTS)
def test_scope_matrix(db: None, method: str, path: str, scope: str, allowed: int) -> None:
    statuses = {
        held: call(key_client(held, name=f"k-{held}"), method, path)
        for held in ("ingest", "read", "act")
    }
    assert statuses == {held: allowed if held == scope else 403 for held in statuses}


@pytest.mark.parametrize(("method", "path", "scope", "allowed"), ENDPOINTS)
def test_no_credentials_is_401(db: None, method: str, path: str, scope: str, allowed: int) -> None:
    client = Client()
    assert call(client, method, path) == 401
    assert call(Client(HTTP_AUTHORIZATION="Bearer rk_not-a-key"), method, path) == 401


@override_settings(API_KEY_CACHE_SECONDS=0)  # else other processes may trust it for 10 s more
def test_revoked_key_is_401(db: None) -> None:
    key, raw = ApiKey.issue("old", ["read"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(f"{API}/drafts").status_code == 200
    key.revoke()
    assert client.get(f"{API}/drafts").status_code == 401


def test_key_use_is_recorded(db: None) -> None:
    key, raw = ApiKey.issue("crm", ["read"])
    assert key.last_used_at is None
    Client(HTTP_AUTHORIZATION=f"Bearer {raw}").get(f"{API}/drafts")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_create_api_key_prints_the_key_last_and_stores_a_hash(db: None) -> None:
    out = StringIO()
    call_command("create_api_key", "crm", "--scopes", "ingest,read", stdout=out, stderr=StringIO())
    raw = out.getvalue().strip().splitlines()[-1]
    key = ApiKey.objects.get(name="crm")
    assert (key.scopes, key.key_hash) == (["ingest", "read"], hash_key(raw))
    assert raw not in (key.prefix, key.key_hash)
    status = post_json(Client(HTTP_AUTHORIZATION=f"Bearer {raw}"), "/messages", {"body": "hi"})
    assert status.status_code == 202


def test_agent_session_may_act_with_csrf(
    agent_user: User, make_draft: Callable[..., Draft]
) -> None:
    draft = make_draft()
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent_user)
    assert client.get(f"{API}/drafts").status_code == 200
    refused = post_json(client, f"/drafts/{draft.pk}/approve")
    assert (refused.status_code, refused.json()["code"]) == (403, "csrf_failed")
    client.get("/admin/login/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    approved = post_json(client, f"/drafts/{draft.pk}/approve", HTTP_X_CSRFTOKEN=token)
    assert (approved.status_code, approved.json()["status"]) == (200, "SENT")
    assert draft.audit_logs.filter(action="sent").get().actor == "user:agnes"


def test_logged_in_user_outside_agents_is_403(db: None) -> None:
    client = Client()
    client.force_login(User.objects.create_user("visitor", password="pw-visitor-1"))
    assert client.get(f"{API}/drafts").status_code == 403


def fresh_address() -> str:
    """A client address no earlier test used this minute (the limiter also counts per IP)."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_rate_limit_per_key(db: None, redis_client: object) -> None:
    address = fresh_address()
    client = key_client("read", name="burst")
    statuses = [client.get(f"{API}/stats", REMOTE_ADDR=address).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get(f"{API}/stats", REMOTE_ADDR=address)
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    another = key_client("read", name="another")
    assert another.get(f"{API}/stats", REMOTE_ADDR=address).status_code == 200


@override_settings(API_RATE_LIMIT_PER_MINUTE=3)
def test_random_tokens_hit_the_per_address_limit(db: None, redis_client: object) -> None:
    address = fresh_address()
    statuses = [
        Client(HTTP_AUTHORIZATION=f"Bearer rk_guess{i}").get(f"{API}/stats", REMOTE_ADDR=address)
        for i in range(13)
    ]
    assert [r.status_code for r in statuses] == [401] * 12 + [429]  # 3 per minute, 4x per IP
