"""Dashboard figures: the queue now, and how drafts fared over a recent window."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from django.db import connection
from django.db.models import Avg, Count, DateField, Exists, Min, OuterRef, Q, Sum, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, TruncDate, TruncWeek
from django.utils import timezone

from knowledge.models import KBDocument, Proposal, ProposalStatus
from support import tallies
from support.models import (
    AuditAction,
    AuditLog,
    Channel,
    Conversation,
    ConversationStatus,
    CustomerRating,
    Deflection,
    Draft,
    DraftStatus,
)

DEFAULT_WINDOW = timedelta(days=7)
# Up to this window CSAT is shown per day; longer windows per week (a day holds few ratings).
CSAT_DAILY_UP_TO = timedelta(days=7)

Bucket = Literal["day", "week"]

TOP = 8
# What the agent graph decided: only it sets an escalation reason; a human may escalate a
# suggested draft later (status ESCALATED, no reason).
AI_SUGGESTED = Q(completed_at__isnull=False, escalation_reason="")
AI_ESCALATED = ~Q(escalation_reason="")

# Time to send: the customer's message (its draft is created with it) to the reply going out.
PERCENTILES_SQL = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms),
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM completed_at - created_at) * 1000),
       percentile_cont(0.95) WITHIN GROUP (
           ORDER BY extract(epoch FROM completed_at - created_at) * 1000),
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM reviewed_at - completed_at)),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM reviewed_at - created_at))
           FILTER (WHERE status = 'SENT'),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM reviewed_at - created_at))
           FILTER (WHERE status = 'SENT')
FROM support_draft WHERE created_at >= %s
"""

# Citations are a JSON array of {kb_id, title, snippet} per draft.
TOP_ARTICLES_SQL = """
SELECT c->>'kb_id', max(c->>'title'), count(*)
FROM support_draft, jsonb_array_elements(citations) AS c
WHERE created_at >= %s AND jsonb_typeof(citations) = 'array' AND c ? 'kb_id'
GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT %s
"""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _round(value: float | None) -> float | None:
    return round(value, 4) if value is not None else None


def queue(now: datetime) -> dict[str, Any]:
    """Over all stored drafts and conversations: from the running totals (support/tallies.py),
    not counted at each request; the oldest pending draft from draft_pending_idx."""
    figures = tallies.current()
    counts = figures.drafts_by_status()
    oldest = Draft.objects.filter(status=DraftStatus.PENDING).aggregate(t=Min("created_at"))["t"]
    return {
        "drafts_by_status": {status: counts.get(status, 0) for status in DraftStatus.values},
        "oldest_pending_seconds": int((now - oldest).total_seconds()) if oldest else None,
        "conversations": {
            "open": figures.conversations.get(ConversationStatus.OPEN, 0),
            "escalated": figures.conversations.get(ConversationStatus.ESCALATED, 0),
        },
    }


def _latencies(since: datetime) -> dict[str, float | None]:
    with connection.cursor() as cursor:
        cursor.execute(PERCENTILES_SQL, [since])
        p50, p95, draft_p50, draft_p95, review_p50, send_p50, send_p95 = cursor.fetchone()
    return {
        "draft_latency_ms_p50": p50,
        "draft_latency_ms_p95": p95,
        "time_to_draft_ms_p50": draft_p50,
        "time_to_draft_ms_p95": draft_p95,
        "time_to_review_seconds_p50": review_p50,
        "time_to_send_seconds_p50": send_p50,
        "time_to_send_seconds_p95": send_p95,
    }


def per_day(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Drafts per day (one per customer message): how many the AI suggested or escalated."""
    rows = (
        Draft.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            total=Count("id"),
            suggested=Count("id", filter=AI_SUGGESTED),
            escalated=Count("id", filter=AI_ESCALATED),
        )
        .order_by()
    )
    by_day = {row["day"]: row for row in rows}
    days = [since.date() + timedelta(days=n) for n in range((until.date() - since.date()).days + 1)]
    empty = {"total": 0, "suggested": 0, "escalated": 0}
    return [{**empty, **by_day.get(day, {}), "day": day} for day in days]


def top_intents(since: datetime) -> list[dict[str, Any]]:
    rows = (
        Draft.objects.filter(created_at__gte=since)
        .exclude(intent="")
        .values_list("intent")
        .annotate(n=Count("id"))
        .order_by("-n", "intent")[:TOP]
    )
    return [{"intent": intent, "count": n} for intent, n in rows]


def top_articles(since: datetime) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(TOP_ARTICLES_SQL, [since, TOP])
        rows = cursor.fetchall()
    return [{"kb_id": kb_id, "title": title, "count": n} for kb_id, title, n in rows]


def window(since: datetime) -> dict[str, Any]:
    drafts = Draft.objects.filter(created_at__gte=since)
    agg = drafts.aggregate(
        total=Count("id"),
        sent=Count("id", filter=Q(status=DraftStatus.SENT)),
        sent_unedited=Count("id", filter=Q(status=DraftStatus.SENT, edit_distance=0)),
        edit_distance=Avg("edit_distance", filter=Q(status=DraftStatus.SENT)),
        suggested=Count("id", filter=AI_SUGGESTED),
        ai_escalated=Count("id", filter=AI_ESCALATED),
        rejected=Count("id", filter=Q(status=DraftStatus.REJECTED)),
        escalated=Count("id", filter=AI_ESCALATED | Q(status=DraftStatus.ESCALATED)),
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
    ratings = CustomerRating.objects.filter(updated_at__gte=since).aggregate(
        n=Count("id"), up=Count("id", filter=Q(score=1))
    )
    return {
        "drafts": agg["total"],
        "sent": agg["sent"],
        "rejected": agg["rejected"],
        "escalated": agg["escalated"],
        "suggested": agg["suggested"],
        "ai_escalated": agg["ai_escalated"],
        "escalation_reasons": reasons,
        "approval_rate": _rate(agg["sent"], reviewed),
        "sent_unedited_rate": _rate(agg["sent_unedited"], agg["sent"]),
        "edited_rate": _rate(agg["sent"] - agg["sent_unedited"], agg["sent"]),
        "average_edit_distance": _round(agg["edit_distance"]),
        "escalation_rate": _rate(agg["escalated"], agg["total"]),
        "average_confidence": _round(agg["confidence"]),
        "tokens": agg["tokens"] or 0,
        "cost": float(agg["cost"] or 0),
        **_latencies(since),
        "top_intents": top_intents(since),
        "top_articles": top_articles(since),
        # Customers' thumbs on agents' replies (widget): CSAT is the share of ups.
        "ratings": ratings["n"],
        "csat": _rate(ratings["up"], ratings["n"]),
    }


def csat_bucket(period: timedelta) -> Bucket:
    return "day" if period <= CSAT_DAILY_UP_TO else "week"


def _bucket_starts(since: datetime, until: datetime, bucket: Bucket) -> list[date]:
    """Every bucket from the one holding `since` to the one holding `until` (weeks start on
    Monday, as PostgreSQL's date_trunc('week') does), in the time zone the database truncates in."""
    first, last = timezone.localdate(since), timezone.localdate(until)
    step = timedelta(days=1 if bucket == "day" else 7)
    if bucket == "week":
        first -= timedelta(days=first.weekday())
    return [first + step * n for n in range((last - first) // step + 1)]


def csat_series(since: datetime, until: datetime, bucket: Bucket) -> list[dict[str, Any]]:
    """Customers' ratings per day or week (by when they last rated, as the window's CSAT):
    how many, how many up, and CSAT; None for a bucket without ratings (a gap, not 0%)."""
    trunc = (
        TruncDate("updated_at")
        if bucket == "day"
        else TruncWeek("updated_at", output_field=DateField())
    )
    rows = (
        CustomerRating.objects.filter(updated_at__gte=since)
        .annotate(start=trunc)
        .values("start")
        .annotate(ratings=Count("id"), up=Count("id", filter=Q(score=1)))
        .order_by()
    )
    by_start = {row["start"]: row for row in rows}
    series = []
    for start in _bucket_starts(since, until, bucket):
        row = by_start.get(start, {"ratings": 0, "up": 0})
        series.append(
            {
                "start": start,
                "ratings": row["ratings"],
                "up": row["up"],
                "csat": _rate(row["up"], row["ratings"]),
            }
        )
    return series


# Learned articles whose citations are counted (the most recent): bounds the query.
LEARNED_COUNTED = 500


def learning(since: datetime) -> dict[str, Any]:
    """The learning loop in the window: proposals opened and decided, how often drafts cited an
    article learned from agents, and the median edit of sent drafts."""
    proposals = Proposal.objects.filter(created_at__gte=since)
    decided = Proposal.objects.filter(decided_at__gte=since)
    learned = list(
        KBDocument.objects.learned()
        .order_by("-created_at")
        .values_list("pk", flat=True)[:LEARNED_COUNTED]
    )
    cites = Q()
    for kb_id in learned:
        cites |= Q(citations__contains=[{"kb_id": kb_id}])
    drafts = Draft.objects.filter(created_at__gte=since)
    sent = drafts.filter(status=DraftStatus.SENT, edit_distance__isnull=False)
    edits = sorted(e for e in sent.values_list("edit_distance", flat=True) if e is not None)
    return {
        "proposals_opened": proposals.count(),
        "proposals_approved": decided.filter(status=ProposalStatus.APPROVED).count(),
        "proposals_dismissed": decided.filter(status=ProposalStatus.DISMISSED).count(),
        "drafts_citing_learned": drafts.filter(cites).count() if learned else 0,
        "median_edit_distance": edits[len(edits) // 2] if edits else None,
    }


def _sent_in(since: datetime) -> Any:
    """Drafts created in the window and sent, each marked corrected (an agent corrected the reply
    after the fact, review.correct) and thumbs_down (a customer rated its reply 👎)."""
    corrected = AuditLog.objects.filter(action=AuditAction.CORRECTED, draft_id=OuterRef("pk"))
    down = (
        CustomerRating.objects.filter(score=-1)
        .annotate(draft_ref=KeyTextTransform("draft_id", "message__metadata"))
        .filter(draft_ref=Cast(OuterRef("pk"), TextField()))
    )
    return (
        Draft.objects.filter(created_at__gte=since, status=DraftStatus.SENT)
        .exclude(intent="")
        .annotate(corrected=Exists(corrected), thumbs_down=Exists(down))
    )


def autonomy(since: datetime) -> dict[str, Any]:
    """Replies sent without a human (#29) in the window, per intent: their share of the intent's
    sent replies, and how many an agent corrected after the fact or a customer rated 👎."""
    auto = Q(automated=True)
    rows = (
        _sent_in(since)
        .values("intent")
        .annotate(
            sent=Count("id"),
            auto_sent=Count("id", filter=auto),
            corrected=Count("id", filter=auto & Q(corrected=True)),
            thumbs_down=Count("id", filter=auto & Q(thumbs_down=True)),
        )
        .order_by("-auto_sent", "-sent", "intent")
    )
    intents = [
        {
            **row,
            "share": _rate(row["auto_sent"], row["sent"]),
            "correction_rate": _rate(row["corrected"], row["auto_sent"]),
            "thumbs_down_rate": _rate(row["thumbs_down"], row["auto_sent"]),
        }
        for row in rows
    ]
    sent = sum(row["sent"] for row in intents)
    auto_sent = sum(row["auto_sent"] for row in intents)
    corrected = sum(row["corrected"] for row in intents)
    down = sum(row["thumbs_down"] for row in intents)
    return {
        "sent": sent,
        "auto_sent": auto_sent,
        "share": _rate(auto_sent, sent),
        "correction_rate": _rate(corrected, auto_sent),
        "thumbs_down_rate": _rate(down, auto_sent),
        "intents": [row for row in intents if row["auto_sent"]],
    }


def deflections(since: datetime) -> dict[str, Any]:
    """Widget visitors a suggested help article answered (#31) in the window, against the widget
    conversations in which the customer wrote: the deflection rate, and the articles that
    deflect most."""
    rows = Deflection.objects.filter(created_at__gte=since)
    deflected = rows.count()
    written = Conversation.objects.filter(
        channel=Channel.WIDGET, created_at__gte=since, last_message_at__isnull=False
    ).count()
    top = (
        rows.values("article_id", "article__title")
        .annotate(n=Count("id"))
        .order_by("-n", "article__title")[:TOP]
    )
    return {
        "deflected": deflected,
        "conversations": written,
        "rate": _rate(deflected, deflected + written),
        "top_articles": [
            {"kb_id": row["article_id"], "title": row["article__title"] or "", "count": row["n"]}
            for row in top
        ],
    }


def dashboard(period: timedelta = DEFAULT_WINDOW) -> dict[str, Any]:
    now = timezone.now()
    bucket = csat_bucket(period)
    return {
        "generated_at": now,
        "window_days": period.days,
        "queue": queue(now),
        "window": window(now - period),
        "learning": learning(now - period),
        "autonomy": autonomy(now - period),
        "deflections": deflections(now - period),
        "per_day": per_day(now - period, now),
        "csat_over_time": {"bucket": bucket, "series": csat_series(now - period, now, bucket)},
    }
