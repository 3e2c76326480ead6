"""Spans and timings of an agent run (resolver/tracing.py sets the tracing up): one span per
graph node, with what it decided as attributes (and its duration in
resolver_node_duration_seconds), and one span per LLM call following the OpenTelemetry GenAI
semantic conventions (model, token counts; never the prompt or the answer)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry.trace import Span, SpanKind

from resolver.shared_metrics import NODE_LATENCY
from resolver.tracing import tracer


def _decided(update: Mapping[str, Any]) -> dict[str, str]:
    """What a node's state update says, as span attributes (ids and labels, no customer text)."""
    attributes: dict[str, str] = {}
    triage = update.get("triage_result")
    if triage is not None:
        attributes["resolver.intent"] = triage.intent
        attributes["resolver.sentiment"] = triage.sentiment
        attributes["resolver.urgency"] = triage.urgency
    if decision := update.get("decision"):
        attributes["resolver.decision"] = str(decision)
    if reason := update.get("escalation_reason"):
        attributes["resolver.escalation_reason"] = str(reason)
    outcome = update.get("outcome")
    if outcome is not None:
        attributes["resolver.status"] = outcome.status
        if outcome.escalation_reason:
            attributes["resolver.escalation_reason"] = outcome.escalation_reason
    return attributes


@contextlib.contextmanager
def node_span(name: str) -> Iterator[Span]:
    """The node's span, and its duration in resolver_node_duration_seconds."""
    started = time.perf_counter()
    try:
        with tracer().start_as_current_span(
            f"node {name}", attributes={"resolver.node": name}
        ) as span:
            yield span
    finally:
        NODE_LATENCY.observe(name, time.perf_counter() - started)


def record_update(span: Span, update: Mapping[str, Any]) -> None:
    for key, value in _decided(update).items():
        span.set_attribute(key, value)


@contextlib.contextmanager
def llm_span(provider: str, model: str) -> Iterator[Span]:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.system": provider,  # the attribute's older name, still read by many backends
        "gen_ai.request.model": model,
    }
    with tracer().start_as_current_span(
        f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes
    ) as span:
        yield span


def record_usage(span: Span, response: Any) -> None:
    """Token counts and the answering model, as the model reported them."""
    usage = getattr(response, "usage_metadata", None) or {}
    if "input_tokens" in usage:
        span.set_attribute("gen_ai.usage.input_tokens", int(usage["input_tokens"]))
    if "output_tokens" in usage:
        span.set_attribute("gen_ai.usage.output_tokens", int(usage["output_tokens"]))
    metadata = getattr(response, "response_metadata", None) or {}
    if model := metadata.get("model_name") or metadata.get("model"):
        span.set_attribute("gen_ai.response.model", str(model))
