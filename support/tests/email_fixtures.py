"""Settings and helpers shared by the e-mail channel's tests."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from resolver.audit_actor import Actor
from resolver.settings import attachment_storage
from support import review
from support.models import EmailEnvelope
from support.tests.emails.build import SUPPORT


def keep_attachments_in(settings: Any, directory: Path) -> None:
    """Attachments' files on disk under `directory`: ATTACHMENT_DIR, and the attachments storage
    (STORAGES["attachments"]) a FileSystemStorage there, as settings.py makes it by default.
    Changing STORAGES drops the storages Django built before."""
    settings.ATTACHMENT_DIR = directory
    settings.ATTACHMENT_STORAGE = "django.core.files.storage.FileSystemStorage"
    settings.ATTACHMENT_STORAGE_OPTIONS = {}
    storage = attachment_storage(settings.ATTACHMENT_STORAGE, {}, directory)
    settings.STORAGES = {**settings.STORAGES, "attachments": storage}


@pytest.fixture
def email_settings(settings: Any, tmp_path: Path) -> Any:
    settings.SUPPORT_EMAIL_FROM = SUPPORT
    settings.SUPPORT_EMAIL_ALIASES = ["help@shop.example"]
    keep_attachments_in(settings, tmp_path / "attachments")
    settings.INBOUND_EMAIL_RATE_LIMIT_PER_HOUR = 0
    return settings


def unique_sender(name: str = "Anna Keller") -> tuple[str, str]:
    """(From header, address): an address of its own, so Redis counters of earlier runs (the
    flood limit's, kept for an hour) never count against it."""
    address = f"cust-{uuid.uuid4().hex[:10]}@gmail.example"
    return f"{name} <{address}>", address


def our_reply(conversation_id: Any, text: str = "Hello, could you send your order number?") -> str:
    """An agent's reply in the conversation, through the outbound seam, which writes its
    envelope (Message-ID, subject with the thread token, recipients) before sending; returns
    its Message-ID."""
    message = review.write_to_customer(conversation_id, Actor.agent(), text)
    return EmailEnvelope.objects.get(message=message).message_id_header
