"""The auto-send policy: per intent, off by default (AutoSendRule, edited in admin). A SUGGESTED
draft goes to the customer without a human only when its intent's rule is on, its confidence is
above the rule's threshold, every guard check passed, no document the customer sent disagrees
with our records (support/documents/compare.py) and the conversation is not escalated."""

from __future__ import annotations

from support import review
from support.documents import mismatches_in
from support.models import AutoSendRule, Conversation, ConversationStatus, Draft, DraftStatus
from support.vocabulary import GUARD_CHECKS


def qualifies(draft: Draft) -> bool:
    if draft.status != DraftStatus.SUGGESTED or draft.confidence is None or not draft.intent:
        return False
    rule = AutoSendRule.objects.filter(intent=draft.intent, enabled=True).first()
    if rule is None or draft.confidence <= rule.min_confidence:
        return False
    guard = draft.guard if isinstance(draft.guard, dict) else {}
    if not all(guard.get(check) is True for check in GUARD_CHECKS):
        return False
    if draft.actions.exists():  # an action waits for a human's decision, money always does
        return False
    if mismatches_in(draft.context):  # a document disagrees with our records: a human looks
        return False
    escalated = ConversationStatus.ESCALATED
    return not Conversation.objects.filter(pk=draft.conversation_id, status=escalated).exists()


def auto_send_if_allowed(draft: Draft) -> bool:
    """Called after the commit that made `draft` SUGGESTED (support.agent_runs.record_outcome);
    True if it was sent (not when the automatic reply limit held it for a human).
    review.auto_send re-checks the status under a lock."""
    if not qualifies(draft):
        return False
    return review.auto_send(draft.pk).status == DraftStatus.SENT
