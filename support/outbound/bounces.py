"""A bounce of one of our e-mails (the inbound side recognises the delivery report and names the
Message-ID it returns): that reply's delivery is `bounced`, shown on the message, never sent
again."""

from __future__ import annotations

from django.db import transaction

from support.email.addresses import bare_message_id
from support.models import EmailEnvelope, MessageRole, ReplyDelivery, ReplyDeliveryStatus
from support.outbound.deliveries import announce, error_text


def mark_bounced(message_id_header: str, reason: str = "") -> ReplyDelivery | None:
    """The delivery of our reply whose Message-ID (with or without angle brackets) came back,
    marked bounced with the receiving server's reason; None when the id is none of our replies.
    Whatever its status: a reply still queued (the server accepted it, we crashed before noting
    it) is not sent again either."""
    message_id = bare_message_id(message_id_header)
    with transaction.atomic():
        envelope = EmailEnvelope.objects.filter(
            message_id_header=message_id, message__role=MessageRole.AGENT
        ).first()
        if envelope is None:
            return None
        delivery = ReplyDelivery.objects.select_for_update().filter(pk=envelope.pk).first()
        if delivery is None or delivery.status == ReplyDeliveryStatus.BOUNCED:
            return delivery
        delivery.status = ReplyDeliveryStatus.BOUNCED
        delivery.last_error = error_text(Bounced(reason)) if reason else ""
        delivery.save(update_fields=["status", "last_error", "updated_at"])
        conversation_id = envelope.message.conversation_id
        announce(delivery, conversation_id)
    return delivery


class Bounced(Exception):
    """The receiving server's reason, as a delivery's last error shows it."""
