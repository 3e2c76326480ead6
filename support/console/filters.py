"""The queue's filters (status, intent, urgency, escalation reason, search), from a query string.

The page and the live socket read the same parameters, so a pushed row obeys the filters the
agent is looking at."""

from __future__ import annotations

from django import forms
from django.http import QueryDict

from knowledge.taxonomy import intents
from support.models import Draft, EscalationReason, Urgency
from support.models.draft import OPEN_STATUSES, DraftQuerySet

# One screen and a half of rows: enough to work through (filters and search reach the rest), and
# half the server time of 100 on every load and every push.
QUEUE_PAGE_SIZE = 50
# What a queue row shows (loading the drafts' JSON columns would double the page's time).
ROW_FIELDS = (
    "conversation_id",
    "message_id",
    "status",
    "escalation_reason",
    "intent",
    "category",
    "sentiment",
    "urgency",
    "triage_scores",  # the tone chips' probabilities and cues, on hover (console/why.py)
    "confidence",
    "created_at",
    "message__body",
    "message__verified_by",  # the row's verified / unverified chip
    "conversation__customer_ref",
    # The row's channel chip and an e-mail's subject.
    "conversation__channel",
    "conversation__subject",
)


def _choices(values: list[tuple[str, str]], everything: str) -> list[tuple[str, str]]:
    return [("", everything), *values]


class QueueFilter(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=_choices([(s.value, s.value) for s in OPEN_STATUSES], "All open"),
    )
    # The taxonomy's intents (knowledge/taxonomy.py), read when the form is made.
    intent = forms.ChoiceField(
        required=False, choices=lambda: _choices([(i, i) for i in intents()], "Any intent")
    )
    urgency = forms.ChoiceField(required=False, choices=_choices(Urgency.choices, "Any urgency"))
    reason = forms.ChoiceField(
        required=False, choices=_choices(EscalationReason.choices, "Any reason")
    )
    q = forms.CharField(required=False, max_length=200, strip=True)

    @classmethod
    def from_query(cls, query: QueryDict) -> QueueFilter:
        form = cls(query)
        form.is_valid()  # invalid fields are left out of cleaned_data, so they filter nothing
        return form

    def value(self, name: str) -> str:
        return str(self.cleaned_data.get(name) or "")

    def selected(self) -> dict[str, str]:
        """Every filter's valid value ("" when unset or invalid), for the form's fields."""
        return {name: self.value(name) for name in self.fields}

    def apply(self, drafts: DraftQuerySet) -> DraftQuerySet:
        # A status (one of the open ones, the form's choices) replaces "any open status" rather
        # than adding to it: PostgreSQL multiplies the two conditions' selectivities, expects a
        # handful of rows where there are thousands, and sorts them all instead of reading the
        # queue's index in order (seconds at a million conversations).
        if status := self.value("status"):
            drafts = drafts.filter(status=status)
        else:
            drafts = drafts.needing_human()
        for field, lookup in (
            ("intent", "intent"),
            ("urgency", "urgency"),
            ("reason", "escalation_reason"),
        ):
            if value := self.value(field):
                drafts = drafts.filter(**{lookup: value})
        if text := self.value("q"):
            drafts = drafts.matching(text)
        return drafts

    def drafts(self) -> DraftQuerySet:
        return self.apply(Draft.objects.all())

    def page(self) -> list[Draft]:
        """The first QUEUE_PAGE_SIZE drafts in queue order, with what a row shows."""
        rows = self.drafts().in_queue_order().select_related("message", "conversation")
        return list(rows.only(*ROW_FIELDS)[:QUEUE_PAGE_SIZE])
