"""Shadow replay: the customer messages whose drafts agents sent or rejected are drafted again by
the current pipeline and scored against what the agents did. Nothing is written but the EvalRun.

Verdicts: `sent_unchanged` (sent as drafted), `small_edit` (a few words changed), `large_edit`,
`rejected`. Sent drafts expect a SUGGESTED draft whose answer is scored against the text the
agent sent; rejected ones expect an escalation. Automated sends, drafts superseded by a reprocess
and drafts closed by resolving the conversation are not verdicts and are left out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from agents.state_builder import history_for
from evals.sets import Case, EvalSet
from support.autonomy.evidence import NOT_A_REVIEW, verdict
from support.models import Draft, DraftStatus

MAX_CASES = 2000


def reviewed_drafts(days: int) -> list[Draft]:
    since = timezone.now() - timedelta(days=days)
    drafts = (
        Draft.objects.filter(reviewed_at__gte=since, automated=False)
        .filter(status__in=(DraftStatus.SENT, DraftStatus.REJECTED))
        .exclude(reject_reason__in=NOT_A_REVIEW)
        .filter(conversation__anonymised_at__isnull=True)
        .select_related("message__conversation")
        .order_by("-reviewed_at")
    )
    return list(drafts[:MAX_CASES])


def replay_case(draft: Draft) -> Case:
    kind = verdict(draft)
    if kind == "rejected":
        expect = {"status": DraftStatus.ESCALATED.value}
    else:
        expect = {"status": DraftStatus.SUGGESTED.value, "reference": draft.sent_text}
    message = draft.message
    return Case(
        id=str(draft.pk),
        text=message.body,
        history=[{"role": turn["role"], "body": turn["body"]} for turn in history_for(message)],
        customer_ref=message.conversation.customer_ref or None,
        expect=expect,
        tags=[kind],
        # Drafted from its rows by the one builder: its memory as it was then.
        message_id=str(message.pk),
    )


def replay_set(days: int) -> EvalSet:
    cases = [replay_case(draft) for draft in reviewed_drafts(days)]
    header = {
        "description": f"drafts agents sent or rejected in the last {days} days, drafted again",
        "days": days,
    }
    return EvalSet(name="replay", path=Path(f"replay-last-{days}-days"), header=header, cases=cases)
