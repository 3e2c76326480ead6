"""Fixtures shared by every app's tests. Every test runs against real PostgreSQL+pgvector and
Redis: the servers named by DATABASE_URL/REDIS_URL, else the embedded ones settings started."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis

from resolver.broker import child_environment, start_worker
from resolver.polling import answers, wait_for
from resolver.processes import stop_all
from resolver.redis_client import get_redis
from tests.helpers import database_url_for_tests, free_port, launch_chromium


def pytest_sessionstart(session: pytest.Session) -> None:
    """The database self-check, as at every start-up: on a machine whose pgvector build cannot
    run, the suite stops with the one line that says why instead of hundreds of errors."""
    from django.conf import settings

    from resolver.dbcheck import DatabaseCheckFailed, startup_check

    try:
        startup_check(settings.DATABASE_URL, settings.RESOLVER_DATA_DIR)
    except DatabaseCheckFailed as exc:
        pytest.exit(f"database self-check failed: {exc}", returncode=1)


@pytest.fixture(scope="session", autouse=True)
def no_login_counts_from_earlier_runs() -> None:
    """Failed log-ins stay counted in Redis for LOGIN_FAILURE_WINDOW_SECONDS
    (resolver/login_limits.py): a run must not start locked out by the runs before it."""
    from resolver.login_limits import KEY

    client = get_redis()
    for key in client.scan_iter(f"{KEY}*"):
        client.delete(key)


@pytest.fixture(scope="session", autouse=True)
def no_resting_webhook_endpoints_from_earlier_runs() -> None:
    """An endpoint that left a request unanswered rests in Redis for a while
    (support/webhooks.py): a new run's test database numbers its endpoints from 1 again."""
    from support.webhooks import IN_FLIGHT_KEY, REST_KEY

    client = get_redis()
    for prefix in (REST_KEY, IN_FLIGHT_KEY):
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


@pytest.fixture(autouse=True)
def no_cached_lookups() -> None:
    """Per-process lookup caches (widget origins, verified API keys) start empty: a value one
    test left for 30 s made another's outcome depend on the order tests ran in."""
    from resolver.ttl_cache import TtlCache

    TtlCache.clear_all()


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """A new channel-layer instance per test. channels_redis keeps per-instance receive state
    (a lock bound to the event loop that created it); a consumer still receiving when an async
    test's loop closed would leave it to trip the next test's loop."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture
def redis_client() -> redis.Redis:
    return get_redis()


@pytest.fixture
def start_workers(
    transactional_db: None, redis_client: redis.Redis
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Starts real Dramatiq worker processes on the test database and Redis (each ready to
    consume, with `env` overriding settings variables); all are stopped after the test."""
    started: list[subprocess.Popen] = []

    def start(**env: str) -> subprocess.Popen:
        started.append(start_worker({"DATABASE_URL": database_url_for_tests(), **env}))
        return started[-1]

    yield start
    stop_all(started)


@pytest.fixture
def live_worker(start_workers: Callable[..., subprocess.Popen]) -> subprocess.Popen:
    """One real worker with the default settings."""
    return start_workers()


@pytest.fixture
def small_kb(db: None) -> dict[str, Any]:
    """Five short articles (knowledge/tests/articles.py), embedded for real."""
    from knowledge.ingest import upsert_documents
    from knowledge.models import KBDocument
    from knowledge.tests.articles import ARTICLES

    upsert_documents(ARTICLES)
    return {doc.external_id: doc for doc in KBDocument.objects.all()}


@pytest.fixture
def agent_user(db: None) -> Any:
    """A console user: member of the "agents" group, not staff."""
    from django.contrib.auth.models import User

    from resolver.bootstrap import ensure_agents_group
    from tests.helpers import AGENT_PASSWORD, AGENT_USERNAME

    user = User.objects.create_user(AGENT_USERNAME, password=AGENT_PASSWORD)
    user.groups.add(ensure_agents_group())
    return user


class AsgiServer:
    """The real ASGI server (uvicorn, as `make run` starts it: HTTP and WebSockets) on a free
    loopback port, on the test database and Redis."""

    def __init__(self, **env: str) -> None:
        self.env = env  # overrides for the server's environment (another Redis, say)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-m", "uvicorn", "resolver.asgi:application"]
        argv += ["--host", "127.0.0.1", "--port", str(self.port), "--lifespan", "off"]
        argv += ["--no-access-log", "--log-level", "warning"]
        env = {**child_environment(), "DATABASE_URL": database_url_for_tests(), **self.env}
        self.process = server = subprocess.Popen(argv, env=env)
        probe = f"{self.url}/api/v1/openapi.json"
        up = wait_for(lambda: server.poll() is not None or answers(probe), 60)
        assert up and server.poll() is None, "the live server did not start"

    def stop(self) -> None:
        if self.process is not None:
            stop_all([self.process])
            self.process = None


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[AsgiServer]:
    server = AsgiServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def live_server_url(asgi_server: AsgiServer) -> str:
    return asgi_server.url


ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (`make browser` installs it; Playwright's own
    browser download is never used)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, so Django would refuse the ORM
    # calls of the tests and of the database fixtures' teardown as "async"; they are plain sync
    # code. Set for the browser's whole life, which spans those teardowns.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        launched = launch_chromium(playwright)
        yield launched
        launched.close()


@pytest.fixture
def browser_env() -> Path:
    """The folder for screenshots, kept as test artifacts (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def _span_exporter() -> Any:
    """One in-memory exporter on the tracer provider for the whole session (a processor cannot
    be taken off a provider again)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from resolver import tracing

    exporter = InMemorySpanExporter()
    # As configure() adds the configured exporters: what the tests see is what would leave.
    tracing.add_processor(SimpleSpanProcessor(exporter))
    return exporter


@pytest.fixture
def spans(_span_exporter: Any) -> Any:
    """The spans finished in this process during the test."""
    _span_exporter.clear()
    return _span_exporter


@pytest.fixture
def encoder_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """What each forward pass of the embedding model encoded, on an empty query cache."""
    from knowledge import embeddings

    original = embeddings.embed_documents
    calls: list[list[str]] = []

    def counted(texts: Sequence[str], *args: Any, **kwargs: Any) -> Any:
        calls.append(list(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(embeddings, "embed_documents", counted)
    embeddings._query_vectors.cache_clear()
    yield calls
    embeddings._query_vectors.cache_clear()
