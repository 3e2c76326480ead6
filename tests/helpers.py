"""Helpers for tests that involve other processes (workers, servers)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

from django.db import connection


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def database_url_for_tests() -> str:
    """A URL for the test database pytest-django created, for child processes such as workers."""
    conf = connection.settings_dict
    auth = quote(conf["USER"]) + (f":{quote(conf['PASSWORD'])}" if conf["PASSWORD"] else "")
    if conf["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{conf['NAME']}?host={conf['HOST']}"
    return f"postgresql://{auth}@{conf['HOST']}:{conf['PORT'] or 5432}/{conf['NAME']}"


def second_connection() -> Any:
    """A psycopg connection of its own to the test database: another session, to hold locks
    while the code under test runs on Django's connection or in a thread."""
    import psycopg

    conf = connection.settings_dict
    return psycopg.connect(
        dbname=conf["NAME"],
        user=conf["USER"],
        password=conf["PASSWORD"] or None,
        host=conf["HOST"] or None,
        port=conf["PORT"] or None,
    )


# Debian's Chromium (`make browser`), driven by Playwright in browser tests and benchmarks.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium through Playwright (its own browser download is never used)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def session_headers(user: Any, origin: bytes = b"http://127.0.0.1") -> list[tuple[bytes, bytes]]:
    """WebSocket handshake headers carrying a logged-in session of `user` (console sockets)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = f"sessionid={client.cookies['sessionid'].value}"
    return [(b"cookie", cookie.encode()), (b"origin", origin)]


# The console's demo agent (the `agent_user` fixture) and how a browser test logs in as her.
AGENT_USERNAME = "agnes"
AGENT_PASSWORD = "pw-agnes-123"


def log_in_to_console(
    browser: Any, url: str, *, width: int = 1280, height: int = 900, timeout_ms: int = 20_000
) -> Any:
    """A new page of `browser` logged in to the console at `url` as the demo agent.

    The timeout covers the worker's first draft, which loads the models (expect()'s default 5 s
    does not)."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": width, "height": height})
    page.set_default_timeout(timeout_ms)
    expect.set_options(timeout=timeout_ms)
    page.goto(f"{url}/console/login/")
    page.get_by_label("Username").fill(AGENT_USERNAME)
    page.get_by_label("Password").fill(AGENT_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(f"{url}/console/")
    return page


@contextmanager
def http_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A real HTTP server for `handler` on a free loopback port, served from a thread: its
    base URL (the tests' local receivers of webhooks, store actions, ESP and OAuth2 APIs)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
