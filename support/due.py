"""A follow-up task's due date (support/tasks.py) as every door takes it: an ISO 8601 date or
date-time, not in the past, at most five years ahead. A module of its own so that the actions'
catalogue checks a create_follow_up's due_at by the same rule without importing the tasks'
writes (which announce to the console, which shows the catalogue)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from resolver.errors import ClientError
from support.models.action import END_OF_DAY

# A follow-up is days or weeks ahead; a due date years away is a typo in the year.
MAX_AHEAD = timedelta(days=5 * 366)


class TaskError(ClientError):
    """A task the input does not allow (422): an empty title, a due date in the past, an
    assignee who is not an agent, a conversation that does not exist."""


def _end_of_day(day: date) -> datetime:
    # A due date without a time means "by the end of that day", in the console's time zone:
    # a task due today is not overdue this morning.
    return timezone.make_aware(datetime.combine(day, END_OF_DAY))


def parse_due(value: Any) -> datetime | None:
    """A due date as given (a datetime, a date, an ISO 8601 string, or None) as an aware
    datetime; a naive one is in the configured time zone."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            # A date first: parse_datetime reads "2026-12-05" as midnight.
            parsed: datetime | date | None = parse_date(text) or parse_datetime(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise TaskError("due_at: not an ISO 8601 date or date-time")
        value = parsed
    try:
        if isinstance(value, datetime):
            aware = value if timezone.is_aware(value) else timezone.make_aware(value)
        elif isinstance(value, date):
            aware = _end_of_day(value)
        else:
            raise TaskError("due_at: not an ISO 8601 date or date-time")
        return aware.astimezone(UTC)  # raises on a date outside what UTC can name
    except OverflowError:
        raise TaskError("due_at: out of range") from None


def check_due(value: Any, now: datetime | None = None) -> datetime | None:
    """parse_due, and a new due date must not be in the past (a typo in the year, most often)."""
    due = parse_due(value)
    if due is not None:
        check_due_ahead(due, now or timezone.now())
    return due


def check_due_ahead(due: datetime, now: datetime) -> None:
    if due < now:
        raise TaskError("due_at: the due date is in the past")
    if due > now + MAX_AHEAD:
        raise TaskError("due_at: more than five years ahead")
