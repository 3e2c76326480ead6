"""A customer's data rights and retention: everything stored about a customer, exported as JSON or
erased, and conversations past RETENTION_DAYS anonymised. The API (`/customers/{ref}`), the admin
actions and `manage.py customer_data` all come here; the models that hold the data are listed per
app (resolver/personal_data.py), so this module only decides whose rows they are."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from resolver.api.errors import ApiError
from resolver.api.types import storable
from resolver.audit_actor import Actor
from resolver.models import DeadLetter
from resolver.personal_data import Subject, registry
from support.announce import announce_draft
from support.email.addresses import normalise
from support.models import (
    AuditAction,
    AuditLog,
    Conversation,
    ConversationStatus,
    Customer,
    CustomerRating,
    Draft,
    InboundEmail,
    InboundStatus,
    Message,
    Task,
    WebhookAttempt,
)
from support.models.draft import OPEN_STATUSES
from support.vocabulary import CloseReason, TaskStatus

MAX_REF_CHARS = 200
# Retention works through old conversations in batches, so one run holds no lock for long.
RETENTION_BATCH = 200
# ... and stops after this long; the next run goes on where it stopped.
RETENTION_SECONDS = 300.0


def check_ref(ref: str) -> str:
    ref = ref.strip()
    if not ref or len(ref) > MAX_REF_CHARS:
        raise ApiError(422, f"a customer reference is 1 to {MAX_REF_CHARS} characters", "invalid")
    try:
        return storable(ref)
    except ValueError as exc:
        raise ApiError(422, f"customer reference: {exc}", "invalid") from None


def ref_digest(ref: str) -> str:
    """What the audit trail keeps of an erased customer: a keyed hash that tells a repeated
    request for the same reference, without the reference."""
    return hmac.new(settings.SECRET_KEY.encode(), ref.encode(), hashlib.sha256).hexdigest()[:16]


def _texts(conversation_ids: set[Any]) -> frozenset[str]:
    texts: set[str] = set(
        Message.objects.filter(conversation_id__in=conversation_ids)
        .order_by()
        .values_list("body", flat=True)
    )
    for fields in (
        Draft.objects.filter(conversation_id__in=conversation_ids)
        .order_by()
        .values_list("answer", "sent_text", "reject_reason")
    ):
        texts.update(fields)
    texts.update(
        CustomerRating.objects.filter(conversation_id__in=conversation_ids)
        .order_by()
        .values_list("comment", flat=True)
    )
    return frozenset(text for text in texts if text.strip())


def subject_of(
    conversations: Q,
    *,
    ref: str = "",
    customer_ids: frozenset[int] = frozenset(),
    addresses: frozenset[str] = frozenset(),
) -> Subject:
    # Unordered: a set, and an ORDER BY could make PostgreSQL walk a whole index for it.
    conversation_ids = set(
        Conversation.objects.filter(conversations).order_by().values_list("pk", flat=True)
    )
    messages = Message.objects.filter(conversation_id__in=conversation_ids).order_by()
    drafts = Draft.objects.filter(conversation_id__in=conversation_ids).order_by()
    return Subject(
        ref=ref,
        customer_ids=customer_ids,
        addresses=addresses,
        conversation_ids=frozenset(str(pk) for pk in conversation_ids),
        message_ids=frozenset(str(pk) for pk in messages.values_list("pk", flat=True)),
        draft_ids=frozenset(str(pk) for pk in drafts.values_list("pk", flat=True)),
        texts=_texts(conversation_ids),
    )


def _addresses(ref: str, emails: list[str]) -> frozenset[str]:
    """The mailboxes a reference stands for, as e-mail stores them (support.email.addresses.
    normalise): the reference itself when it is an address ("Anna.K@Example.com" is the
    "anna.k@example.com" an unverified e-mail's conversation is filed under), and its customer
    row's e-mail when it is a CRM reference ("crm-42")."""
    found = {normalise(ref), *(normalise(email) for email in emails)}
    return frozenset(address for address in found if address)


def customer(ref: str) -> Subject:
    """Everything tied to the reference: its customer row and the conversations that name it
    (by the row, by the reference the caller gave, which may have no row, or by the mailbox the
    reference or its row names)."""
    rows = list(Customer.objects.filter(ref=ref).values_list("pk", "email"))
    customer_ids = frozenset(pk for pk, _ in rows)
    addresses = _addresses(ref, [email for _, email in rows])
    return subject_of(
        Q(customer_ref=ref) | Q(customer_ref__in=addresses) | Q(customer_id__in=customer_ids),
        ref=ref,
        customer_ids=customer_ids,
        addresses=addresses,
    )


def export(ref: str, actor: Actor) -> dict[str, Any]:
    """Every row that holds the customer's data, per model (Django's serialised form: model,
    pk, fields); 404 when nothing is stored about the reference."""
    ref = check_ref(ref)
    subject = customer(ref)
    if subject.is_empty:
        raise ApiError(404, "nothing is stored about this customer reference", "not_found")
    data = {holder.label: holder.export(subject) for holder in registry().holders}
    AuditLog.objects.record(
        actor,
        AuditAction.CUSTOMER_EXPORTED,
        conversation_id=None,
        customer_ref=ref,
        rows={label: len(rows) for label, rows in data.items() if rows},
    )
    return {"customer_ref": ref, "exported_at": timezone.now(), "data": data}


def erase(subject: Subject, *, customer_wide: bool = True) -> dict[str, int]:
    """Runs every holder's erasure over the subject's rows; {model label: rows} of those it
    touched. The caller holds the transaction. Open drafts are closed by it (support's
    personal_data.py): each is announced `draft.closed` afterwards, when no holder can delete
    the webhook deliveries that carry it (they name ids only)."""
    closing = list(
        Draft.objects.filter(pk__in=subject.draft_ids, status__in=OPEN_STATUSES).values_list(
            "pk", flat=True
        )
    )
    counts: dict[str, int] = {}
    for holder in registry().holders:
        if holder.customer_only and not customer_wide:
            continue
        count = holder.erase(holder.rows(subject), subject)
        if count:
            counts[holder.label] = counts.get(holder.label, 0) + count
    for draft in Draft.objects.filter(pk__in=closing).order_by("created_at"):
        announce_draft(draft, closed=CloseReason.ERASED)
    return counts


def do_erase(ref: str, actor: Actor) -> dict[str, int]:
    """Erases everything stored about the customer; repeating it erases nothing more (200 with
    no counts). The audit row keeps who erased what counts, and a keyed hash of the reference."""
    ref = check_ref(ref)
    with transaction.atomic():
        # Locks first, the rows after: a conversation being started for this reference, or a
        # message being added to one of theirs, commits before we read (and is erased) or waits
        # for us. A message added afterwards to an erased conversation is new data there, under
        # no reference (retention expires it).
        # The mailboxes too: an e-mail's conversation is started under its sender's address.
        addresses = _addresses(
            ref, list(Customer.objects.filter(ref=ref).values_list("email", flat=True))
        )
        # The mailboxes first, then the reference: the order a verified e-mail takes them in
        # (customers.customer_for_email: its address, then its customer's ref), so an erasure
        # and that e-mail never wait on each other; sorted, so two erasures do not either.
        for key in [*sorted(addresses - {ref}), ref]:
            Conversation.objects.lock_customer(key)
        # The customer's id by a scalar subquery, not a join: an OR across a join makes
        # PostgreSQL read every conversation (seconds at a million); these are index scans.
        customer_id = Subquery(Customer.objects.filter(ref=ref).values("pk")[:1])
        theirs = Q(customer_ref=ref) | Q(customer_ref__in=addresses) | Q(customer_id=customer_id)
        lock_drafts_then_conversations(Conversation.objects.filter(theirs))
        subject = customer(ref)
        counts = erase(subject)
        AuditLog.objects.record(
            actor,
            AuditAction.CUSTOMER_ERASED,
            conversation_id=None,
            ref_digest=ref_digest(ref),
            erased=counts,
        )
    return counts


def do_erase_conversations(ids: list[Any], actor: Actor) -> dict[str, int]:
    """Erases conversations by id, whoever they belong to: a widget visitor's has no customer
    reference to ask for (the admin action on conversations)."""
    with transaction.atomic():
        locked = lock_drafts_then_conversations(Conversation.objects.filter(pk__in=ids))
        return erase_conversations(locked, actor, AuditAction.CUSTOMER_ERASED)


def lock_drafts_then_conversations(conversations: QuerySet[Conversation]) -> list[Any]:
    """Locks the conversations' drafts, then the conversations (their ids, in a stable order):
    the order auto-send and record_outcome lock in (support/autosend.py), so an erasure waits
    for a send in flight instead of deadlocking with it."""
    list(
        Draft.objects.select_for_update(of=("self",))
        .filter(conversation__in=conversations.values("pk"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return list(
        Conversation.objects.select_for_update(of=("self",))
        .filter(pk__in=conversations.values("pk"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def erase_conversations(ids: list[Any], actor: Actor, action: str, **meta: Any) -> dict[str, int]:
    """Erases the (locked) conversations, leaving the customer's account; one audit row each.
    The caller holds the transaction."""
    counts = erase(subject_of(Q(pk__in=ids)), customer_wide=False)
    AuditLog.objects.bulk_create(
        AuditLog(
            actor_type=actor.actor_type,
            actor=actor.label,
            user=actor.user,
            action=action,
            conversation_id=pk,
            metadata={**meta, "erased": counts},
        )
        for pk in ids
    )
    return counts


# Retention.


def expired_conversations(days: int) -> Q:
    """Conversations resolved, or with no activity, for longer than `days`."""
    cutoff = timezone.now() - timedelta(days=days)
    resolved = Q(status=ConversationStatus.RESOLVED, resolved_at__lt=cutoff)
    # A customer may write again in an anonymised conversation: the new words expire too.
    unerased = Q(anonymised_at__isnull=True) | Q(last_message_at__gt=F("anonymised_at"))
    # An open follow-up task is work the team still has on it, however old its messages: the
    # conversation waits until the task is done (task_conversation_idx).
    open_task = Task.objects.filter(conversation_id=OuterRef("pk"), status=TaskStatus.OPEN)
    return unerased & (resolved | Q(updated_at__lt=cutoff)) & ~Q(Exists(open_task))


def anonymise_expired(
    days: int, actor: Actor, *, seconds: float = RETENTION_SECONDS
) -> dict[str, int]:
    """Conversations past retention, anonymised with their messages, drafts, ratings, audit
    text, deliveries and the learning loop's copies, batch after batch for at most `seconds`
    (the next run goes on). The customer row and orders stay: they are the customer's account,
    not a conversation; erasing them is the customer's request (do_erase)."""
    counts: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = anonymise_batch(days, actor)
        for label, count in batch.items():
            counts[label] = counts.get(label, 0) + count
        if batch.get(Conversation._meta.label, 0) < RETENTION_BATCH:
            break
    return counts


def anonymise_batch(days: int, actor: Actor, batch: int = RETENTION_BATCH) -> dict[str, int]:
    with transaction.atomic():
        ids = _lock_expired(days, batch)
        if not ids:
            return {}
        return erase_conversations(ids, actor, AuditAction.ANONYMISED, retention_days=days)


def _lock_expired(days: int, batch: int) -> list[Any]:
    """Up to `batch` expired conversations, locked in the order reviews and sends lock (their
    drafts, then the conversation: lock_drafts_then_conversations); one whose draft or row
    somebody holds is left for the next run. Locking the conversation first deadlocked with an
    approval: it holds the draft, then its reply's insert waits to share the conversation."""
    expired = Conversation.objects.filter(expired_conversations(days))
    candidates = list(expired.order_by("updated_at").values_list("pk", flat=True)[:batch])
    drafts = Draft.objects.filter(conversation_id__in=candidates).order_by()
    held = set(drafts.values_list("conversation_id", flat=True)) - set(
        drafts.select_for_update(skip_locked=True, of=("self",)).values_list(
            "conversation_id", flat=True
        )
    )
    # Expired still: a message stored since the first read moved it out.
    return list(
        expired.filter(pk__in=[pk for pk in candidates if pk not in held])
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def expire_records(days: int) -> dict[str, int]:
    """Dead letters (their errors may quote a message), webhook attempts' response bodies and
    quarantined e-mails (raw, nobody reprocessed them: no conversation holds them) older than
    `days` (an attempt keeps its status code and error: the receiver's health)."""
    cutoff = timezone.now() - timedelta(days=days)
    _, deleted = DeadLetter.objects.filter(created_at__lt=cutoff).delete()
    attempts = WebhookAttempt.objects.filter(created_at__lt=cutoff).exclude(response_snippet="")
    quarantined = InboundEmail.objects.filter(
        status=InboundStatus.QUARANTINED, received_at__lt=cutoff
    )
    counts = {
        DeadLetter._meta.label: deleted.get(DeadLetter._meta.label, 0),
        WebhookAttempt._meta.label: attempts.update(response_snippet=""),
        InboundEmail._meta.label: quarantined.delete()[1].get(InboundEmail._meta.label, 0),
    }
    return {label: count for label, count in counts.items() if count}
