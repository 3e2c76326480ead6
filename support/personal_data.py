"""Where support keeps a customer's data (resolver/personal_data.py explains the lists): their
customer row and orders, conversations, messages, drafts, ratings, the audit trail about them,
webhook deliveries, and the learning loop's copies of their words (proposals, triage examples).

Erasure anonymises what the dashboards count (a message keeps its place, role and time; a draft its
status, intent, confidence and timings) and deletes what is only theirs (the customer row, orders,
webhook deliveries, triage examples learned from their messages). Audit rows keep who did what and
when, without the text."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.db.models import F, Func, JSONField, Model, Q, QuerySet, TextField, Value
from django.utils import timezone

from knowledge.actors import enqueue_reindex
from knowledge.models import Proposal, ProposalKind, ProposalStatus, TriageExample
from knowledge.specifics import generalise
from resolver.personal_data import (
    ERASED,
    Holder,
    Subject,
    chunks,
    delete_rows,
    mentioning,
    with_text,
)
from support.models import (
    AuditLog,
    Conversation,
    Customer,
    CustomerRating,
    Draft,
    DraftStatus,
    Message,
    Order,
    WebhookAttempt,
    WebhookDelivery,
)
from support.models.draft import OPEN_STATUSES
from support.review import CLOSED_BY_ERASURE


def _customers(subject: Subject) -> QuerySet[Customer]:
    return Customer.objects.filter(pk__in=subject.customer_ids)


def _orders(subject: Subject) -> QuerySet[Order]:
    return Order.objects.filter(customer_id__in=subject.customer_ids)


def _conversations(subject: Subject) -> QuerySet[Conversation]:
    return Conversation.objects.filter(pk__in=subject.conversation_ids)


def _erase_conversations(rows: QuerySet[Conversation], subject: Subject) -> int:
    now = timezone.now()
    return rows.update(customer_ref="", customer=None, anonymised_at=now, updated_at=now)


def _messages(subject: Subject) -> QuerySet[Message]:
    return Message.objects.filter(pk__in=subject.message_ids)


def _erase_messages(rows: QuerySet[Message], subject: Subject) -> int:
    return rows.update(body=ERASED, metadata={})


def _drafts(subject: Subject) -> QuerySet[Draft]:
    return Draft.objects.filter(pk__in=subject.draft_ids)


def _erase_drafts(rows: QuerySet[Draft], subject: Subject) -> int:
    """Two UPDATEs, whatever the number of drafts. Guard verdicts stay (the dashboards count
    them); their reasons may quote the answer."""
    texts = {
        "answer": "",
        "sent_text": "",
        "suggested_action": "",
        "facts": {},
        "guard": Func(
            F("guard"),
            Value(["reasons"], output_field=ArrayField(TextField())),
            Value([], output_field=JSONField()),
            function="jsonb_set",
            output_field=JSONField(),
        ),
    }
    # Open drafts are closed: nobody is to answer them now; a worker still drafting one then
    # records nothing (support/drafts.py:record_outcome writes PENDING drafts only). The
    # reviewed ones first: once closed, the open ones would look reviewed.
    reviewed = rows.exclude(status__in=OPEN_STATUSES).update(**texts, reject_reason="")
    return reviewed + rows.filter(status__in=OPEN_STATUSES).update(
        **texts, status=DraftStatus.REJECTED, run_started_at=None, reject_reason=CLOSED_BY_ERASURE
    )


def _ratings(subject: Subject) -> QuerySet[CustomerRating]:
    return CustomerRating.objects.filter(conversation_id__in=subject.conversation_ids)


def _erase_ratings(rows: QuerySet[CustomerRating], subject: Subject) -> int:
    return rows.update(comment="")


def _audit(subject: Subject) -> QuerySet[AuditLog]:
    about = (
        Q(conversation_id__in=subject.conversation_ids)
        | Q(draft_id__in=subject.draft_ids)
        | Q(message_id__in=subject.message_ids)
    )
    if subject.ref:
        # Exports and erasures name the customer they were about.
        about |= Q(metadata__customer_ref=subject.ref)
    return AuditLog.objects.filter(about)


def _erase_audit(rows: QuerySet[AuditLog], subject: Subject) -> int:
    return rows.update(before=None, after=None, metadata={})


def _deliveries(subject: Subject) -> QuerySet[WebhookDelivery]:
    ids = sorted(subject.conversation_ids)
    return WebhookDelivery.objects.filter(payload__conversation_id__in=ids)


def _attempts(subject: Subject) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(delivery__in=_deliveries(subject))


def _proposals(subject: Subject) -> QuerySet[Proposal]:
    pks: list[int] = []
    for ids in chunks(subject.conversation_ids):
        proposals = with_text(Proposal.objects.all(), "sources")
        pks += proposals.filter(mentioning("sources", ids)).values_list("pk", flat=True)
    return Proposal.objects.filter(pk__in=pks)


def _words(text: str) -> str:
    return " ".join(generalise(text).split()).lower()


# A note is "<reject category>: <generalised reason>" (revisions.py) or the reason alone.
_NOTE_PREFIX = re.compile(r"^[A-Z][a-z]+: ")
# Stored texts are cut (questions at 2,000 characters, notes at 500): a cut copy is matched by
# its words from the start, if long enough to be nobody else's.
_MIN_CUT_MATCH = 40


class _Theirs:
    """Tells whether a proposal's question, variant or note, or a triage example, is a copy of
    the subject's words: the learning loop stores them generalised and cut (answers.py,
    relabels.py, revisions.py, guard_rules.py)."""

    def __init__(self, subject: Subject) -> None:
        self.whole = {_words(text) for text in subject.texts} | {
            " ".join(text.split()).lower() for text in subject.texts
        }

    def __call__(self, value: str) -> bool:
        return any(self._matches(_words(v)) for v in {value, _NOTE_PREFIX.sub("", value)})

    def _matches(self, words: str) -> bool:
        if not words:
            return False
        if words in self.whole:
            return True
        return len(words) >= _MIN_CUT_MATCH and any(
            text.startswith(words) and text[len(words) : len(words) + 1] in ("", " ")
            for text in self.whole
        )


def _is_theirs(source: dict[str, Any], subject: Subject) -> bool:
    return source.get("conversation_id") in subject.conversation_ids


def _export_proposal(proposal: Proposal, subject: Subject) -> dict[str, Any]:
    """Only what is theirs: a proposal other customers also back holds their words too."""
    theirs = _Theirs(subject)
    return {
        "model": "knowledge.proposal",
        "pk": proposal.pk,
        "fields": {
            "kind": proposal.kind,
            "status": proposal.status,
            "questions": [q for q in [proposal.question, *proposal.variants] if theirs(q)],
            "notes": [note for note in proposal.notes if theirs(note)],
            "answer": proposal.answer if _is_theirs(proposal.sources[0], subject) else None,
            "sources": [s for s in proposal.sources if _is_theirs(s, subject)],
            "created_at": proposal.created_at,
        },
    }


def _export_proposals(rows: QuerySet[Proposal], subject: Subject) -> list[dict[str, Any]]:
    return [_export_proposal(proposal, subject) for proposal in rows]


def _forget_in_article(proposal: Proposal, theirs: _Theirs) -> None:
    """An approved answer's article was indexed with the customers' questions as its
    questions: theirs go, the article is re-embedded (its answer is the company's text)."""
    document = proposal.document
    if document is None or proposal.kind != ProposalKind.ANSWER:
        return
    questions = document.metadata.get("questions", [])
    kept = [q for q in questions if not theirs(q)]
    if kept == questions and not theirs(document.title):
        return
    if theirs(document.title):
        document.title = (kept[0] if kept else document.content.split("\n", 1)[0])[:300]
    document.metadata = {**document.metadata, "questions": kept}
    document.save(update_fields=["title", "metadata", "updated_at"])
    enqueue_reindex([document.pk])  # after commit


def _erase_proposals(rows: QuerySet[Proposal], subject: Subject) -> int:
    """An open proposal first raised by their conversation (its question and answer are theirs),
    a revision one of theirs backs (its text may hold their correction) or one nobody else
    backs is deleted: nobody reviewed it, and the next observation raises it again. Otherwise
    their sources, questions and notes go, and an approved answer's article forgets their
    questions."""
    theirs = _Theirs(subject)
    count = 0
    for proposal in rows:
        sources = [s for s in proposal.sources if not _is_theirs(s, subject)]
        raised_by_them = bool(proposal.sources) and _is_theirs(proposal.sources[0], subject)
        if proposal.status == ProposalStatus.OPEN and (
            not sources or raised_by_them or proposal.kind == ProposalKind.KB_EDIT
        ):
            proposal.delete()
            count += 1
            continue
        questions = [q for q in [proposal.question, *proposal.variants] if q and not theirs(q)]
        if theirs(proposal.question) or theirs(proposal.title):
            proposal.title = (questions[0] if questions else ERASED)[:120]
        proposal.question = questions[0] if questions else ERASED
        proposal.variants = questions[1:]
        proposal.notes = [note for note in proposal.notes if not theirs(note)]
        proposal.sources, proposal.source_count = sources, len(sources)
        proposal.save(
            update_fields=["title", "question", "variants", "notes", "sources", "source_count"]
        )
        _forget_in_article(proposal, theirs)
        count += 1
    return count


def _admin_log(subject: Subject) -> QuerySet[LogEntry]:
    """Admin's history keeps each edited object's str(): a message's first words, a name, an
    order number."""
    by_model: dict[type[Model], Iterable[Any]] = {
        Customer: subject.customer_ids,
        Order: _orders(subject).values_list("pk", flat=True),
        Conversation: subject.conversation_ids,
        Message: subject.message_ids,
        Draft: subject.draft_ids,
        TriageExample: _triage_examples(subject).values_list("pk", flat=True),
    }
    match = Q(pk__in=[])
    for model, ids in by_model.items():
        if keys := sorted(str(pk) for pk in ids):
            match |= Q(content_type=ContentType.objects.get_for_model(model), object_id__in=keys)
    return LogEntry.objects.filter(match)


def _erase_admin_log(rows: QuerySet[LogEntry], subject: Subject) -> int:
    return rows.update(object_repr=ERASED, change_message="")


def _triage_examples(subject: Subject) -> QuerySet[TriageExample]:
    """Examples their messages became: through the proposal that learned them (whose sources
    name the conversation), or, for one without, by its text."""
    theirs = _Theirs(subject)
    learned_from_them = set(_proposals(subject).values_list("pk", flat=True))
    candidates = TriageExample.objects.filter(
        Q(proposal__in=learned_from_them) | Q(proposal__isnull=True)
    )
    pks = [pk for pk, text in candidates.values_list("pk", "text") if theirs(text)]
    return TriageExample.objects.filter(pk__in=pks)


HOLDERS = [
    # Admin's history first: it names rows (orders, examples) that later holders delete.
    Holder(LogEntry, ("object_repr", "change_message"), _admin_log, _erase_admin_log),
    # Orders before their customer: deleting the customer would detach them (SET_NULL).
    Holder(Order, ("number",), _orders, delete_rows, customer_only=True),
    Holder(
        Customer, ("ref", "name", "email", "metadata"), _customers, delete_rows, customer_only=True
    ),
    Holder(Conversation, ("customer_ref",), _conversations, _erase_conversations),
    Holder(Message, ("body", "metadata"), _messages, _erase_messages),
    Holder(
        Draft,
        ("answer", "sent_text", "reject_reason", "suggested_action", "facts", "guard"),
        _drafts,
        _erase_drafts,
    ),
    Holder(CustomerRating, ("comment",), _ratings, _erase_ratings),
    Holder(AuditLog, ("before", "after", "metadata"), _audit, _erase_audit),
    # Attempts before their deliveries: deleting a delivery deletes its attempts with it.
    Holder(WebhookAttempt, ("response_snippet", "error"), _attempts, delete_rows),
    Holder(WebhookDelivery, ("payload",), _deliveries, delete_rows),
    Holder(
        Proposal,
        ("title", "question", "variants", "notes", "sources", "answer", "decision_note"),
        _proposals,
        _erase_proposals,
        export_rows=_export_proposals,
    ),
    Holder(TriageExample, ("text",), _triage_examples, delete_rows),
]

_CONFIG = "configuration an admin writes, not customer data"
NOT_PERSONAL: dict[str, Any] = {
    "support.Message.trace_id": "a W3C trace id",
    "support.Draft.intent": "a label of the taxonomy",
    "support.Draft.category": "a label of the taxonomy",
    "support.Draft.triage_scores": "probabilities per label",
    "support.Draft.citations": "KB article ids, titles and snippets (the company's text)",
    "support.Draft.model": "a model name",
    "support.Draft.prompt_version": "a version string",
    "support.Draft.trace_id": "a W3C trace id",
    "support.Draft.run_by": "a worker's host:pid",
    "support.AuditLog.actor": "who acted: a staff user, key or the system",
    "support.WebhookDelivery.event_id": "an event id",
    "support.WebhookDelivery.event_type": "an event type",
    "support.WebhookEndpoint.url": _CONFIG,
    "support.WebhookEndpoint.description": _CONFIG,
    "support.WebhookEndpoint.events": _CONFIG,
    "support.WebhookEndpoint.secret": _CONFIG,
    "support.WebhookEndpoint.previous_secret": _CONFIG,
    "support.WidgetKey.name": _CONFIG,
    "support.WidgetKey.public_key": _CONFIG,
    "support.WidgetKey.allowed_origins": _CONFIG,
    "support.WidgetKey.company_name": _CONFIG,
    "support.WidgetKey.colour": _CONFIG,
    "support.WidgetKey.greeting": _CONFIG,
    "support.AutoSendRule.intent": _CONFIG,
    "support.BusinessProfile.company_name": _CONFIG,
    "support.BusinessProfile.support_phone": _CONFIG,
    "support.BusinessProfile.support_hours": _CONFIG,
    "support.BusinessProfile.support_email": _CONFIG,
    "support.BusinessProfile.website_url": _CONFIG,
    "support.BusinessProfile.live_chat_label": _CONFIG,
    "support.BusinessProfile.labels": _CONFIG,
    "knowledge.Proposal.intent": "a label of the taxonomy",
    "knowledge.Proposal.category": "a label of the taxonomy",
    "knowledge.TriageExample.intent": "a label of the taxonomy",
    "knowledge.TriageExample.category": "a label of the taxonomy",
}
