"""The dashboard's window figures read hourly rollups kept by triggers (support/rollups.py, #30):
on a varied history of real rows (statuses, escalation reasons, intents, days and hours, edits,
confidences, citations of learned and other articles, auto-sends corrected or rated 👎, drafts
moved in time, deleted, bulk-updated) they equal the figures computed from every row as the
dashboard did before, for a window starting on the hour or in the middle of one; the
percentiles are within a histogram bucket's width."""

from __future__ import annotations

import importlib
import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Avg, Count, Exists, OuterRef, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from knowledge.models import DocumentSource, KBDocument
from resolver.audit_actor import Actor
from support import dashboard_figures, review, rollups
from support.autonomy.evidence import NOT_A_REVIEW
from support.models import (
    AuditAction,
    AuditLog,
    CustomerRating,
    Draft,
    DraftStatus,
    Message,
    MessageRole,
)
from support.tests.conftest import MakeDraft

pytestmark = pytest.mark.django_db

INTENTS = ["track_order", "get_refund", "complaint", "cancel_order", ""]
REASONS = ["", "", "", "high_risk", "low_confidence"]
STATUSES = [
    DraftStatus.SENT,
    DraftStatus.SENT,
    DraftStatus.SENT,
    DraftStatus.REJECTED,
    DraftStatus.ESCALATED,
    DraftStatus.SUGGESTED,
    DraftStatus.PENDING,
]
# A rejection's reason: a person's (or none), or a system close (not a rejection).
REJECT_REASONS = ["", "wrong order number", *NOT_A_REVIEW]
CLOSED = Q(status=DraftStatus.REJECTED, reject_reason__in=NOT_A_REVIEW)


# --- The figures as the dashboard computed them before the rollups: from every row. ---

AI_SUGGESTED = Q(completed_at__isnull=False, escalation_reason="")
AI_ESCALATED = ~Q(escalation_reason="")
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
PERCENTILES = (
    "draft_latency_ms_p50",
    "draft_latency_ms_p95",
    "time_to_draft_ms_p50",
    "time_to_draft_ms_p95",
    "time_to_review_seconds_p50",
    "time_to_send_seconds_p50",
    "time_to_send_seconds_p95",
)
TOP_ARTICLES_SQL = """
SELECT c->>'kb_id', max(c->>'title'), count(*)
FROM support_draft, jsonb_array_elements(citations) AS c
WHERE created_at >= %s AND jsonb_typeof(citations) = 'array' AND c ? 'kb_id'
GROUP BY 1 ORDER BY 3 DESC, 1 LIMIT 8
"""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def reference_window(since: datetime) -> dict[str, Any]:
    drafts = Draft.objects.filter(created_at__gte=since)
    agg = drafts.aggregate(
        total=Count("id"),
        sent=Count("id", filter=Q(status=DraftStatus.SENT)),
        sent_unedited=Count("id", filter=Q(status=DraftStatus.SENT, edit_distance=0)),
        edit_distance=Avg("edit_distance", filter=Q(status=DraftStatus.SENT)),
        suggested=Count("id", filter=AI_SUGGESTED),
        ai_escalated=Count("id", filter=AI_ESCALATED),
        rejected=Count("id", filter=Q(status=DraftStatus.REJECTED) & ~CLOSED),
        closed=Count("id", filter=CLOSED),
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
    with connection.cursor() as cursor:
        cursor.execute(PERCENTILES_SQL, [since])
        percentiles = dict(zip(PERCENTILES, cursor.fetchone(), strict=True))
        cursor.execute(TOP_ARTICLES_SQL, [since])
        articles = [{"kb_id": k, "title": t, "count": n} for k, t, n in cursor.fetchall()]
    intents = (
        drafts.exclude(intent="")
        .values_list("intent")
        .annotate(n=Count("id"))
        .order_by("-n", "intent")[:8]
    )
    reviewed = agg["sent"] + agg["rejected"]
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
        "average_edit_distance": round(agg["edit_distance"], 4) if agg["edit_distance"] else None,
        "escalation_rate": _rate(agg["escalated"], agg["total"]),
        "average_confidence": round(agg["confidence"], 4) if agg["confidence"] else None,
        "tokens": agg["tokens"] or 0,
        "cost": float(agg["cost"] or 0),
        **percentiles,
        "top_intents": [{"intent": i, "count": n} for i, n in intents],
        "top_articles": articles,
    }


def reference_per_day(since: datetime, until: datetime) -> list[dict[str, Any]]:
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


def reference_learning(since: datetime) -> dict[str, Any]:
    learned = list(KBDocument.objects.learned().values_list("pk", flat=True))
    cites = Q()
    for kb_id in learned:
        cites |= Q(citations__contains=[{"kb_id": kb_id}])
    drafts = Draft.objects.filter(created_at__gte=since)
    sent = drafts.filter(status=DraftStatus.SENT, edit_distance__isnull=False)
    edits = sorted(e for e in sent.values_list("edit_distance", flat=True) if e is not None)
    return {
        "drafts_citing_learned": drafts.filter(cites).count() if learned else 0,
        "median_edit_distance": edits[len(edits) // 2] if edits else None,
    }


def reference_autonomy(since: datetime) -> list[Any]:
    corrected = AuditLog.objects.filter(action=AuditAction.CORRECTED, draft_id=OuterRef("pk"))
    down = CustomerRating.objects.filter(score=-1, message__draft_id=OuterRef("pk"))
    auto = Q(automated=True)
    return list(
        Draft.objects.filter(created_at__gte=since, status=DraftStatus.SENT)
        .exclude(intent="")
        .annotate(was_corrected=Exists(corrected), rated_down=Exists(down))
        .values("intent")
        .annotate(
            sent=Count("id"),
            auto_sent=Count("id", filter=auto),
            corrected=Count("id", filter=auto & Q(was_corrected=True)),
            thumbs_down=Count("id", filter=auto & Q(rated_down=True)),
        )
        .order_by("-auto_sent", "-sent", "intent")
    )


# --- A varied history of real rows. ---


def _history(make_draft: MakeDraft, rng: random.Random, now: datetime) -> list[Draft]:
    learned = KBDocument.objects.create(
        source=DocumentSource.LEARNED, external_id="l-1", title="Learned: refunds", content="x"
    )
    other = KBDocument.objects.create(
        source=DocumentSource.MANUAL, external_id="m-1", title="Shipping", content="y"
    )
    drafts = []
    for n in range(90):
        status = rng.choice(STATUSES)
        reason = rng.choice(REASONS) if status != DraftStatus.SENT else ""
        # Over ten days (some before a week's window), some in the window's first hour.
        created = now - timedelta(minutes=rng.randint(0, 10 * 24 * 60))
        if n % 9 == 0:
            created = now - timedelta(days=7, minutes=rng.randint(-50, 50))
        finished = status != DraftStatus.PENDING
        completed = created + timedelta(milliseconds=rng.randint(20, 9000)) if finished else None
        reviewed = (
            completed + timedelta(seconds=rng.uniform(5, 4000))
            if completed and status in (DraftStatus.SENT, DraftStatus.REJECTED)
            else None
        )
        kb = rng.choice([learned.pk, other.pk, 1, 2, 3])
        citations = [{"kb_id": kb, "title": f"Title {kb}", "snippet": "…"}] * rng.randint(0, 2)
        draft = make_draft(
            f"question {n}",
            status=status,
            escalation_reason=reason,
            intent=rng.choice(INTENTS),
            completed_at=completed,
            reviewed_at=reviewed,
            latency_ms=rng.randint(15, 6000) if finished else None,
            edit_distance=rng.choice([0, 0, 3, 12, 40]) if status == DraftStatus.SENT else None,
            confidence=round(rng.uniform(0.2, 0.99), 3) if finished else None,
            tokens=rng.randint(0, 900),
            cost=f"{rng.uniform(0, 0.01):.6f}",
            citations=citations,
            automated=status == DraftStatus.SENT and rng.random() < 0.4,
            reject_reason=rng.choice(REJECT_REASONS) if status == DraftStatus.REJECTED else "",
        )
        # The creation time last (auto_now_add set it): the rollups move the draft's hour.
        Draft.objects.filter(pk=draft.pk).update(created_at=created)
        draft.refresh_from_db()
        drafts.append(draft)
    return drafts


def _after_the_fact(drafts: list[Draft], rng: random.Random) -> None:
    """Corrections and 👎 of auto-sent replies; a deletion; a bulk update; a re-cite."""
    auto = [d for d in drafts if d.automated]
    for draft in auto[::3]:
        review.correct(draft.pk, Actor.agent(), "Sorry, let me correct that.")
    for draft in auto[1::3]:
        reply = Message.objects.create(
            conversation_id=draft.conversation_id,
            role=MessageRole.AGENT,
            body="Here you go.",
            automated=True,
            draft=draft,  # as support/review.py:write_to_customer stores a reply
            metadata={"draft_id": str(draft.pk)},
        )
        CustomerRating.objects.create(
            conversation_id=draft.conversation_id, message=reply, score=rng.choice([1, -1])
        )
    Draft.objects.filter(pk=drafts[5].pk).delete()
    Draft.objects.filter(status=DraftStatus.SUGGESTED, intent="complaint").update(
        status=DraftStatus.ESCALATED, escalation_reason="customer_complaint"
    )
    # Only the reason changes: a person's rejection marked closed, a close unmarked (as erasure
    # blanks a person's reason).
    rejected = Draft.objects.filter(status=DraftStatus.REJECTED)
    Draft.objects.filter(pk__in=rejected.exclude(CLOSED).values("pk")[:2]).update(
        reject_reason=NOT_A_REVIEW[2]
    )
    Draft.objects.filter(pk__in=rejected.filter(CLOSED).values("pk")[:1]).update(reject_reason="")
    first = Draft.objects.filter(status=DraftStatus.REJECTED).first()
    if first is not None:
        first.citations = [{"kb_id": 1, "title": "Renamed", "snippet": "…"}]
        first.save()


def _compare(since: datetime, now: datetime) -> None:
    window = dashboard_figures.window(since)
    expected = reference_window(since)
    for name in PERCENTILES:
        if expected[name] is None:
            assert window[name] is None, name
        else:
            assert window[name] == pytest.approx(expected[name], rel=rollups.BUCKET_ERROR), name
    exact = {k: v for k, v in expected.items() if k not in PERCENTILES and k != "ratings"}
    assert {k: window[k] for k in exact} == exact
    assert dashboard_figures.per_day(since, now) == reference_per_day(since, now)
    learning = dashboard_figures.learning(since)
    assert {k: learning[k] for k in ("drafts_citing_learned", "median_edit_distance")} == (
        reference_learning(since)
    )
    autonomy = dashboard_figures.autonomy(since)
    expected_rows = reference_autonomy(since)
    assert [
        {k: row[k] for k in ("intent", "sent", "auto_sent", "corrected", "thumbs_down")}
        for row in autonomy["intents"]
    ] == [row for row in expected_rows if row["auto_sent"]]
    assert autonomy["sent"] == sum(row["sent"] for row in expected_rows)


def test_the_rollups_give_the_figures_counted_from_every_row(make_draft: MakeDraft) -> None:
    rng = random.Random(30)
    now = timezone.now()
    drafts = _history(make_draft, rng, now)
    _after_the_fact(drafts, rng)
    assert reference_learning(now - timedelta(days=10))["drafts_citing_learned"] > 0
    assert reference_autonomy(now - timedelta(days=10))  # auto-sends to compare
    on_the_hour = (now - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    midnight = (now - timedelta(days=3)).replace(hour=0, minute=0, second=0, microsecond=0)
    windows = (now - timedelta(days=7), on_the_hour, midnight, now - timedelta(days=30), now)
    for since in windows:
        _compare(since, now)
    assert rollups.stored() == rollups.from_rows()


def test_the_triggers_keep_the_rollups_equal_to_a_recount(make_draft: MakeDraft) -> None:
    rng = random.Random(7)
    now = timezone.now()
    _after_the_fact(_history(make_draft, rng, now), rng)
    kept = rollups.stored()
    assert kept == rollups.from_rows()
    rollups.recount()
    assert rollups.stored() == kept
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(DISTINCT shard) FROM support_drafthour")
        assert cursor.fetchone()[0] == 1  # recount folds the shards into one


def test_a_draft_citing_a_learned_article_is_flagged_when_cited(make_draft: MakeDraft) -> None:
    learned = KBDocument.objects.create(
        source=DocumentSource.LEARNED, external_id="l-2", title="Learned", content="x"
    )
    draft = make_draft(citations=[{"kb_id": learned.pk, "title": "Learned", "snippet": ""}])
    assert draft.cites_learned
    draft.citations = [{"kb_id": str(learned.pk), "title": "Learned", "snippet": ""}]
    draft.save()  # a string id is not the article (as citations @> [{"kb_id": <id>}])
    draft.refresh_from_db()
    assert not draft.cites_learned
    since = timezone.now() - timedelta(days=1)
    assert dashboard_figures.learning(since)["drafts_citing_learned"] == 0


def test_percentiles_of_many_drafts_are_within_a_bucket(make_draft: MakeDraft) -> None:
    """Many drafts share each bucket: the estimate stays within its width."""
    rng = random.Random(3)
    drafts = [make_draft(f"q{n}", latency_ms=rng.randint(100, 400)) for n in range(120)]
    since = min(d.created_at for d in drafts) - timedelta(seconds=1)
    expected = reference_window(since)
    window = dashboard_figures.window(since)
    for name in ("draft_latency_ms_p50", "draft_latency_ms_p95"):
        assert window[name] == pytest.approx(expected[name], rel=rollups.BUCKET_ERROR)
    assert rollups.bucket_of(100) < rollups.bucket_of(400)


def test_a_window_s_first_partial_hour_is_counted_from_the_drafts(make_draft: MakeDraft) -> None:
    now = timezone.now()
    edge = rollups.edge_of(now - timedelta(hours=2, minutes=30))
    inside, outside = make_draft("inside"), make_draft("outside")
    Draft.objects.filter(pk=inside.pk).update(created_at=edge - timedelta(minutes=10))
    Draft.objects.filter(pk=outside.pk).update(created_at=edge - timedelta(minutes=50))
    since = edge - timedelta(minutes=30)
    assert dashboard_figures.window(since)["drafts"] == 1
    assert dashboard_figures.window(edge - timedelta(hours=1))["drafts"] == 2
    assert dashboard_figures.window(edge)["drafts"] == 0


def test_the_database_knows_the_system_s_close_markers() -> None:
    """Migration 0041 spells support/models/draft.py's markers in SQL: they must agree."""
    with connection.cursor() as cursor:
        for reason in [*NOT_A_REVIEW, "", "wrong order number", NOT_A_REVIEW[0].upper()]:
            cursor.execute(
                "SELECT support_closed_unanswered('REJECTED', %s),"
                " support_closed_unanswered('SENT', %s)",
                [reason, reason],
            )
            assert cursor.fetchone() == (reason in NOT_A_REVIEW, False), reason


def test_drafts_closed_by_resolving_are_not_rejections(make_draft: MakeDraft) -> None:
    """One reply sent and one rejected by agents, then three conversations resolved with their
    drafts still open: the approval rate stays 50 %, the closes are counted apart."""
    since = timezone.now() - timedelta(hours=1)
    sent = make_draft("where is my order?", customer_ref="a")
    review.approve(sent.pk, Actor.agent())
    rejected = make_draft("refund please", customer_ref="b")
    review.reject(rejected.pk, Actor.agent(), "wrong order number")
    for ref in ("c", "d", "e"):
        open_draft = make_draft("hello?", customer_ref=ref)
        review.resolve(open_draft.conversation_id, Actor.agent())
    window = dashboard_figures.window(since)
    assert (window["sent"], window["rejected"], window["closed_unanswered"]) == (1, 1, 3)
    assert window["approval_rate"] == 0.5
    assert rollups.stored() == rollups.from_rows()


def test_the_migration_fills_the_closes_of_drafts_already_written(make_draft: MakeDraft) -> None:
    """Migration 0041 adds the closes of a history written before it to the stored rollups."""
    fill = importlib.import_module("support.migrations.0041_drafthour_closed_unanswered").FILL_SQL
    rng = random.Random(41)
    _history(make_draft, rng, timezone.now())
    assert Draft.objects.filter(CLOSED).exists()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE support_drafthour SET closed_unanswered = 0")
        assert rollups.stored() != rollups.from_rows()
        cursor.execute(fill)
    assert rollups.stored() == rollups.from_rows()
