"""A human decides an action the copilot proposed on a draft: approve it (with corrected
arguments, if need be) or reject it. Each decision locks the action row, checks it may be made,
writes it and its audit row in one transaction, and announces the draft (the console is live).

Approval re-checks the policy with the arguments as approved against the store's facts as they
are now (the order row locked: a cancel cannot race a shipment), then executes through the
backend: `builtin` in the same transaction; `http` after commit, then retried by the
`execute_action` actor. Approving twice executes once: the second call finds the action
approved already and returns it. Money moves only on a human's approval: no automatic path
(auto-send, an agent, the system) may approve one."""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import dramatiq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from dramatiq import Message

from resolver.api.types import storable
from resolver.audit_actor import Actor, ActorType
from resolver.errors import ClientError
from support.actions.backends import BUILTIN, Outcome, backend_name, builtin, http
from support.actions.catalogue import (
    CATALOGUE,
    check_action,
    context_for,
    find_order,
    refund_amount,
)
from support.announce import announce_draft
from support.models import Action, AuditAction, AuditLog, Draft, Order
from support.models.draft import OPEN_STATUSES
from support.vocabulary import ActionName, ActionRisk, ActionStatus

logger = logging.getLogger(__name__)

# The actor that retries an http action (support/actors.py), named so that queueing imports none.
EXECUTE_ACTOR = "execute_action"
EXECUTE_QUEUE = "webhooks"
MAX_BACKOFF = timedelta(hours=1)
# Who may approve a write action: a person in the console or an integration's agent through an
# API key (scope act). Money moves only on a person's word (issue #27): a console user, signed
# in (the console, or the API with its session). An API key is an integration, not a person.
MONEY_APPROVERS = frozenset({ActorType.USER})
REASON_MAX_CHARS = 2000
NO_ANSWER = (
    "the store never answered: it may have carried this out; check the order in the store "
    "before doing it again"
)
CLOSED_IN_FLIGHT = "not sent on: its draft was closed before the store confirmed it"
ERASED_IN_FLIGHT = "not sent: the customer's data was erased before the store confirmed it"


class ActionError(ClientError):
    """A decision the action's state or the policy does not allow (422)."""


class ActionForbidden(ActionError):
    """This actor may not make this decision (403)."""

    status_code = 403
    code = "forbidden"


class ActionConflict(ActionError):
    """Someone decided it already, or its draft is closed (409)."""

    status_code = 409
    code = "conflict"


def _lock(action_id: Any, draft_id: Any = None) -> Action:
    """The action, locked after its draft; Action.DoesNotExist if there is none (on `draft_id`,
    when given). The draft row is locked first, in the order the draft's own review takes
    (support/review.py: the draft, then its undecided actions): a draft being rejected, resolved
    or superseded at the same moment is seen closed (the approval refuses, no refund runs on a
    reply that will never go out), two decisions on one draft's actions rewrite its answer one
    after the other, and the two orders cannot deadlock."""
    owner = Action.objects.filter(pk=action_id)
    if draft_id is not None:
        owner = owner.filter(draft_id=draft_id)
    found = owner.values_list("draft_id", flat=True).first()
    if found is None:
        raise Action.DoesNotExist(f"no action {action_id}")
    list(Draft.objects.select_for_update().filter(pk=found).values_list("pk"))
    # Read after the draft's lock: the joined draft row is as its last writer committed it.
    actions = Action.objects.select_for_update(of=("self",)).select_related(
        "draft__message__conversation__customer", "conversation__customer"
    )
    return actions.get(pk=action_id, draft_id=found)


def _audit(action: Action, actor: Actor, what: str, before: Any, after: Any) -> None:
    AuditLog.objects.record(
        actor,
        what,
        conversation_id=action.conversation_id,
        draft_id=action.draft_id,
        before=before,
        after=after,
        action_id=str(action.pk),
        name=action.name,
    )


def _snapshot(action: Action) -> dict[str, Any]:
    return {"status": action.status, "arguments": action.arguments}


# ---------- approve ----------


def check_approval(action: Action, actor: Actor, arguments: dict[str, Any]) -> None:
    """Raises unless `actor` may approve `action` with `arguments` now: it is still proposed,
    its draft is open, the actor is a console user where money moves, and the catalogue's check (the
    schema and the policy, on the facts as they are now) finds nothing against it."""
    if action.status != ActionStatus.PROPOSED:
        raise ActionConflict(f"the action is already {action.status}")
    if action.draft.status not in OPEN_STATUSES:
        raise ActionConflict(f"the draft is already {action.draft.status}")
    spec = CATALOGUE.get(action.name)
    if spec is None:
        raise ActionError(f"no such action: {action.name}")
    if spec.risk == ActionRisk.MONEY and actor.actor_type not in MONEY_APPROVERS:
        raise ActionForbidden(
            "a money action runs only on a signed-in console user's approval (not an API key's "
            "or an automatic one)"
        )
    # Whom the draft may act for: the message's verified customer, as when it was proposed.
    context = context_for(action.draft.message)
    if problems := check_action(action.name, arguments, context):
        raise ActionError("; ".join(problems))


def _unstorable(value: Any, where: str = "arguments") -> str:
    """Where `value` holds text PostgreSQL cannot store (a NUL, a lone surrogate), with why;
    "" when it holds none. Checked before any query sees it: a 422, never a DataError."""
    if isinstance(value, str):
        try:
            storable(value)
        except ValueError as error:
            return f"{where}: {error}"
        return ""
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return ""
    for key, item in items:
        problem = _unstorable(key, where) if isinstance(key, str) else ""
        problem = problem or _unstorable(item, f"{where}.{key}")
        if problem:
            return problem
    return ""


def _lock_order(arguments: dict[str, Any]) -> None:
    """Locks the order the action is about, so the check and the change see the same row."""
    number = arguments.get("order_number")
    if isinstance(number, str):
        orders = Order.objects.select_for_update().filter(number__iexact=number.strip())
        list(orders.values_list("pk"))


def _restate(action: Action) -> None:
    """After a correction, the action's sentences say the arguments as approved, and so does the
    draft's answer (the console shows it, the reply sends it): the old confirmation sentence is
    replaced where it still stands (an agent who rewrote it keeps their words)."""
    spec = CATALOGUE[action.name]
    number = action.arguments.get("order_number")
    currency = ""
    if isinstance(number, str):  # the check found it among the verified customer's orders
        order = find_order(number, context_for(action.draft.message).customer)
        currency = order.currency if order else ""
    old = action.confirmation.strip()
    action.confirmation = spec.confirm(action.arguments, currency)
    action.fallback = spec.fallback(action.arguments, currency)
    draft = action.draft
    if old and old in draft.answer and action.confirmation:
        draft.answer = draft.answer.replace(old, action.confirmation)
        draft.save(update_fields=["answer", "updated_at"])


def _same_value(one: Any, other: Any) -> bool:
    """Equal, or the same number written two ways: the graph stores an amount as "40.00", the
    console's form sends it back as 40.0."""
    if one == other:
        return True
    numbers = (int, float, str)
    if isinstance(one, bool) or isinstance(other, bool):
        return False
    if not (isinstance(one, numbers) and isinstance(other, numbers)):
        return False
    try:
        return Decimal(str(one)) == Decimal(str(other))
    except InvalidOperation:
        return False


def _described(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in sorted(arguments.items()))


def same_arguments(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether an approval's arguments are the proposal's, whatever the form made of them."""
    return ours.keys() == theirs.keys() and all(_same_value(ours[k], theirs[k]) for k in ours)


def do_approve(action: Action, actor: Actor, arguments: dict[str, Any]) -> None:
    before = _snapshot(action)
    if not same_arguments(arguments, action.arguments):
        action.proposed_arguments = action.arguments
        action.arguments = arguments
        _restate(action)
    action.status = ActionStatus.APPROVED
    action.decided_by = actor.user
    action.decided_at = timezone.now()
    action.save()
    _audit(action, actor, AuditAction.ACTION_APPROVED, before, _snapshot(action))


def approve(
    action_id: Any, actor: Actor, arguments: dict[str, Any] | None = None, draft_id: Any = None
) -> Action:
    """Approves and executes (builtin) or queues (http) the action; an action approved already
    is returned as it is (never executed twice) when the approval repeats its arguments, and
    refused (409) when it names others: a colleague's page approving 25 after 80 ran must not
    hear that its refund was done."""
    if arguments is not None and not isinstance(arguments, dict):
        raise ActionError("arguments must be an object")
    if problem := _unstorable(arguments):
        raise ActionError(problem)
    backend = backend_name()
    with transaction.atomic():
        action = _lock(action_id, draft_id)
        if action.status in (ActionStatus.APPROVED, ActionStatus.EXECUTED):
            if arguments is not None and not same_arguments(arguments, action.arguments):
                raise ActionConflict(
                    f"the action is already {action.status.lower()} with other arguments"
                    f" ({_described(action.arguments)}): nothing was changed"
                )
            return action
        chosen = dict(action.arguments if arguments is None else arguments)
        _lock_order(chosen)
        check_approval(action, actor, chosen)
        do_approve(action, actor, chosen)
        if backend == BUILTIN or action.name in builtin.INTERNAL:
            _settle(action, actor, builtin.run(action, actor))
        else:
            transaction.on_commit(partial(execute_now, action.pk), robust=True)
        announce_draft(action.draft, to_webhooks=False)
    action.refresh_from_db()
    return action


# ---------- reject ----------


def check_rejection(action: Action) -> None:
    if action.status != ActionStatus.PROPOSED:
        raise ActionConflict(f"the action is already {action.status}")


def do_reject(action: Action, actor: Actor, reason: str) -> None:
    before = _snapshot(action)
    action.status = ActionStatus.REJECTED
    action.error = reason
    action.decided_by = actor.user
    action.decided_at = timezone.now()
    action.save()
    after = {"status": action.status, "reason": reason}
    _audit(action, actor, AuditAction.ACTION_REJECTED, before, after)


def reject(action_id: Any, actor: Actor, reason: str = "", draft_id: Any = None) -> Action:
    """The action will not run; the draft's reply says its `fallback` instead of its
    `confirmation` when it is sent. Rejecting a rejected action again changes nothing."""
    reason = reason.strip()[:REASON_MAX_CHARS]
    if problem := _unstorable(reason, "reason"):
        raise ActionError(problem)
    with transaction.atomic():
        action = _lock(action_id, draft_id)
        if action.status == ActionStatus.REJECTED:
            return action
        check_rejection(action)
        do_reject(action, actor, reason)
        announce_draft(action.draft, to_webhooks=False)
    return action


def reject_undecided(draft_id: Any, actor: Actor, reason: str) -> int:
    """A draft closed unsent (rejected, superseded, resolved) takes its undecided actions with
    it: nobody may approve an action of a reply that will never go out, and an approved one the
    store has not confirmed is not sent on (cancel_in_flight). Inside the caller's
    transaction."""
    rejected = 0
    for action in Action.objects.select_for_update().filter(
        draft_id=draft_id, status=ActionStatus.PROPOSED
    ):
        do_reject(action, actor, reason)
        rejected += 1
    return rejected + cancel_in_flight(draft_id, actor, reason)


# ---------- execution ----------


def _settle(action: Action, actor: Actor, outcome: Outcome) -> None:
    """Writes what the backend answered; inside the caller's transaction, the action locked."""
    before = {"status": action.status}
    if outcome.executed:
        action.status = ActionStatus.EXECUTED
        action.result = outcome.result
        action.error = ""
        action.executed_at = timezone.now()
        what = AuditAction.ACTION_EXECUTED
    else:
        action.status = ActionStatus.FAILED
        action.error = outcome.error
        what = AuditAction.ACTION_FAILED
    action.save()
    after = {"status": action.status, "result": action.result, "error": action.error or None}
    _audit(action, actor, what, before, after)


def _record_refund(action: Action) -> None:
    """A refund the store confirmed counts on its order at once (the builtin backend writes it
    itself), so the next refund's check sees it before the store's PUT /orders reports it;
    that report, the store's own figure, replaces ours."""
    if action.name != ActionName.REFUND_ORDER:
        return
    amount = refund_amount(action.arguments)
    number = action.arguments.get("order_number")
    if amount is None or not isinstance(number, str):
        return
    order = Order.objects.select_for_update().filter(number__iexact=number.strip()).first()
    if order is not None:
        order.refunded = min(order.total, order.refunded + amount)
        order.save(update_fields=["refunded", "updated_at"])


def cancel_in_flight(draft_id: Any, actor: Actor, reason: str) -> int:
    """A draft closed unsent (rejected, superseded, resolved, erased) stops its approved
    actions the store has not confirmed yet (http, retrying): nothing is sent for a reply that
    will never go out. One the store was already asked about may have been carried out
    (outcome_unknown). Inside the caller's transaction; waits for an attempt in progress."""
    cancelled = 0
    for action in Action.objects.select_for_update().filter(
        draft_id=draft_id, status=ActionStatus.APPROVED
    ):
        action.outcome_unknown = action.attempts > 0
        _settle(action, actor, Outcome.failed(f"{CLOSED_IN_FLIGHT}: {reason}"[:2000]))
        cancelled += 1
    return cancelled


def backoff(attempts: int) -> timedelta:
    delay = timedelta(seconds=settings.ACTIONS_HTTP_BACKOFF_SECONDS * 2 ** (attempts - 1))
    return min(delay, MAX_BACKOFF)


def attempt(action_id: Any) -> timedelta | None:
    """One POST of an approved http action; returns the delay before the next try (None: it
    executed, failed for good, or is not ours to send). The row stays locked during the POST,
    so two workers never send it at once; one that dies mid-POST leaves it approved and the
    retry carries the same Idempotency-Key."""
    with transaction.atomic():
        action = (
            Action.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("draft", "conversation__customer")
            .filter(pk=action_id, status=ActionStatus.APPROVED)
            .first()
        )
        if action is None:
            return None
        if not action.arguments:  # erased since it was approved: nothing left to send
            _settle(action, Actor.system("actions"), Outcome.failed(ERASED_IN_FLIGHT))
            return None
        outcome = http.send(action)
        action.attempts += 1
        actor = Actor.system("actions")
        if outcome.retry and action.attempts < settings.ACTIONS_HTTP_MAX_ATTEMPTS:
            action.error = outcome.error  # the last try's, shown while it is retried
            action.save(update_fields=["attempts", "error", "updated_at"])
            delay = backoff(action.attempts)
        else:
            if outcome.retry:  # the store never answered: it may have done it
                action.outcome_unknown = True
                outcome = Outcome.failed(f"{NO_ANSWER} (last: {outcome.error})"[:2000])
            elif outcome.executed:
                _record_refund(action)
            _settle(action, actor, outcome)
            delay = None
        announce_draft(action.draft, to_webhooks=False)
    return delay


def queue_attempt(action_id: Any, delay: timedelta) -> None:
    message: Message[Any] = Message(
        queue_name=EXECUTE_QUEUE,
        actor_name=EXECUTE_ACTOR,
        args=(str(action_id),),
        kwargs={},
        options={},
    )
    milliseconds = int(delay.total_seconds() * 1000)
    # No delay: the queue itself (a delay of 0 would still wait in the delay queue).
    dramatiq.get_broker().enqueue(message, delay=milliseconds or None)


def execute_now(action_id: Any) -> None:
    """After the approval's commit: the first try at once (the agent usually sees the result in
    the answer to the approval), the retries through the actor."""
    delay = attempt(action_id)
    if delay is not None:
        queue_attempt(action_id, delay)


def stranded(older_than: timedelta = MAX_BACKOFF + timedelta(minutes=5)) -> list[Any]:
    """Approved http actions nobody touched for longer than the longest backoff: their queue
    message was lost (Redis down at commit). The outbox sweep queues them again."""
    cutoff = timezone.now() - older_than
    return list(
        Action.objects.filter(status=ActionStatus.APPROVED, updated_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )


def requeue_stranded() -> int:
    """Queues the stranded actions' next try (the outbox sweep, support/actors.py)."""
    ids = stranded()
    for action_id in ids:
        queue_attempt(action_id, timedelta(0))
    return len(ids)
