"""The trace id of a message comes from the request that brought it: a caller's W3C traceparent
is honoured, and the 202, the draft and the message carry it. The whole chain to the LLM call:
agents/tests/test_trace_chain.py."""

from __future__ import annotations

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
