"""GET /stats: the dashboard figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Schema
from pydantic import Field

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS
from resolver.models import Scope
from support import dashboard_figures

router = Router(tags=["stats"])


class StatsQuery(Schema):
    days: int = Field(7, ge=1, le=365, description="Window of the 'window' figures.")


class Queue(Schema):
    drafts_by_status: dict[str, int]
    oldest_pending_seconds: int | None
    conversations: dict[str, int]


class IntentCount(Schema):
    intent: str
    count: int


class ArticleCount(Schema):
    kb_id: str
    title: str | None
    count: int


class Day(Schema):
    day: date
    total: int
    suggested: int
    escalated: int


class Window(Schema):
    drafts: int
    sent: int
    rejected: int = Field(description="Drafts a person rejected.")
    closed_unanswered: int = Field(
        description="Drafts the system closed unanswered (superseded by a reprocess, conversation"
        " resolved, customer erased): not rejections, not in the approval rate."
    )
    escalated: int
    suggested: int = Field(description="Drafts the AI suggested (not escalated).")
    ai_escalated: int = Field(description="Drafts the AI escalated (with a reason).")
    escalation_reasons: dict[str, int]
    approval_rate: float | None = Field(description="sent / (sent + rejected).")
    sent_unedited_rate: float | None
    edited_rate: float | None = Field(description="Share of sent drafts the agent changed.")
    average_edit_distance: float | None = Field(description="Words changed per sent draft.")
    escalation_rate: float | None
    average_confidence: float | None
    tokens: int
    cost: float
    draft_latency_ms_p50: float | None
    draft_latency_ms_p95: float | None
    time_to_draft_ms_p50: float | None = Field(description="Message stored → draft stored.")
    time_to_draft_ms_p95: float | None
    time_to_review_seconds_p50: float | None
    time_to_send_seconds_p50: float | None
    time_to_send_seconds_p95: float | None
    top_intents: list[IntentCount]
    top_articles: list[ArticleCount] = Field(description="KB articles most cited by drafts.")
    ratings: int = Field(description="Customers' ratings of agent replies (widget).")
    csat: float | None = Field(description="Share of thumbs up among those ratings.")


class Learning(Schema):
    proposals_opened: int
    proposals_approved: int
    proposals_dismissed: int
    drafts_citing_learned: int = Field(description="Drafts citing an article learned from agents.")
    median_edit_distance: int | None = Field(description="Words changed, median of sent drafts.")


class CsatBucket(Schema):
    start: date = Field(description="First day of the day or week (weeks start on Monday).")
    ratings: int
    up: int = Field(description="Thumbs up among those ratings.")
    csat: float | None = Field(description="Share of thumbs up; null when there were no ratings.")


class CsatOverTime(Schema):
    bucket: Literal["day", "week"] = Field(description="Per day up to 7 days, else per week.")
    series: list[CsatBucket]


class AutonomyIntent(Schema):
    intent: str
    sent: int = Field(description="Replies sent from drafts of this intent.")
    auto_sent: int = Field(description="Of those, sent without a human (#29).")
    corrected: int = Field(description="Auto-sent replies an agent corrected after the fact.")
    thumbs_down: int = Field(description="Auto-sent replies a customer rated thumbs down.")
    share: float | None = Field(description="auto_sent / sent.")
    correction_rate: float | None
    thumbs_down_rate: float | None


class Autonomy(Schema):
    sent: int
    auto_sent: int
    share: float | None = Field(description="Share of sent replies sent without a human.")
    correction_rate: float | None
    thumbs_down_rate: float | None
    intents: list[AutonomyIntent] = Field(description="Intents with an auto-sent reply.")


class DeflectingArticle(Schema):
    kb_id: int | None = Field(description="None once the article was deleted.")
    title: str
    count: int


class Deflections(Schema):
    deflected: int = Field(description="Widget visitors a suggested help article answered (#31).")
    conversations: int = Field(description="Widget conversations in which the customer wrote.")
    rate: float | None = Field(description="deflected / (deflected + conversations).")
    top_articles: list[DeflectingArticle]


class StatsOut(Schema):
    generated_at: datetime
    window_days: int
    queue: Queue
    window: Window
    learning: Learning
    autonomy: Autonomy
    deflections: Deflections
    per_day: list[Day]
    csat_over_time: CsatOverTime


@router.get("/stats", response={200: StatsOut, **ERRORS}, auth=scoped(Scope.READ))
def read_stats(request: HttpRequest, query: Query[StatsQuery]) -> dict[str, Any]:
    return dashboard_figures.dashboard(timedelta(days=query.days))
