"""Resolver's words, each defined once: what a draft's status, escalation reason, reject category,
sentiment, urgency and guard checks may be, and what kind of message the tone model reads. The
models' columns and constraints, the API's schema, the events' JSON Schema (`manage.py
event_schema`), the graph's decisions and the console derive from these. tests/test_vocabulary.py
fails on a copy of a status, escalation reason, sentiment, urgency or message kind anywhere else;
a guard check is the `GuardCheck` Literal type, which mypy checks wherever one is written (its
words, "tone" and "policy", are also reject categories, so a text scan cannot tell them apart).

This module imports nothing of Resolver's, so the graph (agents/) can use the words without
pulling in the models, the console or the delivery code."""

from __future__ import annotations

from typing import Literal, get_args

from django.db import models


class DraftStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    SUGGESTED = "SUGGESTED", "Suggested"
    ESCALATED = "ESCALATED", "Escalated"
    SENT = "SENT", "Sent"
    REJECTED = "REJECTED", "Rejected"


class ReceiptStatus(models.TextChoices):
    """What became of an e-mail a door handed to support/email/receive.py (the `status` of
    POST /inbound/email): a message being drafted, a message stored but not drafted, or nothing
    yet (quarantined: kept for an admin to reprocess)."""

    PENDING = DraftStatus.PENDING.value, "Stored, being drafted"
    IGNORED = "IGNORED", "Stored, not drafted"
    QUARANTINED = "QUARANTINED", "Quarantined"


# What an agent run may decide about a PENDING draft.
RunStatus = Literal[DraftStatus.SUGGESTED, DraftStatus.ESCALATED]
# Statuses a human still has to act on (the console queue).
OPEN_STATUSES = (DraftStatus.PENDING, DraftStatus.SUGGESTED, DraftStatus.ESCALATED)


class EscalationReason(models.TextChoices):
    LOW_CONFIDENCE = "low_confidence", "Low confidence"
    GUARD_FAILED = "guard_failed", "Guard failed"
    REPAIR_EXHAUSTED = "repair_exhausted", "Repair exhausted"
    FORBIDDEN_ACTION = "forbidden_action", "Forbidden action"
    RETRIEVAL_WEAK = "retrieval_weak", "Retrieval weak"
    CUSTOMER_REQUESTED_HUMAN = "customer_requested_human", "Customer requested a human"
    # Dissatisfaction, anger, a threat to leave: a person answers, whatever the KB holds.
    CUSTOMER_COMPLAINT = "customer_complaint", "Customer complaint"
    HIGH_RISK = "high_risk", "High risk"
    # A follow-up on an earlier conversation's promise ("any news on my replacement?") that no
    # customer fact can confirm: a person looks, with the earlier case in view (agents/memory.py).
    UNCHECKED_PROMISE = "unchecked_promise", "Follows up a promise we cannot check"
    # The customer writes in a language no article answers in (the extractive provider quotes
    # articles, it does not translate them), though one in another language does: a person who
    # reads the language answers (#31).
    LANGUAGE_UNSUPPORTED = "language_unsupported", "No article in the customer's language"
    # The run failed on every retry (a provider down, an answer nothing could store): a person
    # answers or reprocesses; the draft no longer says "drafting…" for ever (support/agent_runs.py).
    RUN_FAILED = "run_failed", "The assistant could not draft"


class RejectCategory(models.TextChoices):
    """Why an agent rejected a draft (with the free-text reason); the learning loop reads it."""

    INCORRECT = "incorrect", "Incorrect"
    OUTDATED = "outdated", "Outdated"
    INCOMPLETE = "incomplete", "Incomplete"
    TONE = "tone", "Tone"
    POLICY = "policy", "Policy"
    OTHER = "other", "Other"


class CloseReason(models.TextChoices):
    """Why the system closed an open draft unanswered (event `draft.closed`): not a human's
    verdict on its answer, which `draft.rejected` is."""

    SUPERSEDED = "superseded", "Superseded by a reprocess"
    RESOLVED = "resolved", "The conversation was resolved"
    ERASED = "erased", "The customer's data was erased"


class Sentiment(models.TextChoices):
    POSITIVE = "POSITIVE", "Positive"
    NEUTRAL = "NEUTRAL", "Neutral"
    NEGATIVE = "NEGATIVE", "Negative"


class Urgency(models.TextChoices):
    LOW = "LOW", "Low"
    NORMAL = "NORMAL", "Normal"
    HIGH = "HIGH", "High"


class MessageKind(models.TextChoices):
    """What kind of message the tone model reads (agents/triage/tone_model.py): its labels, and
    the `kind` of a draft's triage. "complaint" names one thing, the taxonomy's intent (a
    request to file one, knowledge/taxonomy.py); a dissatisfied customer is a kind any intent
    may carry. Either makes the message a complaint a person answers (MessageSignals.complaint,
    escalated as `customer_complaint`)."""

    STORE_QUESTION = "store_question", "Store question"
    COMPANY_SPECIFIC = "company_specific", "Company-specific problem"
    DISSATISFIED = "dissatisfied", "Dissatisfied customer"
    PRAISE = "praise", "Praise"
    OTHER = "other", "No request"


# The policy guard's checks, in the order the console shows them; a draft's `guard` holds one
# boolean per check and the reasons of the ones that failed.
GuardCheck = Literal["grounded", "tone", "policy"]
GUARD_CHECKS: tuple[GuardCheck, ...] = get_args(GuardCheck)
# The one reason a run gives when it drafted nothing for the guard to check (escalated straight
# from retrieval, a template acknowledgement): its checks are False because none ran, not because
# they failed, and the console says so.
NOT_DRAFTED = "not drafted"


def empty_guard() -> dict[str, object]:
    return {**dict.fromkeys(GUARD_CHECKS, False), "reasons": []}


def not_drafted_guard() -> dict[str, object]:
    return {**empty_guard(), "reasons": [NOT_DRAFTED]}


class Verification(models.TextChoices):
    """How a customer message's sender was verified; "" = not verified (a claim anyone can make:
    a widget ref without its hash, an e-mail From no trusted server vouched for). Per message:
    only a message whose own sender is verified gets that customer's earlier conversations and
    orders in its draft (CONTRACTS.md, "Identity")."""

    NONE = "", "Unverified"
    API_KEY = "api_key", "API key (the integrator authenticated the customer)"
    WIDGET_HASH = "widget_hash", "Widget identity hash"
    EMAIL_AUTH = "email_auth", "Authentication-Results (DMARC or aligned DKIM pass)"
    ESP = "esp", "The ESP's verdict (DMARC or aligned DKIM pass)"


# What the agent found the message lacks for its intent (support asks the customer for it):
# the `missing` list of a draft's context names these.
class MissingFact(models.TextChoices):
    ORDER_NUMBER = "order_number", "order number"
    SHIPPING_ADDRESS = "shipping_address", "shipping address"
    EMAIL_ADDRESS = "email_address", "e-mail address"
    AMOUNT = "amount", "amount"


class DocumentStatus(models.TextChoices):
    """What became of an attachment the worker was to read (support/documents/)."""

    READ = "read", "Read"
    NOT_READ = "not_read", "Not read (an image: no OCR)"
    FAILED = "failed", "Could not be read"


def empty_context() -> dict[str, object]:
    """A draft's context (CONTRACTS.md, the Draft's `context`): the customer's earlier
    conversations it used, the documents read (fields found, mismatches with the records), and
    the facts the message lacks (MissingFact)."""
    return {"earlier_conversations": [], "documents": [], "missing": []}


class ActionStatus(models.TextChoices):
    """An operational move the copilot proposed on a draft (support/actions/): proposed by the
    graph, decided by a human (approved → executed | failed, or rejected). Nothing executes
    without a human's approval while autonomy is off; money never does."""

    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved (executing)"
    EXECUTED = "executed", "Executed"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected"


class ActionName(models.TextChoices):
    """The contract's six actions (CONTRACTS.md "Action names and arguments"): the catalogue's
    keys (support/actions/catalogue.py), the builtin backend's, the graph's proposals."""

    ORDER_STATUS = "order_status", "Order status"
    CANCEL_ORDER = "cancel_order", "Cancel order"
    REFUND_ORDER = "refund_order", "Refund order"
    UPDATE_SHIPPING_ADDRESS = "update_shipping_address", "Update shipping address"
    RESEND_CONFIRMATION = "resend_confirmation", "Resend confirmation"
    CREATE_FOLLOW_UP = "create_follow_up", "Create follow-up"


class ActionRisk(models.TextChoices):
    READ = "read", "Reads the store"
    WRITE = "write", "Changes an order"
    MONEY = "money", "Moves money"


class TaskStatus(models.TextChoices):
    OPEN = "open", "Open"
    DONE = "done", "Done"


class TaskCreator(models.TextChoices):
    """Who made a follow-up task: a human agent, or the copilot (a draft's create_follow_up
    action, approved by a human)."""

    AGENT = "agent", "Agent"
    AI = "ai", "AI"


class ReviewVerdict(models.TextChoices):
    """What a human did with a draft they reviewed (the evidence autonomy is earned from, and
    the verdicts of `evaluate --replay`): sent as drafted, sent after a few words changed
    (support/autonomy/evidence.py SMALL_EDIT_*), rewritten, or rejected."""

    SENT_UNCHANGED = "sent_unchanged", "Sent unchanged"
    SMALL_EDIT = "small_edit", "Sent, lightly edited"
    LARGE_EDIT = "large_edit", "Sent, rewritten"
    REJECTED = "rejected", "Rejected"


class AutonomyMode(models.TextChoices):
    """An intent's rung on the autonomy ladder (CONTRACTS.md GET /autonomy): its drafts wait for
    a human, or (earned from the team's own reviews) go out alone."""

    REVIEW = "review", "Review"
    AUTO = "auto", "Auto-send"


class DemotionReason(models.TextChoices):
    """Why an intent went back to review: a take-back signal on one of its drafts, the team's
    switch, or its evidence no longer meeting the target."""

    REJECTED = "rejected", "A reviewed draft was rejected"
    THUMBS_DOWN = "thumbs_down", "A customer rated an auto-sent reply 👎"
    CORRECTED = "corrected", "An agent corrected an auto-sent reply"
    SWITCHED_OFF = "switched_off", "Switched off by a person"
    BELOW_TARGET = "below_target", "Evidence below the target"


class AutonomyCustomers(models.TextChoices):
    """Whose messages may be answered alone (AUTONOMY_CUSTOMERS): only verified customers'
    (Message.verified_by), or also anonymous ones."""

    VERIFIED = "verified", "Verified customers only"
    ANYONE = "anyone", "Verified and anonymous customers"
