"""Quarantined e-mails in admin: listed by status, their raw .eml downloadable, and the
Reprocess action running them through the receive path again once the cause is fixed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from support.email.receive import receive_email
from support.models import AuditAction, AuditLog, InboundEmail, InboundStatus, Message
from support.tests.email_fixtures import email_settings, keep_attachments_in  # noqa: F401
from support.tests.emails.build import PDF, build

pytestmark = pytest.mark.usefixtures("email_settings")

ADMIN = "/admin/support/inboundemail/"


@pytest.fixture
def quarantined(db: None, settings: Any, tmp_path: Path) -> InboundEmail:
    """An e-mail with a file, quarantined because the attachment directory cannot be written."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    keep_attachments_in(settings, blocker / "attachments")
    pdf = {"data": PDF, "type": "application/pdf", "filename": "invoice.pdf"}
    received = receive_email(build("Invoice attached.", attachments=[pdf]), door="imap")
    keep_attachments_in(settings, tmp_path / "attachments")
    return InboundEmail.objects.get(pk=received.inbound_id)


def test_admins_list_quarantined_emails_and_download_the_raw_eml(
    admin_client: Client, quarantined: InboundEmail
) -> None:
    receive_email(build("A good one."), door="imap")

    listed = admin_client.get(ADMIN, {"status__exact": InboundStatus.QUARANTINED})
    assert listed.status_code == 200
    assert str(quarantined.pk) in listed.content.decode()
    assert listed.context["cl"].result_count == 1
    page = admin_client.get(f"{ADMIN}{quarantined.pk}/change/").content.decode()
    assert "NotADirectoryError" in page and "Download .eml" in page

    eml = admin_client.get(f"{ADMIN}{quarantined.pk}/eml/")
    assert eml.status_code == 200 and eml["Content-Type"] == "message/rfc822"
    assert eml.content == bytes(quarantined.raw)
    assert "attachment" in eml["Content-Disposition"]


def test_the_reprocess_action_stores_the_email_once_the_cause_is_fixed(
    admin_client: Client, quarantined: InboundEmail
) -> None:
    response = admin_client.post(
        ADMIN, {"action": "reprocess", "_selected_action": [str(quarantined.pk)]}, follow=True
    )
    assert response.status_code == 200
    assert "Reprocessed 1 e-mail(s)." in response.content.decode()
    quarantined.refresh_from_db()
    assert quarantined.status == InboundStatus.STORED and quarantined.message is not None
    assert Message.objects.get(pk=str(quarantined.message_id)).attachments.count() == 1
    assert AuditLog.objects.filter(action=AuditAction.REPROCESSED).count() == 1

    again = admin_client.post(
        ADMIN, {"action": "reprocess", "_selected_action": [str(quarantined.pk)]}, follow=True
    )
    assert "only a quarantined e-mail can be reprocessed" in again.content.decode()


def test_agents_who_are_not_staff_cannot_download_raw_email(
    quarantined: InboundEmail, agent_user: Any
) -> None:
    client = Client()
    client.force_login(agent_user)
    response = client.get(f"{ADMIN}{quarantined.pk}/eml/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
