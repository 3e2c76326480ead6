"""Credentials never reach a log line: API keys (rk_…), conversation tokens (the widget socket's
?token=… included), webhook secrets (whsec_…) and bearer values are masked by the filter on the
one handler every logger writes to, uvicorn's access lines included (resolver/logs.py)."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from resolver.broker import child_environment
from resolver.logs import JsonFormatter, RedactingFilter
from resolver.models import ApiKey
from resolver.polling import answers, wait_for
from resolver.processes import stop_all
from support.inbound import receive_message
from support.models import Channel, WidgetKey
from support.tests.conftest import SHOP
from support.widget import tokens
from tests.helpers import database_url_for_tests, free_port

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _written(*lines: tuple[str, tuple[object, ...]], logger: str = "uvicorn.access") -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger(logger)
    log.addHandler(handler)
    try:
        for message, args in lines:
            log.warning(message, *args)
    finally:
        log.removeHandler(handler)
    return stream.getvalue()


def test_credentials_in_any_line_are_masked() -> None:
    api_key = "rk_" + "A1b2C3d4" * 5
    token = "eyJjIjoiNGYxIiwiayI6MX0:1vQx2a:Zx_9-kq"
    written = _written(
        ('%s - "%s %s HTTP/%s" %d', ("10.0.0.1:5", "GET", f"/x/?a=1&token={token}", "1.1", 200)),
        ('%s - "WebSocket %s" [accepted]', ("10.0.0.1:6", f"/ws/widget/abc/?token={token}")),
        ("refused: Authorization: Bearer %s", (api_key,)),
        ("a key %s was pasted into a message", (api_key,)),
        ("webhook secret rotated to %s", (WEBHOOK_SECRET,)),
        ('body {"token": "%s", "conversation_id": "abc"}', (token,)),
    )
    for secret in (api_key, token, WEBHOOK_SECRET, WEBHOOK_SECRET[6:], api_key[3:]):
        assert secret not in written, secret
    assert "/x/?a=1&token=[REDACTED]" in written
    assert "/ws/widget/abc/?token=[REDACTED]" in written
    assert "Bearer [REDACTED]" in written and "rk_[REDACTED] was pasted" in written
    assert "rotated to whsec_[REDACTED]" in written
    assert '"conversation_id\\": \\"abc\\"' in written  # ids around a secret are kept


def test_look_alikes_are_left_alone() -> None:
    written = _written(
        ("network_interface rk_short tokens=3 the token is missing", ()),
        ("GET /api/v1/widget/conversations/%s?limit=5 200", ("abc",)),
    )
    assert "network_interface rk_short tokens=3 the token is missing" in written
    assert "conversations/abc?limit=5 200" in written


def test_a_secret_in_an_exception_is_masked() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("django.request")
    log.addHandler(handler)
    try:
        try:
            raise ValueError(f"bad signature for secret {WEBHOOK_SECRET}")
        except ValueError:
            log.exception("webhook delivery failed")
    finally:
        log.removeHandler(handler)
    assert WEBHOOK_SECRET not in stream.getvalue()
    assert "whsec_[REDACTED]" in stream.getvalue()


@pytest.mark.slow
def test_uvicorn_logs_the_widget_socket_with_its_token_masked(
    transactional_db: None, tmp_path: Path
) -> None:
    """The real server, as deployed (access log on, INFO), a real widget socket and API call;
    every line it writes is searched for the credentials."""
    key = WidgetKey.objects.create(name="Shop", allowed_origins=[SHOP])
    message, _ = receive_message("hello", channel=Channel.WIDGET, enqueue=False)
    conversation = message.conversation_id
    token = tokens.issue(conversation, key.pk)
    _, api_key = ApiKey.issue("log-test", ["read"])

    port, log_path = free_port(), tmp_path / "web.log"
    argv = [sys.executable, "-m", "uvicorn", "resolver.asgi:application", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--lifespan", "off", "--log-level", "info"]
    env = {**child_environment(), "DATABASE_URL": database_url_for_tests(), "LOG_FORMAT": "json"}
    with log_path.open("wb") as log:
        server = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            base = f"127.0.0.1:{port}"
            assert wait_for(lambda: answers(f"http://{base}/healthz?only="), 60)
            url = f"ws://{base}/ws/widget/{conversation}/?token={token}"
            with connect(url, additional_headers={"Origin": SHOP}) as socket:
                socket.send('{"type": "ping"}')
            request = urllib.request.Request(
                f"http://{base}/api/v1/widget/conversations/{conversation}?token={token}",
                headers={"Authorization": f"Bearer {api_key}"},
            )
            try:
                urllib.request.urlopen(request, timeout=10).close()
            except urllib.error.HTTPError as refused:  # a key is no widget token: 401
                refused.close()
            assert wait_for(lambda: "/api/v1/widget/conversations/" in log_path.read_text(), 10)
        finally:
            stop_all([server])
    written = log_path.read_text()
    socket_line = f"/ws/widget/{conversation}/?token=[REDACTED]"
    assert socket_line in written, written[-2000:]  # the socket was logged, masked
    assert f"/api/v1/widget/conversations/{conversation}?token=[REDACTED]" in written
    for secret in (token, token.split(":")[-1], api_key):
        assert secret not in written, secret


def test_a_secret_behind_percent_escapes_is_masked_when_the_line_is_read_decoded() -> None:
    from resolver.logs import scrub

    line = '"GET /login?next=%2Fa%3Ftoken%3DSECRETTOKEN123&email=ana%40example.org HTTP/1.1" 302'
    cleaned = scrub(line)
    assert "SECRETTOKEN123" not in cleaned and "ana@example.org" not in cleaned
    assert "ana%40example.org" not in cleaned
