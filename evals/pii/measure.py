"""The three measurements of the PII test set (#18), shared by bench/pii_leaks.py and
tests/test_pii_set.py:

- recognisers: `Redactor(names=True).redact` over each text: the values with a part left
  (recall per kind), the keep values it changed (false positives), and what it replaced that
  is no labelled value (spurious findings, listed for a human to judge: a real tweet may hold
  real personal data).
- model: each case goes through the chat provider (agents/providers/chat.py, the `openai`
  provider) to a capturing OpenAI-compatible stub on loopback, as the customer's message, an
  earlier turn and a guard's feedback; a value with a part in any request body leaks. The stub
  echoes every placeholder it received, and the draft's answer must hold the real values again.
- logs: each text is logged through the project's own handler (settings.LOGGING: the JSON
  formatter and RedactingFilter) by the loggers that write in production: uvicorn's access line
  (the text URL-encoded in a query string), uvicorn's and Django's errors with an exception
  that holds the text, a Dramatiq worker's failed message (its arguments' repr) and Resolver's
  own; a value with a part in any written line (read back, and URL-decoded) leaks."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote_plus

from evals.pii.cases import KINDS, Case, leaks, mangled
from resolver.redaction import MASKED, Redactor, find, masked

_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN|ADDRESS|PERSON)_\d+\]")


@dataclass
class Outcome:
    """One case's result; lists hold the personal values ({type, value}) that leaked."""

    id: str
    recogniser: list[dict[str, str]] = field(default_factory=list)
    mangled: list[str] = field(default_factory=list)
    spurious: list[dict[str, str]] = field(default_factory=list)
    model: list[dict[str, str]] = field(default_factory=list)
    unrestored: list[dict[str, str]] = field(default_factory=list)
    logs: list[dict[str, str]] = field(default_factory=list)


# --- recognisers -------------------------------------------------------------------------------


def recognise(case: Case, outcome: Outcome) -> None:
    redacted = Redactor(names=True).redact(case.text)
    outcome.recogniser = leaks(case, redacted)
    outcome.mangled = mangled(case, redacted)
    labelled = [
        (m.start(), m.end())
        for item in case.pii
        for m in re.finditer(re.escape(item["value"]), case.text)
    ]
    outcome.spurious = [
        {"type": f.kind, "value": f.value}
        for f in find(case.text, names=True)
        if not any(f.start < end and start < f.end for start, end in labelled)
    ]


# --- model ------------------------------------------------------------------------------------


def _stub_class() -> type[Any]:
    from agents.tests.openai_stub import OpenAIStub

    class EchoingLLM(OpenAIStub):
        """Captures every request; the answer names each placeholder of the user message."""

        bodies: list[str] = []

        def seen(self, raw: str, body: dict[str, Any]) -> None:
            EchoingLLM.bodies.append(raw)
            EchoingLLM.bodies.extend(str(m.get("content", "")) for m in body["messages"])

        def draft(self, body: dict[str, Any]) -> dict[str, Any]:
            prompt = str(body["messages"][-1]["content"])
            echoed = list(dict.fromkeys(_PLACEHOLDER.findall(prompt)))
            answer = "We have noted " + ", ".join(echoed) + " [1]." if echoed else "Noted [1]."
            return {"answer": answer, "citations": [1], "confidence": 0.9}

    return EchoingLLM


def _request(case: Case) -> Any:
    from agents.entities import Entities
    from agents.facts import CustomerFacts, OrderFact
    from agents.profile import Profile
    from agents.providers.base import DraftRequest
    from agents.state import GuardIssue
    from agents.triage.service import Triage
    from knowledge.search import SearchHit
    from support.memory import EarlierConversation, extractive_summary
    from support.models import ConversationStatus, OrderStatus
    from support.vocabulary import Sentiment, Urgency

    article = SearchHit(
        kb_id=1,
        title="Returns and refunds",
        snippet="Return an item within 30 days.",
        content="Return an item within 30 days of delivery for a refund to the original payment.",
        intent="get_refund",
        category="REFUND",
        score=0.9,
        similarity=0.9,
    )
    orders = tuple(
        OrderFact(value, OrderStatus.SHIPPED, "2031-05-14", True) for value in case.keep[:1]
    )
    return DraftRequest(
        message=case.text,
        # The same text as an earlier turn and in a guard's feedback: every place the prompt
        # quotes the customer.
        history=[{"role": "CUSTOMER", "body": case.text}, {"role": "AGENT", "body": "Thanks!"}],
        triage=Triage("get_refund", "REFUND", Sentiment.NEUTRAL, Urgency.NORMAL, 0.9, {}),
        evidence=[article],
        facts=CustomerFacts(orders=orders),
        entities=Entities(),
        profile=Profile(
            {
                "company_name": "Northwind",
                "support_phone": "+1 888 240 7000",
                "support_email": "help@northwind.example",
                "support_hours": "9-17",
            }
        ),
        retrieval_confidence=0.9,
        feedback=(GuardIssue("grounded", "unsupported", case.text),),
        # ... and in memory: an earlier conversation's summary and our reply (support/memory.py).
        earlier=(
            EarlierConversation(
                id=uuid.UUID(int=1),
                channel="email",
                started_at=datetime(2026, 12, 1, tzinfo=UTC),
                last_message_at=None,
                status=ConversationStatus.RESOLVED,
                intent="get_refund",
                outcome=ConversationStatus.RESOLVED.label,
                summary=extractive_summary([case.text], [], date(2026, 12, 1)),
                done=(case.text,),
            ),
        ),
    )


@contextmanager
def model_exit() -> Iterator[Any]:
    """A function case, outcome -> None that drafts the case through the stub."""
    from agents.llm import chat_model
    from agents.providers.chat import ChatProvider
    from agents.tests.openai_stub import serve

    stub = _stub_class()
    with serve(stub) as url:
        model = chat_model("openai", base_url=url, api_key="sk-test", model="stub")
        provider = ChatProvider(model, "openai", redact_names=True)

        def run(case: Case, outcome: Outcome) -> None:
            stub.bodies = []
            proposal = provider.draft(_request(case))
            outcome.model = leaks(case, *stub.bodies)
            if proposal.invalid:
                raise AssertionError(
                    f"{case.id}: the stub's answer was invalid: {proposal.invalid}"
                )
            leaked = {item["value"] for item in outcome.model}
            outcome.unrestored = [
                item
                for item in case.pii
                if item["value"] not in leaked and not _restored(item, proposal.answer)
            ]
            if _PLACEHOLDER.search(proposal.answer):
                outcome.unrestored.append({"type": "PLACEHOLDER", "value": proposal.answer})

        yield run


def _restored(item: dict[str, str], answer: str) -> bool:
    """The value is back in the answer: whole, or for a card number or IBAN as its last four
    characters and not whole (resolver/redaction.py:Redactor.restore masks them)."""
    if item["type"] not in MASKED:
        return item["value"] in answer
    return masked(item["value"]) in answer and item["value"] not in answer


# --- logs ---------------------------------------------------------------------------------


def _project_handler() -> logging.StreamHandler[Any]:
    from resolver.logs import RedactingFilter

    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and any(
            isinstance(f, RedactingFilter) for f in handler.filters
        ):
            return handler
    raise AssertionError("settings.LOGGING's handler (with RedactingFilter) is not on the root")


def _log_the_text(text: str) -> None:
    """What production loggers would write if the text reached them."""
    import dramatiq

    logging.getLogger("uvicorn.access").info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:52100",
        "GET",
        f"/api/v1/kb/search?q={quote_plus(text)}",
        "1.1",
        200,
    )
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name="default", actor_name="draft_reply", args=(text,), kwargs={}, options={}
    )
    try:
        raise ValueError(f"could not parse the message: {text}")
    except ValueError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        logging.getLogger("django.request").error(
            "Internal Server Error: %s", "/api/v1/messages", exc_info=sys.exc_info()
        )
        logging.getLogger("dramatiq.worker.WorkerThread").error(
            "Failed to process message %s with unhandled exception.", message, exc_info=True
        )
    logging.getLogger("resolver.agents").warning("draft failed for %r", text)
    logging.getLogger("resolver").info(text)


def _written(stream: io.StringIO) -> list[str]:
    """The lines as written and, for JSON lines, their message and exception read back."""
    texts = []
    for line in stream.getvalue().splitlines():
        texts.append(line)
        try:
            data = json.loads(line)
        except ValueError:
            continue
        texts += [str(data.get("message", "")), str(data.get("exception", ""))]
    return texts


@contextmanager
def logs_exit() -> Iterator[Any]:
    handler = _project_handler()
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.INFO)  # what a production deployment writes (LOG_LEVEL=INFO)

    def run(case: Case, outcome: Outcome) -> None:
        stream = io.StringIO()
        # Swapped without setStream(), which flushes the old stream: under pytest it may be a
        # capture file an earlier test closed.
        with handler.lock or contextlib.nullcontext():
            previous, handler.stream = handler.stream, stream
        try:
            _log_the_text(case.text)
        finally:
            with handler.lock or contextlib.nullcontext():
                handler.stream = previous
        written = _written(stream)
        if len(written) < 6:
            raise AssertionError(f"{case.id}: the project's handler wrote {len(written)} lines")
        outcome.logs = leaks(case, *written)

    try:
        yield run
    finally:
        root.setLevel(level)


# --- all of it -------------------------------------------------------------------------------


def measure(cases: list[Case], *, model: bool = True, logs: bool = True) -> list[Outcome]:
    outcomes = [Outcome(case.id) for case in cases]
    for case, outcome in zip(cases, outcomes, strict=True):
        recognise(case, outcome)
    if model:
        with model_exit() as run:
            for case, outcome in zip(cases, outcomes, strict=True):
                run(case, outcome)
    if logs:
        with logs_exit() as run:
            for case, outcome in zip(cases, outcomes, strict=True):
                run(case, outcome)
    return outcomes


def _by_kind(items: list[dict[str, str]]) -> dict[str, int]:
    counts = Counter(item["type"] for item in items)
    return {kind: counts.get(kind, 0) for kind in KINDS}


def _names(cases: list[Case], outcomes: list[Outcome]) -> dict[str, Any]:
    """Names after a cue (or in an address block) and names no cue announces (`"cue": false`),
    each with what reached the model and the logs."""
    out: dict[str, Any] = {}
    for label, cued in (("with_cue", True), ("without_cue", False)):

        def mine(items: list[dict[str, Any]], cued: bool = cued) -> list[dict[str, Any]]:
            return [i for i in items if i["type"] == "PERSON" and i.get("cue", True) == cued]

        total = len(mine([item for case in cases for item in case.pii]))
        missed = len(mine([item for o in outcomes for item in o.recogniser]))
        out[label] = {
            "values": total,
            "recall": round(1 - missed / total, 4) if total else None,
            "leaked_to_model": len(mine([item for o in outcomes for item in o.model])),
            "leaked_to_logs": len(mine([item for o in outcomes for item in o.logs])),
        }
    return out


def summary(cases: list[Case], outcomes: list[Outcome], skipped: int = 0) -> dict[str, Any]:
    values = [item for case in cases for item in case.pii]
    totals = _by_kind(values)
    missed = _by_kind([item for o in outcomes for item in o.recogniser])
    keep_total = sum(len(case.keep) for case in cases)

    def exit_leaks(name: str) -> dict[str, Any]:
        leaked = [item for o in outcomes for item in getattr(o, name)]
        return {
            "values_leaked": len(leaked),
            "cases_with_a_leak": sum(1 for o in outcomes if getattr(o, name)),
            "by_type": _by_kind(leaked),
        }

    return {
        "cases": len(cases),
        "cases_skipped_no_datasets": skipped,
        "cases_without_personal_data": sum(1 for case in cases if not case.pii),
        "values": len(values),
        "values_by_type": totals,
        "recall_by_type": {
            kind: round(1 - missed[kind] / totals[kind], 4) if totals[kind] else None
            for kind in KINDS
        },
        "recall_all": round(1 - sum(missed.values()) / len(values), 4) if values else None,
        "leaks": {
            "recogniser": exit_leaks("recogniser"),
            "model": exit_leaks("model"),
            "logs": exit_leaks("logs"),
        },
        "person_names": _names(cases, outcomes),
        "restore_failures": sum(len(o.unrestored) for o in outcomes),
        "keep_values": keep_total,
        "keep_mangled": sum(len(o.mangled) for o in outcomes),
        "spurious_findings": dict(Counter(f["type"] for o in outcomes for f in o.spurious)),
    }


def failures(cases: list[Case], outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """Each case with something wrong, for a human to read."""
    texts = {case.id: case.text for case in cases}
    out = []
    for o in outcomes:
        if o.recogniser or o.mangled or o.model or o.logs or o.unrestored:
            out.append(
                {
                    "id": o.id,
                    "text": texts[o.id],
                    "missed": o.recogniser,
                    "mangled": o.mangled,
                    "model": o.model,
                    "logs": o.logs,
                    "unrestored": o.unrestored,
                }
            )
    return out
