"""triage_example proposals: messages an agent re-labelled in the console, gathered by the intent
they were given. Approved, each becomes a TriageExample row that `train_triage` adds to its
training data when it retrains."""

from __future__ import annotations

import re

from django.db import transaction

from knowledge.models import Proposal, ProposalKind, TriageExample
from knowledge.specifics import generalise
from support.learning.sources import add_source, lock_kind
from support.models import Draft
from support.review import ReviewError

INTENT = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


def observe_relabel(draft: Draft) -> Proposal | None:
    """A draft whose intent a human corrected: one more example of that intent."""
    text = generalise(draft.message.body)[:2000]
    if not text or not draft.intent:
        return None
    source = {"conversation_id": str(draft.conversation_id), "draft_id": str(draft.pk)}
    with transaction.atomic():
        lock_kind(ProposalKind.TRIAGE_EXAMPLE)
        proposal = (
            Proposal.objects.open()
            .filter(kind=ProposalKind.TRIAGE_EXAMPLE, answer=draft.intent)
            .select_for_update()
            .first()
        )
        if proposal is None:
            return Proposal.objects.create(
                kind=ProposalKind.TRIAGE_EXAMPLE,
                title=f"Messages re-labelled as {draft.intent}",
                question=text,
                answer=draft.intent,
                intent=draft.intent,
                category=draft.category,
                sources=[source],
            )
        if add_source(proposal, source, question=text):
            proposal.save()
        return proposal


def store_examples(proposal: Proposal) -> int:
    """The proposal's messages as training rows of its intent (the answer, which the reviewer
    may have corrected); returns how many are new."""
    intent = proposal.answer.strip()
    if not INTENT.match(intent):
        raise ReviewError("the answer of a triage example is the intent: a-z, 0-9 and _")
    observed, proposal.intent = proposal.intent, intent
    created = 0
    texts = [proposal.question, *proposal.variants, *_source_texts(proposal, observed)]
    for text in dict.fromkeys(t for t in texts if t):
        _, new = TriageExample.objects.get_or_create(
            text=text,
            intent=intent,
            defaults={"category": proposal.category, "proposal": proposal},
        )
        created += new
    return created


def _source_texts(proposal: Proposal, observed: str) -> list[str]:
    """Every re-labelled message behind the proposal (its variants keep 20, for the page), read
    again from its draft: still labelled as observed (a later re-label took it elsewhere), and
    not erased since (an erased message's body is empty)."""
    ids = [s["draft_id"] for s in proposal.sources if isinstance(s, dict) and s.get("draft_id")]
    drafts = Draft.objects.filter(pk__in=ids, intent=observed).select_related("message")
    return [generalise(d.message.body)[:2000] for d in drafts]
