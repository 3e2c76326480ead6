"""The dashboard's figures (support/dashboard_figures.py) and the geometry of its server-rendered
SVG charts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from support import dashboard_figures
from support.models import EscalationReason

WINDOWS = (1, 7, 30, 90)
DEFAULT_DAYS = 7
CHART_WIDTH = 640
CHART_HEIGHT = 160
BAR_ROW = 22  # height of one horizontal bar row
CSAT_HEIGHT = 120  # a 100% bar
CSAT_TOP = 16  # room above a full bar for its percentage


def window_days(raw: str | None) -> int:
    try:
        days = int(raw or DEFAULT_DAYS)
    except ValueError:
        return DEFAULT_DAYS
    return days if days in WINDOWS else DEFAULT_DAYS


@dataclass(frozen=True)
class Segment:
    y: float
    height: float
    kind: str  # suggested | escalated | other (still pending or being drafted)


@dataclass(frozen=True)
class Column:
    label: str
    total: int
    x: float
    width: float
    segments: list[Segment]
    show_label: bool


def day_columns(days: list[dict[str, Any]]) -> list[Column]:
    """A stacked column per day: suggested, escalated, the rest."""
    peak = max((day["total"] for day in days), default=0) or 1
    step = CHART_WIDTH / max(len(days), 1)
    every = max(1, len(days) // 10)  # at most ~10 date labels
    columns = []
    for n, day in enumerate(days):
        other = day["total"] - day["suggested"] - day["escalated"]
        y = float(CHART_HEIGHT)
        segments = []
        for kind, value in (("suggested", day["suggested"]), ("escalated", day["escalated"])):
            height = CHART_HEIGHT * value / peak
            y -= height
            segments.append(Segment(y, height, kind))
        height = CHART_HEIGHT * max(other, 0) / peak
        segments.append(Segment(y - height, height, "other"))
        label = day["day"].strftime("%b %d")
        columns.append(
            Column(label, day["total"], n * step + 2, step - 4, segments, n % every == 0)
        )
    return columns


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    shown: str
    y: int
    width: float


def bars(items: list[tuple[str, float, str]]) -> dict[str, Any]:
    """Horizontal bars (label, value, text shown) scaled to the largest value."""
    peak = max((value for _, value, _ in items), default=0) or 1
    rows = [
        Bar(label, value, shown, n * BAR_ROW, 100 * value / peak)
        for n, (label, value, shown) in enumerate(items)
    ]
    return {"rows": rows, "height": len(rows) * BAR_ROW}


@dataclass(frozen=True)
class CsatColumn:
    label: str
    title: str
    ratings: int
    up: int
    shown: str  # the percentage, or "-" without ratings
    x: float
    width: float
    y: float
    height: float
    rated: bool  # False: a gap, not 0%
    show_label: bool


def _csat_title(label: str, point: dict[str, Any]) -> str:
    if not point["ratings"]:
        return f"{label}: no ratings"
    plural = "" if point["ratings"] == 1 else "s"
    return f"{label}: {_percent(point['csat'])} of {point['ratings']} rating{plural}"


def csat_chart(over_time: dict[str, Any]) -> dict[str, Any]:
    """A column per day or week, its height the share of thumbs up (0 to 100%)."""
    series = over_time["series"]
    step = CHART_WIDTH / max(len(series), 1)
    every = max(1, len(series) // 10)  # at most ~10 date labels
    prefix = "Week of " if over_time["bucket"] == "week" else ""
    columns = []
    for n, point in enumerate(series):
        label = point["start"].strftime("%b %d")
        height = CSAT_HEIGHT * (point["csat"] or 0)
        columns.append(
            CsatColumn(
                label=label,
                title=_csat_title(prefix + label, point),
                ratings=point["ratings"],
                up=point["up"],
                shown=_percent(point["csat"]),
                x=n * step + 2,
                width=step - 4,
                y=CSAT_TOP + CSAT_HEIGHT - height,
                height=height,
                rated=point["ratings"] > 0,
                show_label=n % every == 0,
            )
        )
    return {
        "bucket": over_time["bucket"],
        "columns": columns,
        "rated": any(column.rated for column in columns),
        "top": CSAT_TOP,
        "base": CSAT_TOP + CSAT_HEIGHT,
        "height": CSAT_TOP + CSAT_HEIGHT + 20,
    }


def _reason_label(reason: str) -> str:
    try:
        return str(EscalationReason(reason).label)
    except ValueError:
        return reason


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def share(window: dict[str, Any]) -> dict[str, Any]:
    decided = window["suggested"] + window["ai_escalated"]
    suggested = window["suggested"] / decided if decided else None
    return {
        "suggested": _percent(suggested),
        "escalated": _percent(1 - suggested if suggested is not None else None),
        "suggested_width": 100 * suggested if suggested is not None else 0,
    }


def figures(days: int) -> dict[str, Any]:
    data = dashboard_figures.dashboard(timedelta(days=days))
    window = data["window"]
    reasons = sorted(window["escalation_reasons"].items(), key=lambda kv: (-kv[1], kv[0]))
    return {
        **data,
        "days": days,
        "windows": WINDOWS,
        "columns": day_columns(data["per_day"]),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "share": share(window),
        "reasons": bars([(_reason_label(reason), n, str(n)) for reason, n in reasons]),
        "intents": bars(
            [(i["intent"], i["count"], str(i["count"])) for i in window["top_intents"]]
        ),
        "articles": bars(
            [
                (a["title"] or a["kb_id"], a["count"], str(a["count"]))
                for a in window["top_articles"]
            ]
        ),
        "csat_chart": csat_chart(data["csat_over_time"]),
        "approval": _percent(window["approval_rate"]),
        "edited": _percent(window["edited_rate"]),
        "unedited": _percent(window["sent_unedited_rate"]),
        "autonomy_rows": [
            {
                **row,
                "share_shown": _percent(row["share"]),
                "correction_shown": _percent(row["correction_rate"]),
                "thumbs_down_shown": _percent(row["thumbs_down_rate"]),
            }
            for row in data["autonomy"]["intents"]
        ],
        "autonomy_share": _percent(data["autonomy"]["share"]),
        "deflection_rate": _percent(data["deflections"]["rate"]),
        "deflecting": bars(
            [
                (a["title"] or "(deleted article)", a["count"], str(a["count"]))
                for a in data["deflections"]["top_articles"]
            ]
        ),
    }
