"""Where a customer's data lives, for the data rights (export, erasure) and retention.

Each app lists, in its own `personal_data` module, the models whose rows can hold a customer's
data (`HOLDERS`: which rows belong to a subject, which text fields they hold, how they are erased)
and the text fields that cannot (`NOT_PERSONAL`, with the reason). `settings.PERSONAL_DATA_MODULES`
names those modules, so this platform module imports no app: support (which knows what a customer
is) builds the Subject and runs the holders. A test walks every installed model and fails on a
text field neither list names, so a new column cannot escape erasure unnoticed."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import reduce
from importlib import import_module
from operator import or_
from types import ModuleType
from typing import Any

from django.conf import settings
from django.core import serializers
from django.db import models
from django.db.models import Q, QuerySet
from django.db.models.functions import Cast

from resolver.models import DeadLetter, IdempotencyRecord

# What replaces an erased text where the row stays (a message keeps its place in a conversation,
# a draft its status and timings for the dashboards).
ERASED = "[erased]"
# Ids are matched inside JSON columns with one LIKE each; chunks keep the statements small.
ID_CHUNK = 200


@dataclass(frozen=True)
class Subject:
    """Whose data is sought: one customer (by ref) or, for retention, a set of conversations.
    Captured before anything is erased, so every holder sees the same rows."""

    ref: str = ""
    customer_ids: frozenset[int] = frozenset()
    # The customer's e-mail addresses (normalised): mail kept as it arrived, quarantined mail
    # that never became a message, is found by its sender.
    addresses: frozenset[str] = frozenset()
    conversation_ids: frozenset[str] = frozenset()
    message_ids: frozenset[str] = frozenset()
    draft_ids: frozenset[str] = frozenset()
    # The customer's own words (message bodies) and what humans wrote about them (sent replies,
    # reject reasons, rating comments): copies elsewhere (triage examples, proposals) match these.
    texts: frozenset[str] = frozenset()

    @property
    def ids(self) -> frozenset[str]:
        return self.conversation_ids | self.message_ids | self.draft_ids

    @property
    def is_empty(self) -> bool:
        return not (self.customer_ids or self.ids)


@dataclass(frozen=True)
class Holder:
    """The rows of one model that can hold a subject's data."""

    model: type[models.Model]
    # The text fields it exports and erases (the completeness test reads them).
    fields: tuple[str, ...]
    rows: Callable[[Subject], QuerySet[Any]]
    # Deletes or anonymises the rows (given as rows(subject)); returns how many.
    erase: Callable[[QuerySet[Any], Subject], int]
    # Customer-wide only (the customer row, orders): retention leaves them.
    customer_only: bool = False
    # Rows that hold others' data too export only the subject's part (default: whole rows).
    export_rows: Callable[[QuerySet[Any], Subject], list[dict[str, Any]]] | None = None

    @property
    def label(self) -> str:
        return self.model._meta.label

    def export(self, subject: Subject) -> list[dict[str, Any]]:
        if self.export_rows is not None:
            return self.export_rows(self.rows(subject), subject)
        return serializers.serialize("python", self.rows(subject))


@dataclass(frozen=True)
class Registry:
    holders: tuple[Holder, ...]
    # "app_label.Model.field" → why it cannot hold a customer's text.
    not_personal: dict[str, str] = field(default_factory=dict)


def _modules() -> Iterator[ModuleType]:
    for path in settings.PERSONAL_DATA_MODULES:
        yield import_module(path)


def registry() -> Registry:
    holders: list[Holder] = []
    exempt: dict[str, str] = {}
    for module in _modules():
        holders += getattr(module, "HOLDERS", [])
        exempt |= getattr(module, "NOT_PERSONAL", {})
    return Registry(tuple(holders), exempt)


def mentioning(column: str, values: Iterable[str]) -> Q:
    """Rows whose JSON `column`, as text, contains any of `values` (an id in args, a payload)."""
    values = sorted(values)
    if not values:
        return Q(pk__in=[])
    return reduce(or_, (Q(**{f"{column}_text__contains": value}) for value in values))


def with_text(queryset: QuerySet[Any], *columns: str) -> QuerySet[Any]:
    return queryset.alias(**{f"{c}_text": Cast(c, models.TextField()) for c in columns})


def chunks(values: Iterable[str]) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), ID_CHUNK):
        yield ordered[start : start + ID_CHUNK]


def delete_rows(rows: QuerySet[Any], subject: Subject) -> int:
    return rows.delete()[1].get(rows.model._meta.label, 0)


# Platform rows (resolver's own and Django admin's).


def _dead_letters(subject: Subject) -> QuerySet[DeadLetter]:
    # A dead letter names what it failed on by id (a draft, a message, an event of them).
    pks: list[int] = []
    for ids in chunks(subject.ids):
        letters = with_text(DeadLetter.objects.all(), "args", "kwargs")
        match = mentioning("args", ids) | mentioning("kwargs", ids)
        pks += letters.filter(match).values_list("pk", flat=True)
    return DeadLetter.objects.filter(pk__in=pks)


def _idempotency_records(subject: Subject) -> QuerySet[IdempotencyRecord]:
    # The stored response of POST /messages names the conversation and message.
    ids = sorted(subject.conversation_ids | subject.message_ids)
    return IdempotencyRecord.objects.filter(
        Q(response__conversation_id__in=ids) | Q(response__id__in=ids)
    )


HOLDERS = [
    Holder(DeadLetter, ("args", "kwargs", "error", "traceback"), _dead_letters, delete_rows),
    Holder(IdempotencyRecord, ("response",), _idempotency_records, delete_rows),
]

NOT_PERSONAL = {
    "resolver.ApiKey.name": "integrations' keys: names and hashes, no customer data",
    "resolver.ApiKey.prefix": "the key's first characters",
    "resolver.ApiKey.key_hash": "SHA-256 of the key",
    "resolver.ApiKey.scopes": "scope names",
    "resolver.DeadLetter.actor_name": "an actor's name",
    "resolver.DeadLetter.queue_name": "a queue's name",
    "resolver.DeadLetter.message_id": "Dramatiq's message id",
    "resolver.DeadLetter.event_id": "an event id",
    "resolver.IdempotencyRecord.owner": "the caller (key or user id)",
    "resolver.IdempotencyRecord.key": "the caller's idempotency key",
    "resolver.IdempotencyRecord.request_hash": "a hash of the request body",
    "resolver.ProcessedEvent.event_id": "an event id (the dedupe table holds ids only)",
    "resolver.ProcessedEvent.event_type": "an event type",
    "admin.LogEntry.object_id": "a primary key",
    "auth.User.username": "staff accounts, not customers",
    "auth.User.first_name": "staff accounts, not customers",
    "auth.User.last_name": "staff accounts, not customers",
    "auth.User.email": "staff accounts, not customers",
    "auth.User.password": "a staff password hash",
    "auth.Group.name": "a group name",
    "auth.Permission.name": "a permission name",
    "auth.Permission.codename": "a permission code",
    "contenttypes.ContentType.app_label": "Django's model registry",
    "contenttypes.ContentType.model": "Django's model registry",
    "sessions.Session.session_data": "staff console sessions (customers have none)",
}
