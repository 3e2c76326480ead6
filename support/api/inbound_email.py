"""POST /inbound/email: a raw RFC 5322 e-mail (Content-Type message/rfc822) into the e-mail
channel's one receive path (support/email/receive.py), the door an integration or a mail server's
pipe uses. 202 with the ids it became; the same Message-ID again: 200, the same ids, duplicate."""

from __future__ import annotations

import uuid
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS, ApiError, Error
from resolver.models import Scope
from support.email.receive import Received, receive_email
from support.models import Door, IgnoredReason
from support.vocabulary import ReceiptStatus

router = Router(tags=["e-mail"])

MEDIA_TYPE = "message/rfc822"


class EmailAccepted(Schema):
    inbound_id: uuid.UUID = Field(description="The stored e-mail (admin: Inbound e-mails).")
    conversation_id: uuid.UUID | None = Field(
        description="Null only for an e-mail whose words were erased before (ignored_reason"
        " `erased`): nothing of it is stored again."
    )
    message_id: uuid.UUID | None = Field(
        description="The customer message it became (null as conversation_id)."
    )
    draft_id: uuid.UUID | None = Field(description="Null when the e-mail is not drafted.")
    status: ReceiptStatus = Field(
        description="PENDING: being drafted. IGNORED: stored, never drafted (ignored_reason)."
    )
    ignored_reason: IgnoredReason | None = None
    duplicate: bool = Field(
        False, description="The Message-ID came in before (any door): the first delivery's ids."
    )


class Quarantined(Error):
    inbound_id: uuid.UUID


REQUEST_BODY = {
    "required": True,
    "description": "One e-mail as it was received (RFC 5322), headers and MIME parts included.",
    "content": {MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
}


def _body(request: HttpRequest) -> bytes:
    limit = settings.INBOUND_EMAIL_MAX_BYTES
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, f"the e-mail is over the {limit} byte limit")
    if not raw.strip():
        raise ApiError(400, "the request body is empty: send one RFC 5322 e-mail", "not_an_email")
    if request.content_type != MEDIA_TYPE:
        raise ApiError(
            415, f"send the e-mail as Content-Type: {MEDIA_TYPE}", "unsupported_media_type"
        )
    if not BytesHeaderParser(policy=compat32).parsebytes(raw).keys():
        raise ApiError(400, "the body has no RFC 5322 header: not an e-mail", "not_an_email")
    return raw


def _accepted(received: Received) -> dict[str, Any]:
    return {
        "inbound_id": received.inbound_id,
        "conversation_id": received.conversation_id,
        "message_id": received.message_id,
        "draft_id": received.draft_id,
        "status": received.status,
        "ignored_reason": received.ignored_reason or None,
        "duplicate": received.duplicate,
    }


@router.post(
    "/inbound/email",
    response={**ERRORS, 200: EmailAccepted, 202: EmailAccepted, 415: Error, 422: Quarantined},
    auth=scoped(Scope.INGEST),
    openapi_extra={"requestBody": REQUEST_BODY},
)
def inbound_email(request: HttpRequest) -> Status[dict[str, Any]]:
    """Stores the e-mail (its conversation by In-Reply-To/References or the subject's [#token],
    the customer message, a PENDING draft queued after commit; auto-replies, bounces, our own
    mail, lists and a flooding sender stored without a draft). An e-mail that cannot be read or
    stored is quarantined for an admin: 422, code `quarantined`."""
    received = receive_email(_body(request), door=Door.API)
    if received.status == ReceiptStatus.QUARANTINED:
        detail = (
            "the e-mail could not be stored (no sender, or unreadable); it is kept quarantined "
            "for an admin to look at and reprocess"
        )
        return Status(
            422, {"detail": detail, "code": "quarantined", "inbound_id": received.inbound_id}
        )
    return Status(200 if received.duplicate else 202, _accepted(received))
