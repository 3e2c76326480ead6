"""/console/dashboard/ and the figures behind it (also served by GET /api/v1/stats)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from support import customer_data, dashboard_figures, review
from support.autosend import auto_send_if_allowed
from support.models import (
    Channel,
    Conversation,
    CustomerRating,
    Draft,
    DraftStatus,
    Message,
    MessageRole,
)
from support.tests.autonomy_fixtures import make_auto
from support.tests.conftest import API, MakeDraft

pytestmark = pytest.mark.django_db


def _seed(make_draft: MakeDraft) -> None:
    now = timezone.now()
    cite = [{"kb_id": 7, "title": "Track your order", "snippet": "…"}]
    for n in range(3):
        make_draft(
            f"q{n}",
            status=DraftStatus.SENT,
            completed_at=now,
            reviewed_at=now + timedelta(seconds=60 * (n + 1)),
            edit_distance=[0, 0, 4][n],
            citations=cite,
        )
    make_draft("r", status=DraftStatus.REJECTED, completed_at=now, citations=[])
    make_draft(
        "e",
        status=DraftStatus.ESCALATED,
        escalation_reason="high_risk",
        intent="complaint",
        completed_at=now,
        citations=[*cite, {"kb_id": 9, "title": "Complaints", "snippet": "…"}],
    )
    make_draft("p", status=DraftStatus.PENDING, intent="", citations=[])
    # Creation times are fixed by auto_now_add; move reviewed_at relative to them.
    for draft in Draft.objects.filter(status=DraftStatus.SENT):
        delta = draft.reviewed_at - now  # type: ignore[operator]
        Draft.objects.filter(pk=draft.pk).update(reviewed_at=draft.created_at + delta)


def test_window_figures(make_draft: MakeDraft) -> None:
    _seed(make_draft)
    figures = dashboard_figures.dashboard(timedelta(days=7))
    window = figures["window"]
    assert (window["drafts"], window["sent"], window["rejected"]) == (6, 3, 1)
    assert (window["suggested"], window["escalated"]) == (4, 1)
    assert (window["approval_rate"], window["edited_rate"]) == (0.75, 0.3333)
    assert window["average_edit_distance"] == pytest.approx(1.3333, abs=1e-4)
    assert window["time_to_send_seconds_p50"] == pytest.approx(120, abs=1)
    assert window["time_to_send_seconds_p95"] == pytest.approx(174, abs=1)
    assert window["escalation_reasons"] == {"high_risk": 1}
    assert window["top_intents"] == [
        {"intent": "track_order", "count": 4},
        {"intent": "complaint", "count": 1},
    ]
    assert window["top_articles"] == [
        {"kb_id": "7", "title": "Track your order", "count": 4},
        {"kb_id": "9", "title": "Complaints", "count": 1},
    ]
    days = figures["per_day"]
    assert len(days) == 8
    assert [d["total"] for d in days] == [0] * 7 + [6]
    assert (days[-1]["suggested"], days[-1]["escalated"]) == (4, 1)


def test_drafts_per_day_are_utc_days_whatever_the_time_zone(make_draft: MakeDraft) -> None:
    """The daily rollups hold whole UTC days: keyed by the team's date, a day west of UTC showed
    as the day before (and today's bar as 0); the days listed were UTC dates all along."""
    from django.test import override_settings

    _seed(make_draft)
    today = timezone.now().astimezone(UTC).date()
    for zone in ("Pacific/Kiritimati", "America/New_York", "Pacific/Pago_Pago"):
        with override_settings(TIME_ZONE=zone):
            days = dashboard_figures.dashboard(timedelta(days=7))["per_day"]
            assert days[-1]["day"] == today
            assert [d["total"] for d in days] == [0] * 7 + [6]


def test_dashboard_page(console: Client, make_draft: MakeDraft) -> None:
    _seed(make_draft)
    page = console.get("/console/dashboard/?days=30").content.decode()
    for text in (
        'aria-current="page">30 days',
        "75%",  # approval rate
        "33%",  # edit rate
        'Approved without edit</span><span class="value">67%</span>',
        "Suggested <strong>80%</strong> · escalated <strong>20%</strong>",
        "<title>High risk: 1</title>",
        "<title>track_order: 4</title>",
        "<title>Track your order: 4</title>",
        'role="img" aria-label="Drafts per day',
    ):
        assert text in page, text
    # One day with suggested drafts in the column chart, plus the share bar.
    assert page.count('<rect class="suggested" x=') == 2
    assert console.get("/console/dashboard/?days=bogus").status_code == 200


def test_empty_dashboard(console: Client) -> None:
    page = console.get("/console/dashboard/?days=1").content.decode()
    assert page.count("Nothing in this window.") == 3
    assert "No customer ratings in this window." in page
    assert "no replies sent" in page


def test_a_human_escalation_is_not_counted_as_the_ai_s(make_draft: MakeDraft) -> None:
    completed = timezone.now()
    draft = make_draft(status=DraftStatus.ESCALATED, completed_at=completed)  # no AI reason
    Draft.objects.filter(pk=draft.pk).update(completed_at=draft.created_at + timedelta(seconds=2))
    window = dashboard_figures.dashboard(timedelta(days=1))["window"]
    assert (window["suggested"], window["ai_escalated"], window["escalated"]) == (1, 0, 1)
    assert window["time_to_draft_ms_p50"] == pytest.approx(2000, abs=1)


def _rated(score: int, at: datetime) -> None:
    """A customer's rating of a new agent reply, last changed at `at`."""
    conversation = Conversation.objects.create(channel=Channel.WIDGET)
    reply = Message.objects.create(conversation=conversation, role=MessageRole.AGENT, body="Hi")
    rating = CustomerRating.objects.create(conversation=conversation, message=reply, score=score)
    CustomerRating.objects.filter(pk=rating.pk).update(updated_at=at)  # auto_now otherwise


def _utc(day: int, hour: int = 12) -> datetime:
    return datetime(2025, 3, day, hour, tzinfo=UTC)


def test_csat_per_week_with_gaps() -> None:
    _rated(1, _utc(4))  # before the window
    _rated(1, _utc(6))  # week of Monday March 3 (the window starts on Wednesday the 5th)
    _rated(-1, _utc(9, 23))  # Sunday: still that week
    _rated(1, _utc(17, 0))  # week of March 17 (March 10: none)
    _rated(1, _utc(20))
    _rated(-1, _utc(23))
    _rated(-1, _utc(24))  # week of March 24: all down
    series = dashboard_figures.csat_series(_utc(5, 10), _utc(26), "week")
    assert [(p["start"], p["ratings"], p["up"], p["csat"]) for p in series] == [
        (date(2025, 3, 3), 2, 1, 0.5),
        (date(2025, 3, 10), 0, 0, None),  # a gap, not 0%
        (date(2025, 3, 17), 3, 2, 0.6667),
        (date(2025, 3, 24), 1, 0, 0.0),
    ]


def test_csat_per_day() -> None:
    _rated(-1, _utc(5, 9))  # before the window
    _rated(1, _utc(5, 11))
    _rated(1, _utc(7, 8))
    _rated(-1, _utc(7, 20))
    series = dashboard_figures.csat_series(_utc(5, 10), _utc(7, 21), "day")
    assert [(p["start"], p["ratings"], p["csat"]) for p in series] == [
        (date(2025, 3, 5), 1, 1.0),
        (date(2025, 3, 6), 0, None),
        (date(2025, 3, 7), 2, 0.5),
    ]


def test_csat_bucket_follows_the_window(api: Client) -> None:
    assert dashboard_figures.csat_bucket(timedelta(days=7)) == "day"
    assert dashboard_figures.csat_bucket(timedelta(days=30)) == "week"
    _rated(1, timezone.now())
    over_time = api.get(f"{API}/stats?days=30").json()["csat_over_time"]
    assert over_time["bucket"] == "week"
    assert over_time["series"][-1] == {
        "start": str(timezone.localdate() - timedelta(days=timezone.localdate().weekday())),
        "ratings": 1,
        "up": 1,
        "csat": 1.0,
    }
    assert len(api.get(f"{API}/stats?days=7").json()["csat_over_time"]["series"]) == 8


def test_dashboard_csat_chart(console: Client) -> None:
    now = timezone.now()
    _rated(1, now)
    _rated(-1, now)
    _rated(1, now - timedelta(days=14))
    response = console.get("/console/dashboard/?days=30")
    assert response.status_code == 200
    page = response.content.decode()
    monday = timezone.localdate() - timedelta(days=timezone.localdate().weekday())
    assert 'role="img" aria-labelledby="csat-chart-title" class="csat-chart"' in page
    assert f"<title>Week of {monday:%b %d}: 50% of 2 ratings</title>" in page
    gap = monday - timedelta(days=7)
    assert f"<title>Week of {gap:%b %d}: no ratings</title>" in page
    assert "<caption>CSAT per week</caption>" in page
    assert page.count('<text class="value"') == 2  # the two rated weeks: the gap has no bar
    daily = console.get("/console/dashboard/?days=7").content.decode()
    assert f"<title>{timezone.localdate():%b %d}: 50% of 2 ratings</title>" in daily


def test_replies_sent_automatically_per_intent(
    console: Client, api: Client, make_draft: MakeDraft, settings: Any
) -> None:
    """#29: the share of each intent's sent replies that went out alone, and how many of those
    an agent corrected or a customer rated 👎 (real auto-sends, a real correction)."""
    make_auto("track_order", settings)
    first, second = make_draft(confidence=0.9), make_draft(confidence=0.9)
    assert auto_send_if_allowed(first) and auto_send_if_allowed(second)
    review.correct(first.pk, Actor.agent(), "Sorry, it ships tomorrow.")
    reply = Message.objects.get(conversation_id=second.conversation_id, automated=True)
    CustomerRating.objects.create(conversation_id=second.conversation_id, message=reply, score=-1)
    make_draft(status=DraftStatus.SENT, edit_distance=0)  # sent by a human
    make_draft(status=DraftStatus.SENT, edit_distance=0, intent="get_refund")

    figures = dashboard_figures.dashboard(timedelta(days=7))["autonomy"]
    assert (figures["sent"], figures["auto_sent"], figures["share"]) == (4, 2, 0.5)
    assert (figures["correction_rate"], figures["thumbs_down_rate"]) == (0.5, 0.5)
    assert figures["intents"] == [
        {
            "intent": "track_order",
            "sent": 3,
            "auto_sent": 2,
            "corrected": 1,
            "thumbs_down": 1,
            "share": 0.6667,
            "correction_rate": 0.5,
            "thumbs_down_rate": 0.5,
        }
    ]
    assert api.get(f"{API}/stats?days=7").json()["autonomy"] == {
        **figures,
        "intents": figures["intents"],
    }
    page = console.get("/console/dashboard/").content.decode()
    assert "<strong data-autonomy-share>50%</strong> of 4 sent replies" in page

    # The customer who rated it is erased: the rating's words go, the figures stay (as the
    # ladder's evidence does; the reply's draft is its foreign key, not its emptied metadata).
    customer_data.do_erase_conversations([second.conversation_id], Actor.agent())
    again = dashboard_figures.dashboard(timedelta(days=7))["autonomy"]
    assert (again["thumbs_down_rate"], again["intents"][0]["thumbs_down"]) == (0.5, 1)
    assert (
        '<tr data-intent="track_order"><th scope="row">track_order</th><td>2 of 3</td>'
        "<td>67%</td><td>1 (50%)</td><td>1 (50%)</td></tr>"
    ) in page
