"""Where support keeps a customer's data (resolver/personal_data.py explains the lists): their
customer row and orders, conversations, messages, drafts, ratings, the audit trail about them,
webhook deliveries, and Django admin's history of those rows. The learning loop's copies of their
words (proposals, triage examples) are knowledge's to find and erase (knowledge/personal_data.py),
from the subject support builds here (support/customer_data.py).

Erasure anonymises what the dashboards count (a message keeps its place, role and time; a draft its
status, intent, confidence and timings) and deletes what is only theirs (the customer row, orders,
webhook deliveries). Audit rows keep who did what and when, without the text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.db.models import (
    BooleanField,
    Case,
    ExpressionWrapper,
    F,
    Func,
    JSONField,
    Model,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.utils import timezone

from knowledge.models import TriageExample
from knowledge.personal_data import triage_examples
from resolver.personal_data import ERASED, Holder, Subject, delete_rows
from support.autonomy.evidence import NOT_A_REVIEW
from support.email.attachments import remove_after_commit
from support.models import (
    Action,
    Attachment,
    AuditLog,
    Conversation,
    Customer,
    CustomerRating,
    DocumentReading,
    Draft,
    DraftStatus,
    EmailEnvelope,
    ErasedEmail,
    InboundEmail,
    Message,
    MessageRole,
    Order,
    ReplyDelivery,
    ReplyDeliveryStatus,
    Task,
    WebhookAttempt,
    WebhookDelivery,
)
from support.models.draft import CLOSED_BY_ERASURE, OPEN_STATUSES, empty_context
from support.outbound.deliveries import NOT_SENT_ERASED
from support.vocabulary import ActionStatus


def _customers(subject: Subject) -> QuerySet[Customer]:
    return Customer.objects.filter(pk__in=subject.customer_ids)


def _orders(subject: Subject) -> QuerySet[Order]:
    return Order.objects.filter(customer_id__in=subject.customer_ids)


def _conversations(subject: Subject) -> QuerySet[Conversation]:
    return Conversation.objects.filter(pk__in=subject.conversation_ids)


def _erase_conversations(rows: QuerySet[Conversation], subject: Subject) -> int:
    now = timezone.now()
    return rows.update(
        customer_ref="",
        customer=None,
        subject="",
        summary="",
        anonymised_at=now,
        updated_at=now,
    )


def _messages(subject: Subject) -> QuerySet[Message]:
    return Message.objects.filter(pk__in=subject.message_ids)


def _erase_messages(rows: QuerySet[Message], subject: Subject) -> int:
    return rows.update(body=ERASED, metadata={})


def _envelopes(subject: Subject) -> QuerySet[EmailEnvelope]:
    # Theirs and ours: a reply's headers quote their subject and name their address.
    return EmailEnvelope.objects.filter(message_id__in=subject.message_ids)


def _erase_envelopes(rows: QuerySet[EmailEnvelope], subject: Subject) -> int:
    """Deleted, the customer's e-mails remembered as erased first (ErasedEmail): the mailbox
    still holds them, and a door handing one over again must not bring its words back."""
    customers = rows.filter(message__role=MessageRole.CUSTOMER)
    ErasedEmail.objects.record(customers.values_list("message_id_header", flat=True))
    return delete_rows(rows, subject)


def _erase_inbound_emails(rows: QuerySet[InboundEmail], subject: Subject) -> int:
    """Deleted, each remembered as erased first (quarantined ones too: reprocessable no more)."""
    ErasedEmail.objects.record(rows.values_list("message_id_header", flat=True))
    return delete_rows(rows, subject)


def _inbound_emails(subject: Subject) -> QuerySet[InboundEmail]:
    """The e-mails as they arrived (raw bytes): those their messages came from, and, for a
    customer, every e-mail from their address, quarantined ones included."""
    match = Q(message_id__in=subject.message_ids)
    if subject.addresses:
        match |= Q(from_address__in=subject.addresses)
    return InboundEmail.objects.filter(match)


def _attachments(subject: Subject) -> QuerySet[Attachment]:
    return Attachment.objects.filter(message_id__in=subject.message_ids)


def _erase_attachments(rows: QuerySet[Attachment], subject: Subject) -> int:
    """The rows and their files in the attachments storage (deleted once the erasure commits)."""
    names = list(rows.exclude(path="").values_list("path", flat=True))
    count = delete_rows(rows, subject)
    remove_after_commit(names)
    return count


def _document_readings(subject: Subject) -> QuerySet[DocumentReading]:
    return DocumentReading.objects.filter(attachment__message_id__in=subject.message_ids)


def _reply_deliveries(subject: Subject) -> QuerySet[ReplyDelivery]:
    return ReplyDelivery.objects.filter(message__conversation_id__in=subject.conversation_ids)


def _erase_reply_deliveries(rows: QuerySet[ReplyDelivery], subject: Subject) -> int:
    # A transport's error may name the recipient ("550 <alice@…> unknown"); the status stays.
    # A reply still queued is not sent: its text and its envelope are gone.
    queued = rows.filter(status=ReplyDeliveryStatus.QUEUED).update(
        status=ReplyDeliveryStatus.FAILED, last_error=NOT_SENT_ERASED
    )
    errors = rows.exclude(last_error="").exclude(last_error=NOT_SENT_ERASED)
    return queued + errors.update(last_error="")


def _drafts(subject: Subject) -> QuerySet[Draft]:
    return Draft.objects.filter(pk__in=subject.draft_ids)


def _json_set(value: Any, path: list[str], to: Any) -> Func:
    """jsonb_set(value, path, to): one key replaced inside a JSON column, the rest kept."""
    return Func(
        value,
        Value(path, output_field=ArrayField(TextField())),
        Value(to, output_field=JSONField()),
        function="jsonb_set",
        output_field=JSONField(),
    )


def _erase_drafts(rows: QuerySet[Draft], subject: Subject) -> int:
    """Two UPDATEs, whatever the number of drafts. Guard verdicts stay (the dashboards count
    them); their reasons may quote the answer. Triage probabilities stay; the question a message
    asks, verbatim, and the tone cues and vetoes (they may quote its words) go."""
    scores = _json_set(F("triage_scores"), ["cues"], {})
    scores = _json_set(_json_set(scores, ["signals", "question"], ""), ["signals", "vetoes"], [])
    texts = {
        "triage_scores": scores,
        "answer": "",
        "sent_text": "",
        "suggested_action": "",
        "facts": {},
        # Documents' fields and the ids of earlier conversations (themselves erased with them).
        "context": empty_context(),
        "guard": _json_set(F("guard"), ["reasons"], []),
    }
    # Open drafts are closed: nobody is to answer them now; a worker still drafting one then
    # records nothing (support/agent_runs.py:record_outcome writes PENDING drafts only). The
    # reviewed ones first: once closed, the open ones would look reviewed. A person's reason
    # goes (it may quote the customer); the system's close markers stay: they are not personal
    # data, and they keep a system close from looking like a person's rejection. The verdict a
    # person gave (review_verdict) and the reply's link to its draft (Message.draft) stay too:
    # autonomy's evidence is the same after an erasure (support/autonomy/evidence.py).
    markers = Q(reject_reason__in=NOT_A_REVIEW)
    reason = Case(
        When(markers, then=F("reject_reason")), default=Value(""), output_field=TextField()
    )
    reviewed = rows.exclude(status__in=OPEN_STATUSES).update(**texts, reject_reason=reason)
    return reviewed + rows.filter(status__in=OPEN_STATUSES).update(
        **texts, status=DraftStatus.REJECTED, run_started_at=None, reject_reason=CLOSED_BY_ERASURE
    )


def _actions(subject: Subject) -> QuerySet[Action]:
    return Action.objects.filter(conversation_id__in=subject.conversation_ids)


def _erase_actions(rows: QuerySet[Action], subject: Subject) -> int:
    """What was done stays countable (name, status, dates); its arguments (an address, an
    order number), the store's answer and any error text go. One approved and not yet confirmed
    by the store (http, retrying) is not sent on: failed, its outcome unknown if the store was
    asked already."""
    rows.filter(status=ActionStatus.APPROVED).update(
        status=ActionStatus.FAILED,
        outcome_unknown=ExpressionWrapper(Q(attempts__gt=0), output_field=BooleanField()),
    )
    return rows.update(
        arguments={}, proposed_arguments=None, confirmation="", fallback="", result=None, error=""
    )


def _tasks(subject: Subject) -> QuerySet[Task]:
    return Task.objects.filter(conversation_id__in=subject.conversation_ids)


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


def _admin_log(subject: Subject) -> QuerySet[LogEntry]:
    """Admin's history keeps each edited object's str(): a message's first words, a name, an
    order number."""
    by_model: dict[type[Model], Iterable[Any]] = {
        Customer: subject.customer_ids,
        Order: _orders(subject).values_list("pk", flat=True),
        Conversation: subject.conversation_ids,
        Message: subject.message_ids,
        Draft: subject.draft_ids,
        TriageExample: triage_examples(subject).values_list("pk", flat=True),
    }
    match = Q(pk__in=[])
    for model, ids in by_model.items():
        if keys := sorted(str(pk) for pk in ids):
            match |= Q(content_type=ContentType.objects.get_for_model(model), object_id__in=keys)
    return LogEntry.objects.filter(match)


def _erase_admin_log(rows: QuerySet[LogEntry], subject: Subject) -> int:
    return rows.update(object_repr=ERASED, change_message="")


HOLDERS = [
    # Admin's history first: it names rows that later holders delete (orders here, triage
    # examples in knowledge's list, which settings.PERSONAL_DATA_MODULES runs after this one).
    Holder(LogEntry, ("object_repr", "change_message"), _admin_log, _erase_admin_log),
    # Orders before their customer: deleting the customer would detach them (SET_NULL).
    Holder(Order, ("number", "shipping_address"), _orders, delete_rows, customer_only=True),
    Holder(
        Customer, ("ref", "name", "email", "metadata"), _customers, delete_rows, customer_only=True
    ),
    Holder(
        Conversation,
        ("customer_ref", "subject", "summary"),
        _conversations,
        _erase_conversations,
    ),
    Holder(Message, ("body", "metadata"), _messages, _erase_messages),
    Holder(
        EmailEnvelope,
        (
            "message_id_header",
            "in_reply_to",
            "references",
            "subject",
            "from_address",
            "from_name",
            "to",
            "cc",
            "html",
        ),
        _envelopes,
        _erase_envelopes,
    ),
    Holder(
        InboundEmail,
        ("message_id_header", "from_address", "sha256", "error", "esp_verdict"),
        _inbound_emails,
        _erase_inbound_emails,
    ),
    # What the worker read in an attachment (its text, fields, mismatches): before the attachment,
    # whose deletion would take the reading with it unexported.
    Holder(
        DocumentReading,
        ("text", "fields", "mismatches", "error"),
        _document_readings,
        delete_rows,
    ),
    Holder(
        Attachment,
        ("filename", "content_type", "declared_type", "sha256", "path", "content_id"),
        _attachments,
        _erase_attachments,
    ),
    Holder(ReplyDelivery, ("last_error",), _reply_deliveries, _erase_reply_deliveries),
    Holder(
        Draft,
        (
            "answer",
            "sent_text",
            "reject_reason",
            "suggested_action",
            "facts",
            "guard",
            "context",
            "triage_scores",
        ),
        _drafts,
        _erase_drafts,
    ),
    Holder(CustomerRating, ("comment",), _ratings, _erase_ratings),
    Holder(
        Action,
        ("arguments", "proposed_arguments", "confirmation", "fallback", "result", "error"),
        _actions,
        _erase_actions,
    ),
    Holder(Task, ("title",), _tasks, delete_rows),
    Holder(AuditLog, ("before", "after", "metadata"), _audit, _erase_audit),
    # Attempts before their deliveries: deleting a delivery deletes its attempts with it.
    Holder(WebhookAttempt, ("response_snippet", "error"), _attempts, delete_rows),
    Holder(WebhookDelivery, ("payload",), _deliveries, delete_rows),
]

_CONFIG = "configuration an admin writes, not customer data"
NOT_PERSONAL: dict[str, Any] = {
    "support.Message.trace_id": "a W3C trace id",
    "support.Conversation.thread_token": "a random token",
    "support.ReplyDelivery.channel": "a channel of the vocabulary",
    "support.InboundEmail.door": "which door an e-mail came in by (api, imap, anymail:<esp>)",
    "support.Draft.intent": "a label of the taxonomy",
    "support.Draft.category": "a label of the taxonomy",
    "support.Draft.citations": "KB article ids, titles and snippets (the company's text)",
    "support.Draft.model": "a model name",
    "support.Draft.prompt_version": "a version string",
    "support.Draft.trace_id": "a W3C trace id",
    "support.Draft.run_by": "a worker's host:pid",
    "support.Draft.language": "a language code (ISO 639-1)",
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
    "support.IntentAutonomy.intent": "a label of the taxonomy",
    "support.AutonomySwitch.changed_by": "who flipped the kill switch: a staff user's label",
    "support.Order.currency": "an ISO 4217 code",
    "support.Deflection.query_hash": "a keyed hash of what a visitor typed, not the words",
    "support.Action.name": "an action of the catalogue (support/actions/catalogue.py)",
    # Running totals (support/tallies.py): counts per status, no row of anyone's.
    "support.DraftTally.status": "a draft status of the vocabulary",
    "support.DraftTally.escalation_reason": "an escalation reason of the vocabulary",
    "support.StatusTally.kind": "a table's name",
    "support.StatusTally.status": "a status of the vocabulary",
    # Hourly rollups of drafts (support/rollups.py): counts per hour and group.
    "support.DraftHour.status": "a draft status of the vocabulary",
    "support.DraftHour.escalation_reason": "an escalation reason of the vocabulary",
    "support.DraftHour.intent": "a label of the taxonomy",
    "support.CitationHour.kb_id": "a KB article's id",
    "support.CitationHour.title": "a KB article's title as cited (the company's text)",
    "support.BusinessProfile.company_name": _CONFIG,
    "support.BusinessProfile.support_phone": _CONFIG,
    "support.BusinessProfile.support_hours": _CONFIG,
    "support.BusinessProfile.support_email": _CONFIG,
    "support.BusinessProfile.website_url": _CONFIG,
    "support.BusinessProfile.live_chat_label": _CONFIG,
    "support.BusinessProfile.labels": _CONFIG,
    # The IMAP door's state (support/email/imap.py, oauth2.py): our mailbox, not a customer's.
    "support.MailboxCursor.host": _CONFIG,
    "support.MailboxCursor.user": "our mailbox's account name (configuration)",
    "support.MailboxCursor.folder": _CONFIG,
    "support.MailboxCursor.retry_uids": "IMAP UIDs and attempt counts",
    "support.MailboxCursor.last_error": "the mail server's or token endpoint's error about our "
    "mailbox (a message's failure is logged, scrubbed, never stored here)",
    "support.MailboxCredential.host": _CONFIG,
    "support.MailboxCredential.user": "our mailbox's account name (configuration)",
    "support.MailboxCredential.refresh_token": "an OAuth2 secret of our mailbox (configuration)",
    "support.MailboxCredential.seed_digest": "a SHA-256 digest of a configured secret",
    "support.MailboxCredential.access_token": "an OAuth2 secret of our mailbox (configuration)",
}
