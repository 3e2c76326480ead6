"""Property-based fuzzing of the whole API from its own OpenAPI spec (schemathesis): valid and
invalid inputs for every operation, on the real database, with a key holding every scope.
Fails on any 5xx and on any response the spec does not describe (status, content type, body).
Bounded: FUZZ_EXAMPLES per operation and mode (default 25; `make fuzz` runs more)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from evals.models import EvalRun
from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.models import DocumentSource, KBDocument, Proposal, ProposalKind
from resolver.audit_actor import Actor
from resolver.models import ApiKey
from support import review
from support.email.receive import receive_email
from support.models import Attachment, Customer, Draft, DraftStatus, Order, WidgetKey
from support.tasks import create_task
from support.tests.action_fixtures import customer_draft, order_for, propose
from support.tests.conftest import API, SHOP, MakeDraft
from support.tests.email_fixtures import keep_attachments_in
from support.tests.emails.build import PDF, build
from support.widget import tokens

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
INBOUND_EMAIL = f"{API}/inbound/email"
# Operations with no parameter, body or security scheme in the schema: nothing can be generated
# invalid (hypothesis says Unsatisfiable). Their bad input is a header the view reads itself
# (X-Widget-Key), tested in support/tests/test_widget_api.py.
WITHOUT_INPUT = {f"GET {API}/widget/config"}
# A raw e-mail goes as bytes, as any binary body does.
schemathesis.serializer.alias("message/rfc822", "application/octet-stream")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def fuzz_operation(
    operation: Any,
    mode: GenerationMode,
    headers: dict[str, str],
    ids: dict[str, str],
    body_ids: dict[str, Any] | None = None,
) -> Counter:
    tally: Counter = Counter()
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=ids or None)
    if operation.path == INBOUND_EMAIL and mode == GenerationMode.POSITIVE:
        # Any bytes are a valid body by the schema; an e-mail of them reaches the success path.
        strategy = strategy.map(as_email)
    if body_ids and mode == GenerationMode.POSITIVE:
        # Ids a body refers to (POST /tasks' conversation_id): an existing row's.
        strategy = strategy.map(lambda case: with_body_ids(case, body_ids))

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        tally[f"{response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except Exception as exc:
        exc.add_note(f"fuzzing {operation.method.upper()} {operation.path} ({mode.name})")
        raise
    return tally


def with_body_ids(case: Any, body_ids: dict[str, Any]) -> Any:
    if isinstance(case.body, dict):
        case.body = {**case.body, **body_ids}
    return case


def as_email(case: Any) -> Any:
    """The generated body as the text of an e-mail from a customer."""
    raw = case.body if isinstance(case.body, bytes) else str(case.body or "").encode()
    case.body = build(raw.decode("utf-8", errors="replace") or "Where is my order?")
    return case


@pytest.fixture
def keep_connection() -> Iterator[None]:
    """Like django.test.Client: the WSGI handler must not close the test's DB connection
    (its transaction holds the fixtures) at the end of each request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _auto_sent(make_draft: MakeDraft) -> str:
    """A draft sent without a human: the one kind POST /drafts/{id}/correct takes."""
    draft = make_draft("question for correct")
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.SENT, automated=True, sent_text=draft.answer
    )
    return str(draft.pk)


def seeded_ids(make_draft: MakeDraft) -> dict[str, dict[str, str]]:
    """Existing rows for the operations with ids in their path, so that valid inputs reach the
    success path (and its response schema), not only 404. One draft per action: the first
    approval closes its draft."""
    drafts = {action: make_draft(f"question for {action}") for action in ("a", "r", "e", "p", "s")}
    return {
        f"{API}/conversations/{{conversation_id}}": {
            "conversation_id": str(drafts["a"].conversation_id)
        },
        f"{API}/drafts/{{draft_id}}/approve": {"draft_id": str(drafts["a"].pk)},
        f"{API}/drafts/{{draft_id}}/reject": {"draft_id": str(drafts["r"].pk)},
        f"{API}/drafts/{{draft_id}}/escalate": {"draft_id": str(drafts["e"].pk)},
        f"{API}/drafts/{{draft_id}}/correct": {"draft_id": _auto_sent(make_draft)},
        f"{API}/messages/{{message_id}}/reprocess": {"message_id": str(drafts["p"].message_id)},
        f"{API}/conversations/{{conversation_id}}/resolve": {
            "conversation_id": str(drafts["s"].conversation_id)
        },
        f"{API}/evals/{{run_id}}": {"run_id": str(EvalRun.objects.create(suite="fuzz").pk)},
        f"{API}/proposals/{{proposal_id}}/approve": {"proposal_id": _proposal_id()},
        f"{API}/proposals/{{proposal_id}}/dismiss": {"proposal_id": _proposal_id()},
        # A customer of their own: erasing them leaves the other operations' rows alone.
        f"{API}/customers/{{ref}}/export": {"ref": _customer_ref(make_draft)},
        f"{API}/customers/{{ref}}": {"ref": _customer_ref(make_draft)},
        f"{API}/attachments/{{attachment_id}}": {"attachment_id": _attachment_id()},
        f"{API}/tasks/{{task_id}}": {"task_id": _task_id(drafts["a"].conversation_id)},
        # GET reads it, PUT updates it (the store's facts).
        f"{API}/orders/{{number}}": {"number": _order_number()},
        # Not the erased customer's: their timeline would be a 404 once the erasure ran.
        f"{API}/customers/{{ref}}/conversations": {
            "ref": _customer_ref(make_draft, "fuzz-timeline")
        },
        f"{API}/drafts/{{draft_id}}/actions/{{action_id}}/approve": _action_ids("approve"),
        f"{API}/drafts/{{draft_id}}/actions/{{action_id}}/reject": _action_ids("reject"),
    }


def _action_ids(verb: str) -> dict[str, str]:
    """A verified customer's draft with an order_status proposed on their order."""
    draft = customer_draft(f"where is NW-FUZZ-{verb}?", ref=f"fuzz-{verb}")
    order = order_for(draft, number=f"NW-FUZZ-{verb}")
    action = propose(draft, "order_status", order_number=order.number)
    return {"draft_id": str(draft.pk), "action_id": str(action.pk)}


def _attachment_id() -> str:
    pdf = {"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"}
    received = receive_email(build("Invoice attached.", attachments=[pdf]), door="api")
    return str(Attachment.objects.get(message_id=str(received.message_id)).pk)


def _customer_ref(make_draft: MakeDraft, ref: str = "fuzz-customer") -> str:
    make_draft("a question to export and erase", customer_ref=ref)
    return ref


def _task_id(conversation_id: Any) -> str:
    task = create_task(conversation_id, "Call back", created_by="agent", actor=Actor.agent())
    return str(task.pk)


def _order_number() -> str:
    customer = Customer.objects.create(ref="fuzz-orders")
    return Order.objects.create(number="FUZZ-1", customer=customer, total=Decimal("9.99")).number


def _proposal_id() -> str:
    proposal = Proposal.objects.create(
        kind=ProposalKind.ANSWER, title="Gift wrap", question="gift wrap?", answer="Yes."
    )
    return str(proposal.pk)


def widget_access(make_draft: MakeDraft) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """Headers for starting widget conversations, headers with a conversation token, and the
    ids for reading that conversation."""
    key = WidgetKey.objects.create(name="fuzz", allowed_origins=[SHOP])
    conversation_id = make_draft("a widget question").conversation_id
    # An agent reply, so that rating it can succeed.
    review.write_to_customer(conversation_id, Actor.auto_send(), "Here is how it works.")
    token = tokens.issue(conversation_id, key.pk)
    return (
        {"X-Widget-Key": key.public_key, "Origin": SHOP},
        {"Authorization": f"Bearer {token}", "Origin": SHOP},
        {"conversation_id": str(conversation_id)},
    )


def headers_for(operation: Any, api: dict[str, str], widget: tuple[dict[str, str], ...]) -> Any:
    if not operation.path.startswith(f"{API}/widget/"):
        return api
    # Starting a conversation, the settings and the help articles (#31) take the key; the rest
    # the token.
    by_key = operation.path == f"{API}/widget/conversations" or operation.path.startswith(
        tuple(f"{API}/widget/{name}" for name in ("config", "suggest", "articles/", "deflections"))
    )
    return widget[0] if by_key else widget[1]


def _public_article() -> KBDocument:
    """A help article the widget may suggest, open and count a deflection for."""
    spec = DocumentSpec(
        source=DocumentSource.MANUAL,
        external_id="fuzz-help",
        title="Gift cards",
        content="Gift cards never expire and can be used on any order in the shop.",
        category="PAYMENT",
    )
    upsert_documents([spec])
    return KBDocument.objects.get(external_id="fuzz-help")


@pytest.mark.slow
@override_settings(
    API_RATE_LIMIT_PER_MINUTE=0,
    WIDGET_RATE_LIMIT_PER_MINUTE=0,
    WIDGET_IP_RATE_LIMIT_PER_MINUTE=0,
    INBOUND_EMAIL_RATE_LIMIT_PER_HOUR=0,
)
def test_fuzz_every_operation(
    db: None,
    keep_connection: None,
    make_draft: MakeDraft,
    small_kb: object,
    capsys: pytest.CaptureFixture[str],
    settings: Any,
    tmp_path: Path,
) -> None:
    keep_attachments_in(settings, tmp_path / "attachments")
    schema = schemathesis.openapi.from_wsgi(f"{API}/openapi.json", get_wsgi_application())
    _, raw = ApiKey.issue("fuzz", ["ingest", "read", "act", "privacy"])
    headers = {"Authorization": f"Bearer {raw}"}
    ids = seeded_ids(make_draft)
    start, with_token, widget_ids = widget_access(make_draft)
    ids[f"{API}/widget/conversations/{{conversation_id}}"] = widget_ids
    ids[f"{API}/widget/conversations/{{conversation_id}}/rating"] = widget_ids
    article = _public_article()
    ids[f"{API}/widget/articles/{{slug}}"] = {"slug": article.slug}
    body_ids: dict[str, dict[str, Any]] = {
        f"POST {API}/widget/deflections": {"article_id": article.pk},
        f"POST {API}/tasks": {
            "conversation_id": ids[f"{API}/conversations/{{conversation_id}}"]["conversation_id"]
        },
    }
    totals: Counter = Counter()
    succeeded: dict[str, int] = {}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) == 40  # a new endpoint is fuzzed too: count it here
    for operation in operations:
        auth = headers_for(operation, headers, (start, with_token))
        name = f"{operation.method.upper()} {operation.path}"
        valid = fuzz_operation(
            operation,
            GenerationMode.POSITIVE,
            auth,
            ids.get(operation.path, {}),
            body_ids.get(name),
        )
        invalid = (
            fuzz_operation(operation, GenerationMode.NEGATIVE, auth, {})
            if name not in WITHOUT_INPUT
            else Counter()
        )
        succeeded[name] = valid["2xx"]
        totals += valid + invalid
    with capsys.disabled():
        print(f"\nfuzz: {sum(totals.values())} requests, by class {dict(sorted(totals.items()))}")
    # Server errors and schema violations raise inside fuzz_operation; here: every operation's
    # success path was reached at least once.
    assert [op for op, count in succeeded.items() if count == 0] == []
    assert totals["4xx"] > 0
