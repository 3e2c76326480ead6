"""Tracing with OpenTelemetry. One trace per customer message: the API request's span (a
caller's W3C `traceparent` honoured) is the parent of the enqueue, the worker's run, each graph
node and each LLM call. The exporter is chosen by the standard variables: OTEL_TRACES_EXPORTER
(`none` by default, `otlp`, `console`), OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME;
OTEL_SDK_DISABLED=true turns tracing off (trace ids are then random, as before).

The trace context crosses the queue in the Dramatiq message's options (TracingMiddleware:
inject on enqueue, extract, attach and detach around processing)."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dramatiq import Middleware
from opentelemetry import context, propagate, trace
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from resolver.env import ConfigError
from resolver.logs import scrub

logger = logging.getLogger(__name__)

TRACER_NAME = "resolver"
OPTION = "otel"  # the Dramatiq message option that carries the trace context
_configured = threading.Lock()
_done = False


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def _exporter(name: str) -> Any:
    if name == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()  # endpoint, headers: OTEL_EXPORTER_OTLP_*
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    # A ConfigError: manage.py prints it as one line (a ValueError was a 21-line traceback).
    raise ConfigError(f"OTEL_TRACES_EXPORTER must be none, otlp or console, got {name!r}")


def configure(default_service: str) -> None:
    """Sets the tracer provider and instruments Django, psycopg, Redis and httpx, once per
    process. Spans are recorded even without an exporter: their ids are the trace ids of
    events, drafts and log lines."""
    global _done
    with _configured:
        if _done or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
            return
        _done = True
        from opentelemetry.sdk.resources import SERVICE_NAME, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        name = os.environ.get("OTEL_SERVICE_NAME") or default_service
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
        exporters = os.environ.get("OTEL_TRACES_EXPORTER", "none").lower()
        trace.set_tracer_provider(provider)
        for exporter in filter(None, (e.strip() for e in exporters.split(","))):
            if exporter != "none":
                add_processor(BatchSpanProcessor(_exporter(exporter)))
        _instrument()


def add_processor(processor: Any) -> None:
    """Exports spans through `processor`, after personal data in their attributes and events
    (a URL's query, an exception's message) became typed placeholders: an exit like the logs."""
    provider: Any = trace.get_tracer_provider()
    provider.add_span_processor(RedactingSpanProcessor(processor))


def _clean(attributes: Any) -> dict[str, Any]:
    cleaned: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        if isinstance(value, str):
            value = scrub(value)
        elif isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
            value = tuple(scrub(v) for v in value)
        cleaned[key] = value
    return cleaned


# The URL attributes of an outgoing request (httpx: a webhook receiver's, the store's).
_CLIENT_URL_KEYS = ("url.full", "http.url")


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL: a receiver's path and query are someone else's choice and
    often a credential (a path token, `?sig=`), which no recogniser knows."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], "", "", ""))


def redacted(span: Any) -> Any:
    """A finished span as exported: the same, or a copy whose string attributes (its own and its
    events') went through the recognisers, and whose outgoing request URL is its origin only."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Link, Status

    attributes = _clean(span.attributes)
    if span.kind == SpanKind.CLIENT:
        for key in _CLIENT_URL_KEYS:
            if isinstance(attributes.get(key), str):
                attributes[key] = _origin(span.attributes[key])
    events = [Event(e.name, _clean(e.attributes), e.timestamp) for e in span.events]
    links = [Link(link.context, _clean(link.attributes)) for link in span.links]
    # An exception's status says "ValueError: <its message>".
    description = span.status.description
    status = Status(span.status.status_code, scrub(description)) if description else span.status
    pairs: list[tuple[Any, Any]] = [
        *zip(events, span.events, strict=True),
        *zip(links, span.links, strict=True),
    ]
    same = all(dict(new.attributes or {}) == dict(old.attributes or {}) for new, old in pairs)
    if attributes == dict(span.attributes or {}) and same and status is span.status:
        return span
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=events,
        links=links,
        kind=span.kind,
        status=status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanProcessor(SpanProcessor):
    """Wraps an exporting processor: it sees each finished span redacted (spans are recorded with
    ids and labels by design; this catches what instrumentation adds, such as URLs and
    exception messages)."""

    def __init__(self, inner: SpanProcessor) -> None:
        self.inner = inner

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.inner.on_start(span, parent_context=parent_context)

    def on_end(self, span: Any) -> None:
        self.inner.on_end(redacted(span))

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self.inner.force_flush(timeout_millis))


def _instrument() -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    DjangoInstrumentor().instrument()
    PsycopgInstrumentor().instrument(enable_commenter=False)
    RedisInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()


def current_trace_id() -> str | None:
    """The W3C trace id (32 hex digits) of the active span, None outside a trace."""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None


def new_trace_id() -> str:
    """The active trace's id, or a fresh random one (tracing off, or no request)."""
    return current_trace_id() or uuid.uuid4().hex


@contextlib.contextmanager
def joined(trace_id: str) -> Iterator[None]:
    """Runs the block inside trace `trace_id` (a message's, when its run is queued again by the
    outbox sweep or a reprocess), unless it already runs inside it."""
    if not trace_id or current_trace_id() == trace_id:
        yield
        return
    try:
        remote = SpanContext(
            trace_id=int(trace_id, 16),
            span_id=int.from_bytes(secrets.token_bytes(8), "big") or 1,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
    except ValueError:  # not a W3C trace id (a version-1 event's random one)
        yield
        return
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(remote)))
    try:
        yield
    finally:
        context.detach(token)


class TracingMiddleware(Middleware):
    """Carries the trace context through the queue: a PRODUCER span around the enqueue whose
    context is injected into the message; a CONSUMER span around processing, its parent
    extracted from the message."""

    def __init__(self) -> None:
        self.local = threading.local()

    def before_enqueue(self, broker: Any, message: Any, delay: Any) -> None:
        # A retry or a delayed re-send is enqueued outside any span (Dramatiq's own threads):
        # it keeps the trace the message already carries.
        carried = message.options.get(OPTION)
        current = trace.get_current_span().get_span_context().is_valid
        parent = propagate.extract(carried) if carried and not current else None
        with tracer().start_as_current_span(
            f"enqueue {message.actor_name}",
            context=parent,
            kind=SpanKind.PRODUCER,
            attributes={
                "messaging.system": "dramatiq",
                "messaging.destination.name": message.queue_name,
            },
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            message.options[OPTION] = carrier

    def before_process_message(self, broker: Any, message: Any) -> None:
        parent = propagate.extract(message.options.get(OPTION) or {})
        span = tracer().start_span(
            f"process {message.actor_name}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "dramatiq",
                "messaging.destination.name": message.queue_name,
                "messaging.message.id": message.message_id,
            },
        )
        token = context.attach(trace.set_span_in_context(span))
        self.local.active = (span, token)

    def after_process_message(
        self, broker: Any, message: Any, *, result: Any = None, exception: Any = None
    ) -> None:
        active = getattr(self.local, "active", None)
        if active is None:
            return
        span, token = active
        self.local.active = None
        if exception is not None:
            span.record_exception(exception)
            span.set_status(trace.Status(trace.StatusCode.ERROR, type(exception).__name__))
        span.end()
        context.detach(token)

    after_skip_message = after_process_message
