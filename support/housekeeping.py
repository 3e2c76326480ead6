"""Periodic repairs (the `housekeeping` actor, resolver.periodic): webhook deliveries whose
queue message was lost (Redis down at commit, a worker killed mid-post, a failed reschedule) are
queued again. (Idempotency records past their retention are the platform's: resolver.actors.)"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from support.announce import queue_deliveries
from support.models import DeliveryStatus, WebhookDelivery
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
    stranded = stranded_deliveries()
    queue_deliveries(stranded)
    return {"requeued_deliveries": len(stranded)}
