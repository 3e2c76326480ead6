"""GET /attachments/{id}: a file a customer's e-mail carried, for agents (scope read). Served as a
download whatever its type (Content-Disposition: attachment, the sniffed type, never the one the
e-mail claimed), so no file a customer sent runs in the console's origin."""

from __future__ import annotations

import uuid

from django.http import FileResponse, HttpRequest
from ninja import Router

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS, ApiError
from resolver.models import Scope
from support.email.attachments import open_stored
from support.models import Attachment

router = Router(tags=["attachments"])

FILE_RESPONSE = {
    "200": {
        "description": "The file, with its sniffed content type, as a download.",
        # Whatever the file is: the type sniffed from its bytes.
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.get(
    "/attachments/{attachment_id}",
    response=ERRORS,
    auth=scoped(Scope.READ),
    url_name="attachment",
    openapi_extra={"responses": FILE_RESPONSE},
)
def download_attachment(request: HttpRequest, attachment_id: uuid.UUID) -> FileResponse:
    attachment = Attachment.objects.filter(pk=attachment_id).first()
    if attachment is None:
        raise ApiError(404, "no such attachment")
    if not attachment.is_stored:
        raise ApiError(404, "this attachment was too large to keep", "not_stored")
    try:
        # Streamed from the attachments storage (disk, S3, ...); the response closes it.
        stored = open_stored(attachment.path)
    except (FileNotFoundError, ValueError):
        raise ApiError(404, "the attachment's file is gone", "not_stored") from None
    response = FileResponse(
        stored,
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type,
    )
    # Opened directly, the file still runs nothing: no scripts, no plugins, its own origin.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response
