"""resolver.pipeline: statements sent as one pipeline behave as if sent one by one."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction

from resolver.audit_actor import Actor
from resolver.pipeline import pipelined
from support.models import AuditAction, AuditLog, Conversation, Message, MessageRole


def test_pipelined_writes_are_stored_and_ids_returned(db: None) -> None:
    with transaction.atomic(), pipelined():
        conversation = Conversation.objects.create(customer_ref="pipe-1")
        message = Message.objects.create(
            conversation=conversation, role=MessageRole.CUSTOMER, body="hello"
        )
        audit = AuditLog.objects.record(
            Actor.customer(),
            AuditAction.CREATED,
            conversation_id=conversation.pk,
            message_id=message.pk,
        )
    assert audit.pk is not None  # RETURNING id: read through the pipeline
    assert Message.objects.get(pk=message.pk).conversation_id == conversation.pk
    assert not connection.connection.pgconn.pipeline_status  # back to normal mode


def test_a_violation_in_the_pipeline_is_djangos_integrity_error(db: None) -> None:
    conversation = Conversation.objects.create(customer_ref="pipe-2")
    violation = pytest.raises(IntegrityError, match="message_role_valid")
    with violation, transaction.atomic(), pipelined():
        Message.objects.create(conversation=conversation, role="NOPE", body="bad")
        Message.objects.create(conversation=conversation, role=MessageRole.CUSTOMER, body="after")
    # Nothing of the block was kept, and the connection still works.
    assert not Message.objects.filter(conversation=conversation).exists()
