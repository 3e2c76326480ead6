"""Log lines: one JSON object per line with the trace, span, request, conversation and draft ids;
the customer's words in none of them."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from agents.runner import run_for_draft
from resolver.logs import JsonFormatter, RedactingFilter, log_context
from resolver.tracing import tracer
from support.models import Draft
from support.tests.conftest import key_client

ROOT = Path(__file__).resolve().parent.parent
SECRET_WORDS = "my parcel with the purple llama sweater"


def _line(record: logging.LogRecord) -> dict[str, object]:
    text = JsonFormatter().format(record)
    assert "\n" not in text  # one object per line, exceptions included
    return dict(json.loads(text))


def test_a_line_carries_trace_span_and_context_ids() -> None:
    logger = logging.getLogger("resolver.test")
    record = logger.makeRecord(
        "resolver.test", logging.WARNING, __file__, 1, "hello %s", ("x",), None
    )
    plain = _line(record)
    assert {k: plain[k] for k in ("level", "logger", "message")} == {
        "level": "WARNING",
        "logger": "resolver.test",
        "message": "hello x",
    }
    assert "trace_id" not in plain and str(plain["timestamp"]).endswith("+00:00")
    with (
        tracer().start_as_current_span("work") as span,
        log_context(draft_id="d-1", request_id="r-1"),
    ):
        inside = _line(record)
    assert inside["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert inside["span_id"] == format(span.get_span_context().span_id, "016x")
    assert (inside["draft_id"], inside["request_id"]) == ("d-1", "r-1")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logger.makeRecord("r", logging.ERROR, __file__, 1, "x", (), sys.exc_info())
    assert "ValueError: boom" in str(_line(failed)["exception"])


def test_the_request_id_is_echoed(db: None, client: Client) -> None:
    assert client.get("/healthz?only=", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz?only=")["X-Request-ID"]
    assert len(generated) == 32


@pytest.mark.django_db
def test_no_line_of_an_ingest_and_a_run_holds_the_customers_words(
    caplog: pytest.LogCaptureFixture, small_kb: object, django_capture_on_commit_callbacks: Any
) -> None:
    caplog.set_level(logging.DEBUG)
    with django_capture_on_commit_callbacks(execute=True):
        response = key_client("ingest").post(
            "/api/v1/messages", {"body": SECRET_WORDS}, content_type="application/json"
        )
    with django_capture_on_commit_callbacks(execute=True):
        run_for_draft(Draft.objects.get(pk=response.json()["draft_id"]))
    lines = [
        JsonFormatter().format(r) for r in caplog.records if not r.name.startswith("django.db")
    ]
    assert lines, "nothing was logged"
    assert not [line for line in lines if "purple llama" in line]


def test_log_format_is_checked_at_start_up() -> None:
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**__import__("os").environ, "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "LOG_FORMAT must be one of json, console, got 'xml'" in result.stderr


def test_personal_data_in_any_line_is_replaced_before_it_is_written() -> None:
    import io

    from django.conf import settings

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("uvicorn.error")  # not ours: every logger's lines pass the filter
    logger.addHandler(handler)
    try:
        logger.warning("bounce for %s, call %s", "jo@example.com", "+1 415 555 0199")
        try:
            raise ValueError("card 4111 1111 1111 1111 declined")
        except ValueError:
            logger.exception("payment failed for order NW-10001")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    for private in ("jo@example.com", "415 555 0199", "4111 1111 1111 1111"):
        assert private not in written, private
    assert "bounce for [EMAIL_1], call [PHONE_1]" in written
    assert "card [CARD_1] declined" in written and "order NW-10001" in written
    # The project's configuration puts the filter on the one handler every logger writes to.
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["redact"]


def _written_by(log: Any, names: bool | None = None) -> str:
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter(names=names))
    logger = logging.getLogger("resolver.test.redaction")
    logger.addHandler(handler)
    try:
        log(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_names_url_encoded_text_and_reprs_are_redacted_in_lines() -> None:
    from urllib.parse import quote_plus

    text = "Where is order NW-10001? Mail jo@example.com\nThanks, Maria"
    written = _written_by(
        lambda logger: (
            # uvicorn's access line: the text URL-encoded in the query string, then more.
            logger.info('"GET %s HTTP/1.1" 200', f"/api/v1/kb/search?q={quote_plus(text)}"),
            # A repr (a Dramatiq message's arguments): line breaks escaped, in quotes.
            logger.error("Failed to process message draft(%s)", repr(text)),
            logger.warning("draft failed for %r", text),
        )
    )
    assert written.count("\n") == 3
    for private in ("jo%40example.com", "jo@example.com", "Maria"):
        assert private not in written, private
    assert "Thanks, [PERSON_1]" in written and "NW-10001" in written
    # A query value is the customer's text on its own: it starts where the value starts.
    opening = _written_by(lambda logger: logger.info("GET %s", "/s?q=Giulia+here%2C+order+1"))
    assert "Giulia" not in opening and "[PERSON_1] here, order 1" in opening


def test_names_in_lines_follow_the_setting(settings: Any) -> None:
    def log(logger: logging.Logger) -> None:
        logger.warning("my name is Jonas Berg")

    assert "Jonas" not in _written_by(log)  # REDACT_PERSON_NAMES defaults to on
    settings.REDACT_PERSON_NAMES = False
    assert "Jonas Berg" in _written_by(log)
    assert "Jonas Berg" in _written_by(log, names=False)
