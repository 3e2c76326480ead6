"""Database constraints hold on the real PostgreSQL, whatever the Python code does."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from knowledge.models import DocumentSource, KBChunk, KBDocument
from support.models import Conversation, Draft, DraftStatus, Message, MessageRole


@pytest.fixture
def message(db: None) -> Message:
    conversation = Conversation.objects.create(customer_ref="cust-1")
    return Message.objects.create(
        conversation=conversation, role=MessageRole.CUSTOMER, body="Where is my order?"
    )


def make_draft(message: Message, **fields: object) -> Draft:
    return Draft.objects.create(message=message, conversation=message.conversation, **fields)


def violates(constraint: str, create: object) -> None:
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        create()  # type: ignore[operator]


@pytest.mark.parametrize("confidence", [-0.01, 1.01])
def test_draft_confidence_must_be_between_0_and_1(message: Message, confidence: float) -> None:
    violates("draft_confidence_between_0_and_1", lambda: make_draft(message, confidence=confidence))


@pytest.mark.parametrize("confidence", [0.0, 1.0, None])
def test_draft_confidence_bounds_are_inclusive(message: Message, confidence: float | None) -> None:
    draft = make_draft(message, confidence=confidence, status=DraftStatus.SUGGESTED)
    assert Draft.objects.get(pk=draft.pk).confidence == confidence


def test_draft_status_must_be_known(message: Message) -> None:
    violates("draft_status_valid", lambda: make_draft(message, status="MAYBE"))


def test_draft_escalation_reason_must_be_known(message: Message) -> None:
    violates(
        "draft_escalation_reason_valid",
        lambda: make_draft(message, status=DraftStatus.ESCALATED, escalation_reason="bored"),
    )


def test_one_pending_draft_per_message(message: Message) -> None:
    make_draft(message)
    violates("draft_one_pending_per_message", lambda: make_draft(message))
    # Finished drafts do not count: a reprocessed message gets a new pending draft.
    Draft.objects.filter(message=message).update(status=DraftStatus.SUGGESTED)
    assert make_draft(message).status == DraftStatus.PENDING


def test_message_body_may_not_be_blank(message: Message) -> None:
    violates(
        "message_body_not_blank",
        lambda: Message.objects.create(
            conversation=message.conversation, role=MessageRole.CUSTOMER, body="  \n"
        ),
    )


def test_message_role_must_be_known(message: Message) -> None:
    violates(
        "message_role_valid",
        lambda: Message.objects.create(conversation=message.conversation, role="BOT", body="hi"),
    )


def test_kb_document_external_id_unique_per_source(db: None) -> None:
    fields = {"title": "Refunds", "content": "How refunds work."}
    KBDocument.objects.create(source=DocumentSource.BITEXT, external_id="a", **fields)
    KBDocument.objects.create(source=DocumentSource.POLICY, external_id="a", **fields)
    violates(
        "kbdocument_source_external_id_uniq",
        lambda: KBDocument.objects.create(source=DocumentSource.BITEXT, external_id="a", **fields),
    )


def test_chunk_search_vector_is_generated_by_postgres(db: None) -> None:
    doc = KBDocument.objects.create(
        source=DocumentSource.MANUAL, external_id="x", title="T", content="c"
    )
    chunk = KBChunk.objects.create(
        document=doc, ordinal=0, text="Refunds are processed in batches", text_hash="h"
    )
    chunk.refresh_from_db()
    assert "'refund':1" in str(chunk.search_vector)
    assert "'batch':5" in str(chunk.search_vector)


def test_migrate_creates_the_agents_group(db: None) -> None:
    """Compose and Kubernetes run only `migrate`: the group agents are added to comes with it."""
    import importlib

    from django.apps import apps
    from django.contrib.auth.models import Group

    from resolver.bootstrap import AGENTS_GROUP

    migration = importlib.import_module("resolver.migrations.0005_agents_group")
    assert migration.AGENTS_GROUP == AGENTS_GROUP
    Group.objects.filter(name=AGENTS_GROUP).delete()
    migration.create_group(apps, None)
    migration.create_group(apps, None)  # again: a database that already has it
    assert Group.objects.filter(name=AGENTS_GROUP).count() == 1
