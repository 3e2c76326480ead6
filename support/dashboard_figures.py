"""Dashboard figures: the queue now, and how drafts fared over a recent window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from django.db.models import Count, DateField, Min, Q
from django.db.models.functions import TruncDate, TruncWeek
from django.utils import timezone

from knowledge.models import Proposal, ProposalStatus
from support import rollups, tallies
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


def _rolled(since: datetime, rolled: rollups.Window | None) -> rollups.Window:
    return rolled if rolled is not None else rollups.window(since)


def _latencies(since: datetime, rolled: rollups.Window | None = None) -> dict[str, float | None]:
    """Percentiles of the window's durations, from the hourly histograms: each within
    rollups.BUCKET_ERROR (4.4 %) of percentile_cont over the rows. Time to send: the customer's
    message (its draft is created with it) to the reply going out."""
    figures = _rolled(since, rolled)
    m = rollups.Measure
    return {
        "draft_latency_ms_p50": figures.percentile(m.LATENCY_MS, 0.5),
        "draft_latency_ms_p95": figures.percentile(m.LATENCY_MS, 0.95),
        "time_to_draft_ms_p50": figures.percentile(m.TIME_TO_DRAFT_MS, 0.5),
        "time_to_draft_ms_p95": figures.percentile(m.TIME_TO_DRAFT_MS, 0.95),
        "time_to_review_seconds_p50": figures.percentile(m.TIME_TO_REVIEW_S, 0.5),
        "time_to_send_seconds_p50": figures.percentile(m.TIME_TO_SEND_S, 0.5),
        "time_to_send_seconds_p95": figures.percentile(m.TIME_TO_SEND_S, 0.95),
    }


def per_day(since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Drafts per day (one per customer message): how many the AI suggested (the run finished
    without an escalation reason) or escalated (with one), from the hourly rollups."""
    by_day = rollups.drafts_per_day(since)
    # UTC days, as drafts_per_day keys them: the daily rollups hold whole UTC days.
    first, last = since.astimezone(UTC).date(), until.astimezone(UTC).date()
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    empty = {"total": 0, "suggested": 0, "escalated": 0}
    return [{**empty, **by_day.get(day, {}), "day": day} for day in days]


def top_intents(since: datetime, rolled: rollups.Window | None = None) -> list[dict[str, Any]]:
    counts = _rolled(since, rolled).by("intent", intent=bool)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]
    return [{"intent": intent, "count": n} for intent, n in top]


def top_articles(since: datetime) -> list[dict[str, Any]]:
    """The articles the window's drafts cited most (each citation counted), from the hourly
    rollups."""
    return [
        {"kb_id": kb_id, "title": title, "count": n}
        for kb_id, title, n in rollups.top_articles(since, TOP)
    ]


def window(since: datetime, rolled: rollups.Window | None = None) -> dict[str, Any]:
    """How the drafts created since `since` fared, from the hourly rollups (support/rollups.py)."""
    figures = _rolled(since, rolled)
    sent = figures.total("drafts", status=DraftStatus.SENT)
    sent_edits = figures.total("edited_n", status=DraftStatus.SENT)
    confidences = figures.total("confidence_n")
    agg = {
        "total": figures.total("drafts"),
        "sent": sent,
        "sent_unedited": figures.total("unedited", status=DraftStatus.SENT),
        "edit_distance": (
            figures.total("edit_sum", status=DraftStatus.SENT) / sent_edits if sent_edits else None
        ),
        "suggested": figures.total("drafts", completed=True, escalation_reason=""),
        "ai_escalated": figures.total("drafts", escalation_reason=bool),
        # A person's rejections: the drafts the system closed unanswered (superseded, resolved,
        # erased) judged nothing, and count apart.
        "rejected": figures.total("drafts", status=DraftStatus.REJECTED)
        - figures.total("closed_unanswered"),
        "closed": figures.total("closed_unanswered"),
        "escalated": figures.total("drafts", escalation_reason=bool)
        + figures.total("drafts", escalation_reason="", status=DraftStatus.ESCALATED),
        "confidence": (figures.total("confidence_sum") / confidences if confidences else None),
        "tokens": figures.total("tokens"),
        "cost": figures.total("cost"),
    }
    reasons = figures.by("escalation_reason", escalation_reason=bool)
    reviewed = agg["sent"] + agg["rejected"]
    ratings = CustomerRating.objects.filter(updated_at__gte=since).aggregate(
        n=Count("id"), up=Count("id", filter=Q(score=1))
    )
    return {
        "drafts": agg["total"],
        "sent": agg["sent"],
        "rejected": agg["rejected"],
        "closed_unanswered": agg["closed"],
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
        **_latencies(since, figures),
        "top_intents": top_intents(since, figures),
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


def learning(since: datetime, rolled: rollups.Window | None = None) -> dict[str, Any]:
    """The learning loop in the window: proposals opened and decided, how many drafts cited an
    article learned from agents (Draft.cites_learned: the article was a learned one when the
    draft cited it), and the median edit of sent drafts (the upper one of an even count),
    exact from the rollups' histogram of edits."""
    figures = _rolled(since, rolled)
    proposals = Proposal.objects.filter(created_at__gte=since)
    decided = Proposal.objects.filter(decided_at__gte=since)
    edits = figures.count(rollups.Measure.EDIT_DISTANCE)
    return {
        "proposals_opened": proposals.count(),
        "proposals_approved": decided.filter(status=ProposalStatus.APPROVED).count(),
        "proposals_dismissed": decided.filter(status=ProposalStatus.DISMISSED).count(),
        "drafts_citing_learned": figures.total("cites_learned"),
        "median_edit_distance": figures.nth(rollups.Measure.EDIT_DISTANCE, edits // 2),
    }


def _auto_sent_in(since: datetime) -> Any:
    """Per intent, replies the auto-send policy sent for drafts created in the window: filtered
    below to the few drafts a correction or a rating names, looked up by primary key (the ids
    are fetched first, so the window's drafts are never read to find them)."""
    return (
        Draft.objects.filter(created_at__gte=since, status=DraftStatus.SENT, automated=True)
        .exclude(intent="")
        .values_list("intent")
        .annotate(n=Count("id"))
        .order_by()
    )


def _corrected(since: datetime) -> dict[str, int]:
    """Per intent, the window's auto-sent drafts an agent corrected after the fact
    (review.correct). A correction comes after its draft was created: only the corrections
    logged in the window can name one (audit_action_idx)."""
    corrected = set(
        AuditLog.objects.filter(
            action=AuditAction.CORRECTED, created_at__gte=since, draft_id__isnull=False
        ).values_list("draft_id", flat=True)
    )
    return dict(_auto_sent_in(since).filter(pk__in=corrected)) if corrected else {}


def _thumbs_down(since: datetime) -> dict[str, int]:
    """Per intent, the window's auto-sent drafts whose reply a customer rated 👎 (a rating is
    updated after its reply was sent: only ratings updated in the window, rating_updated_idx)."""
    # The reply's draft by its foreign key, which erasure keeps (not its metadata, which
    # erasure empties): the ladder's evidence reads the same key (autonomy/evidence.py).
    ids = set(
        CustomerRating.objects.filter(
            score=-1, updated_at__gte=since, message__draft_id__isnull=False
        ).values_list("message__draft_id", flat=True)
    )
    return dict(_auto_sent_in(since).filter(pk__in=ids)) if ids else {}


def autonomy(since: datetime, rolled: rollups.Window | None = None) -> dict[str, Any]:
    """Replies sent without a human (#29) in the window, per intent: their share of the intent's
    sent replies (from the hourly rollups), and how many an agent corrected after the fact or a
    customer rated 👎."""
    figures = _rolled(since, rolled)
    sent_by = figures.by("intent", status=DraftStatus.SENT, intent=bool)
    auto_by = figures.by("intent", status=DraftStatus.SENT, intent=bool, automated=True)
    corrected_by, down_by = _corrected(since), _thumbs_down(since)
    rows = sorted(
        (
            {
                "intent": intent,
                "sent": sent,
                "auto_sent": auto_by.get(intent, 0),
                "corrected": corrected_by.get(intent, 0),
                "thumbs_down": down_by.get(intent, 0),
            }
            for intent, sent in sent_by.items()
        ),
        key=lambda row: (-row["auto_sent"], -row["sent"], row["intent"]),
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
    since = now - period
    rolled = rollups.window(since)
    return {
        "generated_at": now,
        "window_days": period.days,
        "queue": queue(now),
        "window": window(since, rolled),
        "learning": learning(since, rolled),
        "autonomy": autonomy(since, rolled),
        "deflections": deflections(now - period),
        "per_day": per_day(now - period, now),
        "csat_over_time": {"bucket": bucket, "series": csat_series(now - period, now, bucket)},
    }
