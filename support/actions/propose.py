"""A run's proposed actions reach the store: record_outcome (support/agent_runs.py) calls
record_proposals inside its transaction, so a draft and its Action rows appear together.

The graph proposed only what check_action allowed when it looked; the check runs again here,
on the rows as they are at commit and for the customer the draft may act for (the message's
verified one, catalogue.context_for), because the graph is not the last word: a proposal the
check refuses is dropped with a log line, never stored for a human to approve by mistake, and
the answer's sentence stating it done becomes its fallback. So is a move an earlier draft of the
same message already took (a reprocess): the answer then says what that one did."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q

from support.actions.catalogue import check_action, context_for
from support.models import Action, Draft
from support.vocabulary import ActionStatus

logger = logging.getLogger(__name__)

# More than this on one draft is a run gone wrong, not a customer's request.
MAX_PROPOSALS = 10


def record_proposals(draft: Draft, proposals: list[dict[str, Any]]) -> list[Action]:
    """Action rows (status proposed) for the `proposals` of `draft`'s run that the catalogue
    allows now; duplicates and refused ones are dropped (logged). Call inside the transaction
    that writes the draft."""
    if not proposals:
        return []
    context = context_for(draft.message)
    taken = _taken(draft)
    actions: list[Action] = []
    seen: set[tuple[str, str]] = set()
    for proposal in proposals[:MAX_PROPOSALS]:
        name, arguments = _shape(proposal)
        key = (name, json.dumps(arguments, sort_keys=True, default=str))
        if key in seen:
            continue
        seen.add(key)
        if (earlier := taken.get(_move(name, arguments))) is not None:
            logger.info(
                "draft %s: proposed action %s dropped: action %s (%s) already took it for this"
                " message",
                draft.pk,
                name,
                earlier.pk,
                earlier.status,
            )
            done = earlier.status == ActionStatus.EXECUTED and not earlier.outcome_unknown
            _unsay(draft, proposal, earlier.confirmation if done else None)
            continue
        problems = check_action(name, arguments, context)
        if problems:
            logger.info(
                "draft %s: proposed action %s dropped: %s", draft.pk, name, "; ".join(problems)
            )
            _unsay(draft, proposal)
            continue
        actions.append(
            Action(
                draft=draft,
                conversation_id=draft.conversation_id,
                name=name,
                arguments=arguments,
                confirmation=str(proposal.get("confirmation") or ""),
                fallback=str(proposal.get("fallback") or ""),
            )
        )
    if len(proposals) > MAX_PROPOSALS:
        logger.warning(
            "draft %s: %d proposals, kept the first %d", draft.pk, len(proposals), MAX_PROPOSALS
        )
    return Action.objects.bulk_create(actions)


def _move(name: str, arguments: dict[str, Any]) -> tuple[str, str]:
    """What makes two proposals the same move whatever their other arguments: the action and
    the order it is about (a refund of 10 and one of 25 on NW-1 are the same request)."""
    number = arguments.get("order_number")
    return name, number.strip().upper() if isinstance(number, str) else ""


def _taken(draft: Draft) -> dict[tuple[str, str], Action]:
    """The moves an earlier run's draft of the same customer message already took: approved,
    executed, or failed without knowing whether the store did it. A reprocess runs the graph on
    the message again, and it proposes the refund the agent approved an hour ago: approved
    again, the customer is paid twice (with the http backend under a new idempotency key)."""
    rows = (
        Action.objects.filter(draft__message_id=draft.message_id)
        .exclude(draft_id=draft.pk)
        .filter(
            Q(status__in=(ActionStatus.APPROVED, ActionStatus.EXECUTED)) | Q(outcome_unknown=True)
        )
        .order_by("created_at")
    )
    return {_move(action.name, action.arguments): action for action in rows}


def _unsay(draft: Draft, proposal: Any, instead: str | None = None) -> None:
    """The answer states a proposed action as done ("I've cancelled order NW-2."); when the
    proposal is dropped here (the order shipped while the run was writing), nothing will do
    it, so the answer says its fallback instead, as it would for a rejected action
    (support/actions/text.py). Without this an approval, or auto-send, sent the false claim.
    `instead`: what to say in its place (an earlier run's move that was done: its own
    confirmation, the amount it really moved)."""
    if not isinstance(proposal, dict):
        return
    confirmation = str(proposal.get("confirmation") or "").strip()
    if confirmation and confirmation in draft.answer:
        said = instead if instead is not None else str(proposal.get("fallback") or "")
        draft.answer = draft.answer.replace(confirmation, said.strip())
        draft.save(update_fields=["answer", "updated_at"])


def _shape(proposal: Any) -> tuple[str, dict[str, Any]]:
    """(name, arguments) of a proposal as the outcome carries it, the arguments as JSON will
    store them (a Decimal amount becomes its string, which the schema takes), so the check sees
    what an approval will read; a malformed one gets a shape check_action refuses."""
    if not isinstance(proposal, dict):
        return "", {}
    arguments = proposal.get("arguments")
    try:
        stored = json.loads(json.dumps(arguments, cls=DjangoJSONEncoder))
    except (TypeError, ValueError):  # not JSON at all: refused as "not an object"
        stored = None
    return str(proposal.get("name") or ""), stored if isinstance(stored, dict) else {}
