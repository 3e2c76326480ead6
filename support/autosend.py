"""Auto-send, earned per intent (#29, support/autonomy/): a SUGGESTED draft goes to the customer
without a human only when
- AUTONOMY_ENABLED is on (off by default: the ladder is computed, nothing is sent alone) and so
  is the console's kill switch (support/autonomy/switch.py);
- its intent's IntentAutonomy row is `auto` and allowed (the team's switch), and, during the
  intent's canary, the draft is one of AUTONOMY_CANARY_SHARE (evidence.canary_pick: the rest
  are reviewed and keep feeding the evidence);
- its confidence is at least the intent's calibrated threshold (the lowest confidence whose
  reviewed suggestions at or above it earn auto);
- every guard check passed; it has no action (money or not, an action waits for a human: so
  does the reply stating it); no document the customer sent disagrees with our records; the
  conversation is not escalated;
- its sender is verified, unless AUTONOMY_CUSTOMERS=anyone.
The rules themselves are support/autonomy/policy.py's (rung_sends, blockers: the replay and the
simulated team decide with the same); here they are read off the rows.

The decision and the send are one transaction holding, in this order, the draft's row lock, its
conversation's, the intent's row FOR SHARE and the console kill switch's FOR SHARE (the order
every take-back follows: draft, then intent): a demotion (the intent's row FOR UPDATE), an
escalation (an UPDATE of the conversation) or "Stop all auto-send" (the switch FOR UPDATE) waits
for a send in progress, and once it commits nothing it covers is sent alone. The send itself is
review.auto_send, the one seam, which re-checks the status and the automatic reply limit."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from support import review
from support.autonomy.policy import LadderRules, blockers, rung_sends
from support.autonomy.switch import autonomy_on
from support.documents import mismatches_in
from support.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    IntentAutonomy,
    Message,
)
from support.vocabulary import AutonomyCustomers, AutonomyMode


def _rung_allows(draft: Draft, rung: IntentAutonomy | None) -> bool:
    if rung is None:
        return False
    return rung_sends(
        LadderRules.from_settings(),
        auto=rung.mode == AutonomyMode.AUTO,
        allowed=rung.allowed,
        canary=rung.canary,
        min_confidence=rung.min_confidence,
        key=str(draft.pk),
        confidence=draft.confidence,
    )


def _draft_allows(draft: Draft, conversation: Conversation | None = None) -> bool:
    """What the draft itself must be, whatever its intent's rung: policy.blockers, the list the
    replay and the simulated team check too, on the draft's rows. `conversation`: its row,
    locked by the caller (read here if not given)."""
    if conversation is None:
        conversation = Conversation.objects.get(pk=draft.conversation_id)
    anyone = settings.AUTONOMY_CUSTOMERS == AutonomyCustomers.ANYONE
    verified = (
        anyone or Message.objects.filter(pk=draft.message_id).exclude(verified_by="").exists()
    )
    found = blockers(
        suggested=draft.status == DraftStatus.SUGGESTED,
        intent=draft.intent,
        guard=draft.guard if isinstance(draft.guard, dict) else None,
        actions=draft.actions.count(),  # an action waits for a human, money always does
        mismatches=len(mismatches_in(draft.context)),  # a document disagrees: a human looks
        escalated=conversation.status == ConversationStatus.ESCALATED,
        verified=verified,
    )
    return not found and draft.confidence is not None


def qualifies(
    draft: Draft,
    rung: IntentAutonomy | None = None,
    conversation: Conversation | None = None,
    switch_on: bool | None = None,
) -> bool:
    """Whether `draft` may go out alone; `rung`: its intent's row (None: no row, the intent is
    in review); `switch_on`: autonomy_on() as read under the caller's lock (read here if not
    given)."""
    on = autonomy_on() if switch_on is None else switch_on
    if not on or not _draft_allows(draft, conversation):
        return False
    return _rung_allows(draft, rung)


def _share_lock(intent: str) -> IntentAutonomy | None:
    """The intent's row, locked FOR SHARE (Django has no select_for_share): auto-sends of one
    intent run side by side; a demotion (FOR UPDATE) waits for them and they for it."""
    table = IntentAutonomy._meta.db_table
    rows = IntentAutonomy.objects.raw(
        f"SELECT * FROM {table} WHERE intent = %s FOR SHARE", [intent]
    )
    return next(iter(rows), None)


def auto_send_if_allowed(draft: Draft) -> bool:
    """Called after the commit that made `draft` SUGGESTED (support.agent_runs.record_outcome);
    True if it was sent (not when the automatic reply limit held it for a human)."""
    if not settings.AUTONOMY_ENABLED or not draft.intent:  # the master, before any lock
        return False
    with transaction.atomic():
        # One lock order, shared with every writer that meets this transaction: the draft
        # (approve, reject, escalate, record_outcome, resolve and erasure lock it first), its
        # conversation (an escalation UPDATEs it: it waits for this send, or this send sees it
        # escalated; FOR NO KEY UPDATE, the lock the send's own UPDATE of the conversation
        # takes, so two sends in one conversation queue rather than deadlock upgrading a shared
        # lock), the
        # intent's row FOR SHARE (a demotion takes it FOR UPDATE), the kill switch's FOR SHARE
        # (flipping it takes it FOR UPDATE): once a demotion, an escalation or "Stop all
        # auto-send" commits, nothing they cover is sent alone; a send holding the locks first
        # commits before they can.
        locked = Draft.objects.select_for_update().get(pk=draft.pk)
        conversation = (
            Conversation.objects.select_for_update(no_key=True)
            .only("id", "status")
            .get(pk=locked.conversation_id)
        )
        rung = _share_lock(locked.intent)
        if rung is None:
            return False  # no row: the intent is in review
        if not qualifies(locked, rung, conversation, switch_on=autonomy_on(lock=True)):
            return False
        return review.auto_send(locked.pk, canary=rung.canary).status == DraftStatus.SENT
