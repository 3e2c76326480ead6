"""API test fixtures: keys per scope, an agent's console session, drafts in a given state."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from django.test import Client

from resolver.models import ApiKey
from support.inbound import receive_message
from support.models import Draft, DraftStatus
from support.tests.email_receiver import PATH as RECEIVER_PATH
from support.tests.email_receiver import RECORDER, Recorder
from support.tests.mail_servers import Dovecot, TokenEndpoint, dovecot_server, token_endpoint
from support.tests.smtp import SmtpServer
from tests.helpers import free_port

API = "/api/v1"
MakeDraft = Callable[..., Draft]

SUGGESTION = {
    "status": DraftStatus.SUGGESTED,
    "intent": "track_order",
    "category": "ORDER",
    "sentiment": "NEUTRAL",
    "urgency": "NORMAL",
    "answer": "You can track your order in Order History [1].",
    "citations": [{"kb_id": 1, "title": "Track your order", "snippet": "Open Order History."}],
    "confidence": 0.8,
    "guard": {"grounded": True, "tone": True, "policy": True, "reasons": []},
    "model": "extractive",
    "prompt_version": "extractive-v1",
    "latency_ms": 25,
}


def key_client(*scopes: str, name: str = "test") -> Client:
    _, raw = ApiKey.issue(name, list(scopes))
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}")


@pytest.fixture
def api(db: None) -> Client:
    """A client holding a key with every scope."""
    return key_client("ingest", "read", "act")


@pytest.fixture
def make_draft(db: None) -> Callable[..., Draft]:
    """A customer message with its draft, moved to `status` with a realistic suggestion."""

    def make(body: str = "where is my order?", **fields: Any) -> Draft:
        _, draft = receive_message(
            body, customer_ref=fields.pop("customer_ref", "cust-1"), enqueue=False
        )
        values = {**SUGGESTION, **fields}
        Draft.objects.filter(pk=draft.pk).update(**values)
        draft.refresh_from_db()
        return draft

    return make


def post_json(client: Client, path: str, data: Any = None, **extra: Any) -> Any:
    return client.post(
        f"{API}{path}", data if data is not None else {}, content_type="application/json", **extra
    )


@pytest.fixture
def console(agent_user: Any) -> Client:
    """A console session of an agent (member of "agents", not staff)."""
    client = Client()
    client.force_login(agent_user)
    return client


def row_ids(html: str) -> list[str]:
    """Draft ids of the queue rows in page order."""
    return re.findall(r'<tr id="row-([0-9a-f-]{36})"', html)


SHOP = "https://shop.example"


@pytest.fixture
def widget_key(db: None) -> Any:
    from support.models import WidgetKey

    return WidgetKey.objects.create(
        name="Shop", allowed_origins=[SHOP], company_name="Shop Inc", colour="#123456"
    )


def start_widget(client: Client, key: Any, origin: str = SHOP, **body: Any) -> Any:
    """POST /widget/conversations as a page on `origin`; the response."""
    return client.post(
        f"{API}/widget/conversations",
        body,
        content_type="application/json",
        headers={"X-Widget-Key": key.public_key, "Origin": origin},
    )


def token_headers(token: str, origin: str | None = SHOP) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if origin:
        headers["Origin"] = origin
    return headers


class Api:
    """The HTTP API of a live server, with a key of every scope (browser tests)."""

    def __init__(self, base: str) -> None:
        _, key = ApiKey.issue("browser-test", ["ingest", "read", "act"])
        self.client = httpx.Client(
            base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.client.post(path, json=body or {})
        assert response.status_code in (200, 202), response.text
        return response.json()

    def get(self, path: str) -> Any:
        return self.client.get(path).json()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """One real SMTP server (aiosmtpd) on loopback for the whole session."""
    server = SmtpServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_server: SmtpServer, settings: Any) -> Iterator[SmtpServer]:
    """The session's SMTP server, running and empty, and Django's mail sent to it over SMTP
    (the test environment's default is the in-memory backend)."""
    smtp_server.reset()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_TIMEOUT = 5
    settings.SUPPORT_EMAIL_FROM = "Shop Support <support@shop.example>"
    settings.SUPPORT_EMAIL_ALIASES = ["help@shop.example"]
    yield smtp_server
    smtp_server.reset()


@pytest.fixture
def email_receiver(settings: Any) -> Iterator[Recorder]:
    """The doors hand messages to the recording receiver (support/tests/email_receiver.py)."""
    settings.EMAIL_RECEIVER = RECEIVER_PATH
    RECORDER.reset()
    yield RECORDER
    RECORDER.reset()


@pytest.fixture(scope="session")
def oauth_endpoint() -> Iterator[TokenEndpoint]:
    with token_endpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def dovecot(oauth_endpoint: TokenEndpoint) -> Iterator[Dovecot]:
    """Dovecot, once per session (support/tests/mail_servers.py); each test uses its own folder."""
    with dovecot_server(oauth_endpoint.introspection_url) as server:
        yield server
