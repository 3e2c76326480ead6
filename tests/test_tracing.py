"""The trace id of a message comes from the request that brought it: a caller's W3C traceparent
is honoured, and the 202, the draft and the message carry it. The whole chain to the LLM call:
agents/tests/test_trace_chain.py."""

from __future__ import annotations

import pytest
from django.test import Client
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from support.models import Draft, Message
from support.tests.conftest import key_client

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"


def test_the_callers_traceparent_names_the_202_the_draft_and_the_message(
    db: None, spans: InMemorySpanExporter
) -> None:
    client: Client = key_client("ingest")
    response = client.post(
        "/api/v1/messages",
        {"body": "where is my order?"},
        content_type="application/json",
        HTTP_TRACEPARENT=TRACEPARENT,
    )
    assert response.status_code == 202
    body = response.json()
    assert body["trace_id"] == TRACE_ID
    assert Draft.objects.get(pk=body["draft_id"]).trace_id == TRACE_ID
    assert Message.objects.get(pk=body["id"]).trace_id == TRACE_ID
    [server] = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert server.parent is not None and server.parent.span_id == int(CALLER_SPAN, 16)
    # Without a traceparent the request starts a trace of its own.
    other = client.post("/api/v1/messages", {"body": "hi"}, content_type="application/json").json()
    assert len(other["trace_id"]) == 32 and other["trace_id"] != TRACE_ID


def test_the_outage_answer_is_for_outages_only() -> None:
    """503 for a server that is not there; a failed statement is a bug (500), retrying it helps
    nobody."""
    import django.db
    import psycopg
    import redis

    from resolver.api.errors import is_unavailable

    def operational(cause: Exception | None) -> django.db.OperationalError:
        error = django.db.OperationalError("x")
        error.__cause__ = cause
        return error

    assert is_unavailable(operational(None))  # connection refused: no server, no SQLSTATE
    assert is_unavailable(operational(psycopg.errors.AdminShutdown()))
    assert is_unavailable(operational(psycopg.errors.CannotConnectNow()))
    assert is_unavailable(redis.ConnectionError("refused"))
    assert not is_unavailable(operational(psycopg.errors.DeadlockDetected()))
    assert not is_unavailable(operational(psycopg.errors.ProgramLimitExceeded()))
    assert not is_unavailable(ValueError("x"))


def test_a_retried_message_keeps_the_trace_it_carries() -> None:
    """Dramatiq re-enqueues a retry from its own thread, outside any span: the message keeps
    its trace instead of starting a new one."""
    from dramatiq import Message as DramatiqMessage
    from opentelemetry import propagate

    from resolver.tracing import OPTION, TracingMiddleware

    message: DramatiqMessage[None] = DramatiqMessage(
        queue_name="drafts",
        actor_name="process_message",
        args=(),
        kwargs={},
        options={OPTION: {"traceparent": TRACEPARENT}},
    )
    TracingMiddleware().before_enqueue(None, message, 0)
    carried = propagate.extract(message.options[OPTION])
    span_context = trace.get_current_span(carried).get_span_context()
    assert format(span_context.trace_id, "032x") == TRACE_ID
    assert message.options[OPTION]["traceparent"] != TRACEPARENT  # the enqueue span is the parent


@pytest.mark.slow
def test_uvicorn_honours_the_callers_traceparent(transactional_db: None) -> None:
    """Under ASGI (how `make run` serves), not only Django's test client. The request is sent
    with urllib: an instrumented client would put its own traceparent on it."""
    import json
    import urllib.request

    from conftest import AsgiServer
    from resolver.models import ApiKey

    _, raw = ApiKey.issue("tracing", ["ingest"])
    web = AsgiServer()
    web.start()
    try:
        request = urllib.request.Request(
            f"{web.url}/api/v1/messages",
            data=json.dumps({"body": "where is my order?"}).encode(),
            headers={
                "Authorization": f"Bearer {raw}",
                "Content-Type": "application/json",
                "traceparent": TRACEPARENT,
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            body = json.loads(response.read())
    finally:
        web.stop()
    assert body["trace_id"] == TRACE_ID
    assert Draft.objects.get(pk=body["draft_id"]).trace_id == TRACE_ID


def test_exported_spans_carry_no_personal_data(db: None, spans: InMemorySpanExporter) -> None:
    """What instrumentation adds (a URL's query string, an exception's message) passes the
    recognisers before any exporter sees it; ids and labels are left alone."""
    from resolver.tracing import tracer

    with tracer().start_as_current_span(
        "check", attributes={"note": "mail ana.lopez@example.org", "resolver.intent": "refund"}
    ) as span:
        span.record_exception(ValueError("card 4111 1111 1111 1111 was declined"))
        span.set_status(trace.Status(trace.StatusCode.ERROR, "ValueError: ana.lopez@example.org"))
    Client().get("/healthz", {"email": "ana.lopez@example.org"})

    exported = spans.get_finished_spans()
    text = repr([(s.attributes, [e.attributes for e in s.events], s.status) for s in exported])
    assert "ana.lopez@example.org" not in text and "4111 1111 1111 1111" not in text
    check = next(s for s in exported if s.name == "check")
    attributes = dict(check.attributes or {})
    assert attributes["note"] == "mail [EMAIL_1]"
    assert attributes["resolver.intent"] == "refund"
    assert "[CARD_1]" in str(dict(check.events[0].attributes or {})["exception.message"])
    assert check.status.description == "ValueError: [EMAIL_1]"
    assert "[EMAIL_1]" in text.split("healthz", 1)[1]  # the request's URL kept, redacted


def test_an_outgoing_requests_url_is_exported_as_its_origin(
    db: None, spans: InMemorySpanExporter
) -> None:
    """A webhook receiver's URL is its owner's choice, often with a credential in its path or
    query (`/hooks/T0KEN?sig=…`) that no recogniser knows: httpx's span keeps the origin only."""
    import httpx

    from support.tests.receiver import webhook_receiver

    with webhook_receiver(200) as receiver:
        secret_url = f"{receiver.url}/hooks/Zk81secretpath?sig=abc123token"
        httpx.post(secret_url, content=b"{}")
        origin = receiver.url.split("/", 3)
    exported = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.CLIENT]
    assert exported
    text = repr([dict(s.attributes or {}) for s in exported])
    assert "Zk81secretpath" not in text and "abc123token" not in text
    assert f"{origin[0]}//{origin[2]}" in text


def test_an_unknown_exporter_is_a_configuration_error() -> None:
    """CONTRACTS.md: a malformed value stops start-up with one clear line (manage.py prints a
    ConfigError as one; anything else is a traceback)."""
    from resolver.env import ConfigError
    from resolver.tracing import _exporter

    with pytest.raises(ConfigError, match="OTEL_TRACES_EXPORTER must be none, otlp or console"):
        _exporter("zipkin")
