"""Periodic repairs (the `housekeeping` actor, resolver.periodic): webhook deliveries whose
queue message was lost (Redis down at commit, a worker killed mid-post, a failed reschedule) are
queued again, and idempotency records past their retention are deleted."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from support.models import DeliveryStatus, IdempotencyRecord, WebhookDelivery
from support.webhooks import CLAIM_LEASE

# A delivery this late for its attempt has lost its queue message (a healthy one is taken
# within seconds of being due).
STRANDED_AFTER = timedelta(minutes=1)


def stranded_deliveries() -> list[int]:
    now = timezone.now()
    late = now - STRANDED_AFTER
    due = Q(next_attempt_at__lte=late) | Q(next_attempt_at__isnull=True, created_at__lte=late)
    unclaimed = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_LEASE)
    stranded = WebhookDelivery.objects.filter(due, unclaimed, status=DeliveryStatus.PENDING)
    return list(stranded.values_list("pk", flat=True)[:1000])


def run() -> dict[str, int]:
    from support.announce import queue_deliveries

    stranded = stranded_deliveries()
    queue_deliveries(stranded)
    expired, _ = IdempotencyRecord.objects.expired().delete()
    return {"requeued_deliveries": len(stranded), "expired_idempotency_keys": expired}
