"""One trace per message, from the caller's W3C traceparent to the LLM call: the API request's
span is the parent of the enqueue, the worker's run (the context travels in the Dramatiq
message), each graph node and the chat call (GenAI attributes, no prompt text). Real Redis,
PostgreSQL and an in-process Dramatiq worker; the LLM is an OpenAI-compatible stub on loopback."""

from __future__ import annotations

import json

import dramatiq
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents import actors, runner
from agents.graph import build_graph
from agents.llm import chat_model
from agents.providers.chat import ChatProvider
from agents.services import default_services
from agents.tests.test_openai_provider import stub_url  # noqa: F401  (fixture)
from knowledge.models import KBDocument
from resolver.polling import wait_for
from support.models import Draft, DraftStatus
from support.tests.conftest import key_client

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"


def _ancestors(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = []
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


@pytest.mark.slow
def test_one_trace_from_the_callers_traceparent_to_the_llm_call(
    transactional_db: None,
    agent_kb: dict[str, KBDocument],
    stub_url: str,  # noqa: F811
    spans: InMemorySpanExporter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = chat_model("openai", base_url=stub_url, api_key="sk-test", model="stub-model")
    graph = build_graph(default_services(drafter=ChatProvider(model, "openai")))
    monkeypatch.setattr(runner, "worker_graph", lambda: graph)
    monkeypatch.setattr("resolver.broker.settings.WORKER_WARMUP", [])
    question = "how can I cancel my order, I changed my mind"
    response = key_client("ingest").post(
        "/api/v1/messages",
        {"body": question},
        content_type="application/json",
        HTTP_TRACEPARENT=TRACEPARENT,
    )
    draft_id = response.json()["draft_id"]

    assert actors.process_message.queue_name == "drafts"  # declared on this process's broker
    worker = dramatiq.Worker(dramatiq.get_broker(), queues={"drafts"}, worker_threads=1)
    worker.start()
    try:
        drafted = wait_for(
            lambda: Draft.objects.get(pk=draft_id).status != DraftStatus.PENDING, 120
        )
    finally:
        worker.stop()
    assert drafted
    assert Draft.objects.get(pk=draft_id).status == DraftStatus.SUGGESTED

    finished = [s for s in spans.get_finished_spans() if s.context.trace_id == int(TRACE_ID, 16)]
    by_id = {s.context.span_id: s for s in finished}
    [llm] = [s for s in finished if s.name == "chat stub-model"]
    chain = _ancestors(llm, by_id)
    assert chain[0] == "node compose"
    assert "process process_message" in chain
    assert chain.index("process process_message") < chain.index("enqueue process_message")
    assert chain[-1].startswith("POST")  # the API request's span, child of the caller's
    assert by_id[_root_id(llm, by_id)].parent.span_id == int(CALLER_SPAN, 16)  # type: ignore[union-attr]

    attributes = dict(llm.attributes or {})
    assert attributes["gen_ai.request.model"] == "stub-model"
    assert (attributes["gen_ai.usage.input_tokens"], attributes["gen_ai.usage.output_tokens"]) == (
        900,
        60,
    )
    every_value = json.dumps([dict(s.attributes or {}) for s in finished])
    assert "cancel my order" not in every_value  # no customer text, no prompt in any span
    nodes = {s.name: dict(s.attributes or {}) for s in finished if s.name.startswith("node ")}
    assert nodes["node triage"]["resolver.intent"] == "cancel_order"
    assert nodes["node finalize"]["resolver.status"] == "SUGGESTED"


def _root_id(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> int:
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
    return span.context.span_id
