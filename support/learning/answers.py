"""Answer proposals: a human's answer to a question the KB did not cover, without personal data,
gathered with the observations asking the same thing with the same answer into one proposal whose
source count grows; a question the KB already answers is not proposed again."""

from __future__ import annotations

from dataclasses import replace

from django.db import transaction

from knowledge.models import KBDocument, Proposal, ProposalKind
from knowledge.overlap import token_f1
from knowledge.specifics import generalise
from support.learning.observations import Observation, cosine
from support.learning.sources import add_source, lock_kind

# What counts as the same question (MiniLM cosine of the questions) and the same answer (token
# overlap of the answers) when observations are gathered into one proposal.
SAME_QUESTION = 0.65
SAME_ANSWER = 0.5
# The same answer word for word: the agent treats the questions as one, so a looser likeness of
# the questions is enough.
IDENTICAL_ANSWER = 0.9
SAME_TOPIC = 0.4
# A question the KB already answers this closely is not proposed again.
ALREADY_ANSWERED = 0.8


def _already_answered(observation: Observation) -> bool:
    hits = KBDocument.objects.hybrid_search(observation.question, 3)
    return any(
        (hit.similarity or 0.0) >= ALREADY_ANSWERED
        and token_f1(hit.content, observation.answer) >= SAME_ANSWER
        for hit in hits
    )


def _matching(observation: Observation) -> Proposal | None:
    """The open answer proposal asking the same thing with the same answer, if any."""
    candidates = Proposal.objects.open().filter(kind=ProposalKind.ANSWER).select_for_update()
    for proposal in candidates:
        questions = [proposal.question, *proposal.variants]
        likeness = max(cosine(observation.question, q) for q in questions)
        answers = token_f1(proposal.answer, observation.answer)
        if (likeness >= SAME_QUESTION and answers >= SAME_ANSWER) or (
            likeness >= SAME_TOPIC and answers >= IDENTICAL_ANSWER
        ):
            return proposal
    return None


def _generalised(text: str, keep: int) -> str:
    """generalise(text)[:keep], without generalising what cannot be kept: text beyond twice
    `keep` is cut first, at a space (never inside an e-mail address, which cut would no longer
    read as one), so a message of tens of kilobytes costs what a short one does. The result
    differs from generalising it all only when more than half of that much text is runs of
    spaces or @handles."""
    if len(text) > 2 * keep:
        head, rest = text[: 2 * keep], text[2 * keep :]
        last = head.split()[-1:]
        if last and head.endswith(last[0]) and len(last[0]) < len(head) and not rest[0].isspace():
            head = head[: -len(last[0])]  # the word the cut went through
        text = head
    return generalise(text)[:keep]


def _has_words(text: str) -> bool:
    """Some letter or digit: a reply of zero-width spaces or of emoji ("👍🙂📦") teaches no
    answer, and became a proposal for a person to dismiss."""
    return any(char.isalnum() for char in text)


def observe(observation: Observation) -> Proposal | None:
    """Gathers a human answer into an answer proposal (a new one, or one more source of the
    proposal asking the same), without the customer's personal data."""
    clean = replace(
        observation,
        question=_generalised(observation.question, 2000),
        answer=_generalised(observation.answer, 8000),
    )
    if not _has_words(clean.question) or not _has_words(clean.answer) or _already_answered(clean):
        return None
    with transaction.atomic():
        lock_kind(ProposalKind.ANSWER)
        proposal = _matching(clean)
        if proposal is None:
            return Proposal.objects.create(
                kind=ProposalKind.ANSWER,
                title=clean.question[:120],
                question=clean.question,
                answer=clean.answer,
                intent=clean.intent,
                category=clean.category,
                sources=[clean.source],
            )
        if add_source(proposal, clean.source, question=clean.question):
            proposal.save()
        return proposal
