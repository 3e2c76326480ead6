"""A verified customer's memory: what a draft may know of the same customer's earlier
conversations, on any channel. Read by the agent's one state builder
(agents/state_builder.py:state_for_message) for a message whose own sender is verified, never
for a claim; erased and anonymised conversations never come back through it.

Memory is keyed on `Conversation.customer` (set only by a verified message: all channels a
verified person used), never on a `customer_ref` string anyone can type. It reads only what
came before the message (a replay of an old message sees the memory it had then), in four
queries whatever the customer's history. Each conversation's `summary` is written when it
resolves (`summarise_later`: the agent's actor, extractive by default, the LLM provider when
one is configured); one not summarised yet gets an extractive summary at read time."""

from __future__ import annotations

import logging
import re
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from resolver.broker import send_to_actor
from resolver.personal_data import ERASED
from resolver.redaction import find, mask_cards
from support.models import (
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    Message,
    MessageRole,
    Order,
)

logger = logging.getLogger(__name__)

# The agent's actor that writes a resolved conversation's summary (agents/actors.py registers
# it under these names; support never imports the agent).
SUMMARISE_ACTOR = "summarise_conversation"
SUMMARISE_QUEUE = "learning"

SUMMARY_CHARS = 600
REQUEST_CHARS = 220  # of the customer's request, in a summary
DONE_PER_CONVERSATION = 3
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
# What our replies committed to or did: a sentence in which we (or the order) did or will do
# something for the customer, or that gives a tracking number or a refund's amount.
_COMMITMENT = re.compile(
    r"\b(we|i)\s*('ve|'ll|'re|'m|\s+have|\s+has|\s+will|\s+are|\s+am|\s+just|\s+already)\b"
    r"[^.!?]{0,80}?\b(sent|send\w*|ship\w*|dispatch\w*|refund\w*|replac\w*|cancel\w*|"
    r"chang\w*|updat\w*|credit\w*|arrang\w*|issu\w*|process\w*|book\w*|exchang\w*|reship\w*|"
    r"follow\w* up|look\w* into|escalat\w*|pass\w* (it|this) on|correct\w*)\b|"
    r"\btracking (number|no\.?|code|id)\b|\brefund of\b|"
    r"\b(replacement|refund|parcel|package|order)\b[^.!?]{0,40}\b(is|was|has been|will be)\s+"
    r"(on its way|sent|shipped|dispatched|issued|processed|approved|cancel+ed|updated)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class EarlierConversation:
    """One earlier conversation as a draft sees it (the customer's own words and what we did:
    a source for specifics, never policy)."""

    id: uuid.UUID
    channel: str
    started_at: datetime
    last_message_at: datetime | None
    status: str
    intent: str
    outcome: str  # what became of it: sent, escalated (why), resolved, open
    summary: str  # written when it resolved (extractive, or the LLM provider's)
    done: tuple[str, ...] = ()  # what was promised or done (our replies' commitments)
    orders: tuple[str, ...] = ()  # order numbers it named
    subject: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def started_on(self) -> str:
        """ "3 December 2026": how a reply names the conversation."""
        return long_date(self.started_at.date())

    def texts(self) -> list[str]:
        """What a draft may take specifics from (order numbers, dates, what we said)."""
        return [self.summary, *self.done, " ".join(self.orders), self.started_on]

    def as_prompt(self) -> str:
        """One block of the chat provider's prompt (redacted there before it is sent)."""
        lines = [f"Conversation of {self.started_on} ({self.channel}, {self.outcome})"]
        if self.intent:
            lines.append(f"topic: {self.intent}")
        if self.orders:
            lines.append(f"orders: {', '.join(self.orders)}")
        if self.summary:
            lines.append(f"summary: {self.summary}")
        lines += [f"we said: {sentence}" for sentence in self.done]
        return "\n".join(lines)


def remembered(messages: QuerySet[Message]) -> QuerySet[Message]:
    """What memory may keep of a conversation's messages: ours, and the customer's verified
    ones. A thread is linked to its customer by their first verified message, and everything
    before it came in unverified: a forged first e-mail "from" them (our reply then reached the
    real customer, whose verified answer linked the thread) would become their first request
    in every later draft's memory and in the summary."""
    return messages.exclude(body=ERASED).exclude(role=MessageRole.CUSTOMER, verified_by="")


def long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def commitments(replies: Iterable[str], limit: int = DONE_PER_CONVERSATION) -> tuple[str, ...]:
    """The sentences of our replies that commit to or report something done, latest last."""
    found: list[str] = []
    for reply in replies:
        for sentence in _sentences(reply):
            if _COMMITMENT.search(sentence) and sentence not in found:
                found.append(sentence[:240])
    return tuple(found[-limit:])


def _clip(text: str, chars: int) -> str:
    """`text` cut to `chars`, never inside an e-mail address, a phone or card number: half a
    value is no longer recognised by the redaction an LLM's prompt goes through."""
    if len(text) <= chars:
        return text
    cut = chars - 1
    for finding in find(text[: chars + 200], names=True):
        if finding.start < cut < finding.end:
            cut = finding.start
    return text[:cut].rstrip() + "…"


def extractive_summary(
    requests: Sequence[str],
    replies: Sequence[str],
    started: date,
    resolved: date | None = None,
) -> str:
    """The customer's request in one or two sentences and what we did, with dates: the summary
    a resolved conversation keeps when no LLM writes it, and memory's for one not summarised."""
    asked = _opening(requests[0], 2) if requests else ""
    parts = [f"{long_date(started)}: the customer wrote:\n{_clip(asked, REQUEST_CHARS)}"]
    done = commitments(replies)
    if done:
        parts.append(f"We said: {_clip(' '.join(done), REQUEST_CHARS)}")
    elif replies:
        parts.append(f"We replied: {_clip(_opening(replies[-1], 1), REQUEST_CHARS)}")
    else:
        parts.append("No reply was sent.")
    if resolved is not None:
        parts.append(f"Resolved on {long_date(resolved)}.")
    # One part a line: the customer's words keep their own line breaks (a sign-off on its own
    # line is how redaction knows a name). Card numbers and IBANs masked as the LLM's summary
    # has them (Redactor.restore): the summary is a second copy, shown on the customer's
    # timeline and given to later drafts, and it needs only the last four digits.
    return mask_cards(_clip("\n".join(parts), SUMMARY_CHARS))


def _opening(text: str, count: int) -> str:
    """The first `count` sentences of `text` as written (line breaks kept)."""
    ends = [match.end() for match in _SENTENCE_END.finditer(text.strip())]
    return text.strip()[: ends[count - 1]].strip() if len(ends) >= count else text.strip()


def _outcome(status: str, drafts: list[tuple[str, str]]) -> str:
    """resolved | escalated (reason) | sent | open, from the conversation and its drafts."""
    if status == ConversationStatus.RESOLVED:
        return ConversationStatus.RESOLVED.label.lower()
    last = drafts[-1] if drafts else ("", "")
    if last[0] == DraftStatus.ESCALATED or status == ConversationStatus.ESCALATED:
        reason = next((r for s, r in reversed(drafts) if s == DraftStatus.ESCALATED and r), "")
        escalated = DraftStatus.ESCALATED.label.lower()
        return f"{escalated} ({reason})" if reason else escalated
    if any(s == DraftStatus.SENT for s, _ in drafts):
        return DraftStatus.SENT.label.lower()
    return ConversationStatus.OPEN.label.lower()


def _orders_named(
    facts: Iterable[dict[str, Any]], texts: str, known: Iterable[str]
) -> tuple[str, ...]:
    """Order numbers the drafts' facts named, and the customer's orders the texts mention."""
    found: list[str] = []
    for fact in facts:
        entities = (fact or {}).get("entities") or {}
        numbers = [*entities.get("order_numbers", [])]
        numbers += [o.get("number", "") for o in (fact or {}).get("orders", [])]
        found += [str(n).upper() for n in numbers if n]
    upper = texts.upper()
    found += [number.upper() for number in known if number.upper() in upper]
    return tuple(dict.fromkeys(found))


def earlier_conversations(message: Message) -> list[EarlierConversation]:
    """The other conversations of `message`'s customer started before it, newest first, at most
    settings.MEMORY_CONVERSATIONS; none anonymised or erased. [] for a conversation that no
    verified message linked to a customer."""

    customer_id = message.conversation.customer_id
    if customer_id is None or settings.MEMORY_CONVERSATIONS <= 0:
        return []
    rows = list(
        Conversation.objects.filter(
            customer_id=customer_id,
            anonymised_at__isnull=True,
            created_at__lt=message.created_at,
        )
        .exclude(pk=message.conversation_id)
        .order_by("-created_at")
        .values(
            "id",
            "channel",
            "created_at",
            "last_message_at",
            "status",
            "resolved_at",
            "summary",
            "subject",
        )[: settings.MEMORY_CONVERSATIONS]
    )
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    texts: dict[uuid.UUID, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    turns = (
        remembered(
            Message.objects.filter(conversation_id__in=ids, created_at__lt=message.created_at)
        )
        .order_by("created_at")
        .values_list("conversation_id", "role", "body")
    )
    for conversation_id, role, body in turns:
        texts[conversation_id][role].append(body)
    drafts: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    intents: dict[uuid.UUID, str] = {}
    facts: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    for conversation_id, status, reason, intent, draft_facts in (
        Draft.objects.filter(conversation_id__in=ids, created_at__lt=message.created_at)
        .order_by("created_at")
        .values_list("conversation_id", "status", "escalation_reason", "intent", "facts")
    ):
        drafts[conversation_id].append((status, reason))
        intents[conversation_id] = intent or intents.get(conversation_id, "")
        facts[conversation_id].append(draft_facts)
    known = list(Order.objects.filter(customer_id=customer_id).values_list("number", flat=True))
    found = []
    for row in rows:
        said = texts[row["id"]]
        requests, replies = said[MessageRole.CUSTOMER], said[MessageRole.AGENT]
        if not requests and not replies and not row["summary"]:
            continue  # nothing left to remember (erased words)
        resolved = row["resolved_at"].date() if row["resolved_at"] else None
        summary = row["summary"] or extractive_summary(
            requests, replies, row["created_at"].date(), resolved
        )
        found.append(
            EarlierConversation(
                id=row["id"],
                channel=row["channel"],
                started_at=row["created_at"],
                last_message_at=row["last_message_at"],
                status=row["status"],
                intent=intents.get(row["id"], ""),
                outcome=_outcome(row["status"], drafts[row["id"]]),
                summary=summary,
                done=commitments(replies),
                orders=_orders_named(
                    facts[row["id"]], " ".join([*requests, *replies, row["summary"]]), known
                ),
                subject=row["subject"],
            )
        )
    return found


def summary_of(conversation_id: Any) -> str:
    """The extractive summary of a conversation, from its rows (what the summarise actor writes
    when no LLM provider is configured, and its fallback when one fails); "" when there is no
    such conversation any more."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None:
        return ""
    said: dict[str, list[str]] = defaultdict(list)
    turns = remembered(conversation.messages.all()).order_by("created_at")
    for role, body in turns.values_list("role", "body"):
        said[role].append(body)
    resolved = conversation.resolved_at.date() if conversation.resolved_at else None
    return extractive_summary(
        said[MessageRole.CUSTOMER],
        said[MessageRole.AGENT],
        conversation.created_at.date(),
        resolved,
    )


def write_summary(conversation_id: Any, summary: str) -> bool:
    """Stores a resolved conversation's summary; never on one anonymised or erased meanwhile
    (the conditional UPDATE re-reads the row under its lock), nor on one reopened since."""
    return bool(
        Conversation.objects.filter(
            pk=conversation_id,
            anonymised_at__isnull=True,
            status=ConversationStatus.RESOLVED,
        ).update(summary=summary.strip()[:SUMMARY_CHARS])
    )


def _queue_summary(conversation_id: str) -> None:
    try:
        send_to_actor(SUMMARISE_ACTOR, SUMMARISE_QUEUE, conversation_id)
    except Exception:
        # Memory does not depend on it: a conversation without a summary gets one at read time.
        logger.warning("could not queue the summary of %s", conversation_id, exc_info=True)


def summarise_later(conversation_id: Any) -> None:
    """Queues the summary of a conversation being resolved, after the transaction commits."""
    transaction.on_commit(partial(_queue_summary, str(conversation_id)))
