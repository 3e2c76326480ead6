"""Dashboard figures: the queue now, and how drafts fared over a recent window."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Avg, Count, Min, Q, Sum
from django.utils import timezone

from support.models import Conversation, ConversationStatus, Draft, DraftStatus

DEFAULT_WINDOW = timedelta(days=7)

PERCENTILES_SQL = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM reviewed_at - completed_at))
FROM support_draft WHERE created_at >= %s
"""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def queue(now: datetime) -> dict[str, Any]:
    counts = dict(Draft.objects.values_list("status").annotate(n=Count("id")).order_by())
    oldest = Draft.objects.filter(status=DraftStatus.PENDING).aggregate(t=Min("created_at"))["t"]
    conversations = Conversation.objects.aggregate(
        open=Count("id", filter=Q(status=ConversationStatus.OPEN)),
        escalated=Count("id", filter=Q(status=ConversationStatus.ESCALATED)),
    )
    return {
        "drafts_by_status": {status: counts.get(status, 0) for status in DraftStatus.values},
        "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else None,
        "conversations": conversations,
    }


def _latencies(since: datetime) -> dict[str, float | None]:
    with connection.cursor() as cursor:
        cursor.execute(PERCENTILES_SQL, [since])
        p50, p95, review_p50 = cursor.fetchone()
    return {
        "draft_latency_ms_p50": p50,
        "draft_latency_ms_p95": p95,
        "time_to_review_seconds_p50": review_p50,
    }


def window(since: datetime) -> dict[str, Any]:
    drafts = Draft.objects.filter(created_at__gte=since)
    agg = drafts.aggregate(
        total=Count("id"),
        sent=Count("id", filter=Q(status=DraftStatus.SENT)),
        sent_unedited=Count("id", filter=Q(status=DraftStatus.SENT, edit_distance=0)),
        rejected=Count("id", filter=Q(status=DraftStatus.REJECTED)),
        escalated=Count("id", filter=~Q(escalation_reason="") | Q(status=DraftStatus.ESCALATED)),
        confidence=Avg("confidence"),
        tokens=Sum("tokens"),
        cost=Sum("cost"),
    )
    reasons = dict(
        drafts.exclude(escalation_reason="")
        .values_list("escalation_reason")
        .annotate(n=Count("id"))
        .order_by()
    )
    reviewed = agg["sent"] + agg["rejected"]
    return {
        "drafts": agg["total"],
        "sent": agg["sent"],
        "rejected": agg["rejected"],
        "escalated": agg["escalated"],
        "escalation_reasons": reasons,
        "approval_rate": _rate(agg["sent"], reviewed),
        "sent_unedited_rate": _rate(agg["sent_unedited"], agg["sent"]),
        "escalation_rate": _rate(agg["escalated"], agg["total"]),
        "average_confidence": round(agg["confidence"], 4) if agg["confidence"] else None,
        "tokens": agg["tokens"] or 0,
        "cost": float(agg["cost"] or 0),
        **_latencies(since),
    }


def dashboard(period: timedelta = DEFAULT_WINDOW) -> dict[str, Any]:
    now = timezone.now()
    return {
        "generated_at": now,
        "window_days": period.days,
        "queue": queue(now),
        "window": window(now - period),
    }
