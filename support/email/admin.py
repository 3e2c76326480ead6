"""Inbound e-mails in admin: every e-mail as it arrived, filterable by status (Quarantined is the
list admins watch), each one's raw .eml to download, and the action that runs quarantined ones
through the receive path again (support/email/receive.py:reprocess, audited)."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from resolver.admin_mixins import ActionsNeedChangePermission, ReadOnlyAdminMixin, row_action
from support.email.receive import reprocess
from support.models import Attachment, DocumentReading, EmailEnvelope, ErasedEmail, InboundEmail

# Everything is shown, nothing edited: an e-mail is a record of what arrived.
FIELDS = (
    "id",
    "status",
    "door",
    "received_at",
    "processed_at",
    "attempts",
    "from_address",
    "message_id_header",
    "size",
    "sha256",
    "eml",
    "message_link",
    "esp_verdict",
    "error",
)


@admin.register(InboundEmail)
class InboundEmailAdmin(ActionsNeedChangePermission, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "received_at",
        "status",
        "door",
        "from_address",
        "message_id_header",
        "attempts",
        "short_error",
    ]
    list_filter = ["status", "door", "received_at"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[InboundEmail]:
        # The raw e-mail (up to INBOUND_EMAIL_MAX_BYTES each) is read only to download it.
        return super().get_queryset(request).defer("raw")

    search_fields = ["id", "from_address", "message_id_header"]
    date_hierarchy = "received_at"
    fields = FIELDS
    readonly_fields = FIELDS
    actions = ["reprocess"]

    reprocess = admin.action(
        description="Reprocess the selected quarantined e-mails", permissions=["act_on_rows"]
    )(row_action(lambda inbound, actor: reprocess(inbound.pk, actor), "Reprocessed", "e-mail"))

    @admin.display(description="Error")
    def short_error(self, obj: InboundEmail) -> str:
        last = obj.error.strip().splitlines()[-1:] if obj.error else []
        return last[0][:120] if last else ""

    @admin.display(description="Raw e-mail")
    def eml(self, obj: InboundEmail) -> str:
        if not obj.raw:
            return "(not kept: a duplicate of an e-mail received before)"
        url = reverse("admin:support_inboundemail_eml", args=[obj.pk])
        return format_html('<a href="{}">Download .eml</a> ({} bytes)', url, obj.size)

    @admin.display(description="Message")
    def message_link(self, obj: InboundEmail) -> str:
        if obj.message_id is None:
            return "(none yet)"
        url = reverse("admin:support_message_change", args=[obj.message_id])
        return format_html('<a href="{}">{}</a>', url, obj.message_id)

    def get_urls(self) -> list[URLPattern]:
        download = path(
            "<uuid:pk>/eml/",
            self.admin_site.admin_view(self.download_eml),
            name="support_inboundemail_eml",
        )
        return [download, *super().get_urls()]

    def download_eml(self, request: HttpRequest, pk: uuid.UUID) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        inbound: Any = InboundEmail.objects.filter(pk=pk).only("raw").first()
        if inbound is None or not inbound.raw:
            raise Http404("no raw e-mail kept")
        response = HttpResponse(bytes(inbound.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="{pk}.eml"'
        return response


@admin.register(EmailEnvelope)
class EmailEnvelopeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The headers of each e-mail message, ours and the customers': a record, never edited."""

    list_display = ["created_at", "from_address", "subject", "message_id_header"]
    search_fields = ["message_id_header", "from_address", "subject"]
    date_hierarchy = "created_at"
    raw_id_fields = ["message"]


@admin.register(ErasedEmail)
class ErasedEmailAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The e-mails erasure and retention deleted, by a keyed hash of their Message-ID: a door
    handing one over again stores nothing of it. A record; nothing to edit, nobody named."""

    list_display = ["digest", "erased_at"]
    date_hierarchy = "erased_at"


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Files customers' e-mails carried; downloaded through the API (GET /attachments/{id})."""

    list_display = ["created_at", "filename", "content_type", "declared_type", "size", "skipped"]
    list_filter = ["content_type", "skipped", "inline"]
    search_fields = ["id", "filename", "sha256"]
    raw_id_fields = ["message"]
    readonly_fields = ["download"]

    @admin.display(description="File")
    def download(self, obj: Attachment) -> str:
        if not obj.is_stored:
            return f"(not kept: {obj.get_skipped_display()})"
        url = reverse("api-v1:attachment", kwargs={"attachment_id": obj.pk})
        return format_html('<a href="{}">Download</a>', url)


@admin.register(DocumentReading)
class DocumentReadingAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """What the worker read in each attachment (support/documents/read.py): a record."""

    list_display = ["read_at", "attachment", "status", "pages", "error"]
    list_filter = ["status"]
    search_fields = ["attachment__id", "attachment__filename"]
    raw_id_fields = ["attachment"]
