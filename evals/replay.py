"""Shadow replay: the customer messages whose drafts agents sent or rejected are drafted again by
the current pipeline and scored against what the agents did. Nothing is written but the EvalRun.

Verdicts: `sent_unchanged` (sent as drafted), `small_edit` (a few words changed), `large_edit`,
`rejected`. Sent drafts expect a SUGGESTED draft whose answer is scored against the text the
agent sent; rejected ones expect an escalation. The drafts are the ladder's evidence
(support/autonomy/evidence.py:reviewed_drafts): suggestions a person judged; automated sends,
drafts the system closed (superseded, resolved, erased), drafts their run escalated and drafts
that had no answer yet are not verdicts on a suggestion and are left out.

Autonomy in the shadow (#29): the same drafts, oldest review first, walk through the ladder
(support/autonomy/policy.py) with the confidence, guard, actions and documents they had: what
each intent's rung would have been over time, what it would have sent alone, and how many of
those the human in fact rejected or rewrote. A draft the ladder would have sent is not a review
(no human would have seen it); one the human rejected or rewrote counts as caught after the
fact and takes its intent back. Evidence starts with the window (`--days`)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from agents.state_builder import history_for
from evals.sets import Case, EvalSet
from support.autonomy import evidence
from support.autonomy.policy import Ladder, LadderRules, blockers
from support.documents import mismatches_in
from support.models import ConversationStatus, Draft, DraftStatus
from support.vocabulary import AutonomyCustomers, ReviewVerdict

MAX_CASES = 2000


def reviewed_drafts(days: int) -> list[Draft]:
    """The window's evidence as the live ladder counts it (evidence.reviewed_drafts), of
    conversations not anonymised (their messages, drafted again, are gone)."""
    since = timezone.now() - timedelta(days=days)
    drafts = (
        evidence.reviewed_drafts(since=since)
        .filter(conversation__anonymised_at__isnull=True)
        .select_related("message__conversation")
        .order_by("-reviewed_at")
    )
    return list(drafts[:MAX_CASES])


def replay_case(draft: Draft) -> Case:
    kind = evidence.verdict(draft)
    if kind == ReviewVerdict.REJECTED:
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


def walk_ladder(drafts: list[Draft], rules: LadderRules) -> Ladder:
    """The drafts (oldest review first) through one ladder, as they were drafted and judged."""
    counts = dict(
        Draft.objects.filter(pk__in=[d.pk for d in drafts])
        .annotate(n=Count("actions"))
        .values_list("pk", "n")
    )
    rated_down = evidence.thumbs_down(str(draft.pk) for draft in drafts)
    anyone = settings.AUTONOMY_CUSTOMERS == AutonomyCustomers.ANYONE
    ladder = Ladder(rules)
    for draft in sorted(drafts, key=lambda d: (d.reviewed_at, d.pk)):
        if not draft.intent:
            continue
        blocked = blockers(
            # A draft escalated by its run was never SUGGESTED: a human wrote or sent it, and
            # it is no evidence (as live: evidence.reviewed_drafts).
            suggested=not draft.escalation_reason,
            intent=draft.intent,
            guard=draft.guard if isinstance(draft.guard, dict) else None,
            actions=counts.get(draft.pk, 0),
            mismatches=len(mismatches_in(draft.context)),
            # As the conversation stands now: the replay has no record of when it was.
            escalated=draft.message.conversation.status == ConversationStatus.ESCALATED,
            verified=anyone or bool(draft.message.sender_verified),
        )
        ladder.step(
            draft.intent,
            str(draft.pk),
            draft.confidence,
            evidence.verdict(draft),
            blocked=blocked,
            thumbs_down=str(draft.pk) in rated_down,
            at=draft.reviewed_at.isoformat() if draft.reviewed_at else "",
        )
    return ladder


def replay_autonomy(days: int) -> dict[str, Any]:
    """The ladder's report over the window's reviewed drafts (the `autonomy` metrics)."""
    rules = LadderRules.from_settings()
    report = walk_ladder(reviewed_drafts(days), rules).report()
    return {"days": days, **report}
