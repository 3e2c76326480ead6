"""A run's proposed actions reach the store: record_outcome (support/agent_runs.py) calls
record_proposals inside its transaction, so a draft and its Action rows appear together.

The graph proposed only what check_action allowed when it looked; the check runs again here,
on the rows as they are at commit and for the customer the draft may act for (the message's
verified one, catalogue.context_for), because the graph is not the last word: a proposal the
check refuses is dropped with a log line, never stored for a human to approve by mistake, and
the answer's sentence stating it done becomes its fallback."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from support.actions.catalogue import check_action, context_for
from support.models import Action, Draft

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
    actions: list[Action] = []
    seen: set[tuple[str, str]] = set()
    for proposal in proposals[:MAX_PROPOSALS]:
        name, arguments = _shape(proposal)
        key = (name, json.dumps(arguments, sort_keys=True, default=str))
        if key in seen:
            continue
        seen.add(key)
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


def _unsay(draft: Draft, proposal: Any) -> None:
    """The answer states a proposed action as done ("I've cancelled order NW-2."); when the
    proposal is dropped here (the order shipped while the run was writing), nothing will do
    it, so the answer says its fallback instead, as it would for a rejected action
    (support/actions/text.py). Without this an approval, or auto-send, sent the false claim."""
    if not isinstance(proposal, dict):
        return
    confirmation = str(proposal.get("confirmation") or "").strip()
    if confirmation and confirmation in draft.answer:
        fallback = str(proposal.get("fallback") or "").strip()
        draft.answer = draft.answer.replace(confirmation, fallback)
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
