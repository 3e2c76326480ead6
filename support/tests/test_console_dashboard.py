"""/console/dashboard/ and the figures behind it (also served by GET /api/v1/stats)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from support import stats
from support.models import Draft, DraftStatus
from support.tests.conftest import MakeDraft

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
    figures = stats.dashboard(timedelta(days=7))
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


def test_dashboard_page(console: Client, make_draft: MakeDraft) -> None:
    _seed(make_draft)
    page = console.get("/console/dashboard/?days=30").content.decode()
    for text in (
        'aria-current="page">30 days',
        "75%",  # approval rate
        "33%",  # edit rate
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
    assert "no replies sent" in page


def test_a_human_escalation_is_not_counted_as_the_ai_s(make_draft: MakeDraft) -> None:
    completed = timezone.now()
    draft = make_draft(status=DraftStatus.ESCALATED, completed_at=completed)  # no AI reason
    Draft.objects.filter(pk=draft.pk).update(completed_at=draft.created_at + timedelta(seconds=2))
    window = stats.dashboard(timedelta(days=1))["window"]
    assert (window["suggested"], window["ai_escalated"], window["escalated"]) == (1, 0, 1)
    assert window["time_to_draft_ms_p50"] == pytest.approx(2000, abs=1)
