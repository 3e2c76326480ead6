"""Where knowledge keeps a customer's words (resolver/personal_data.py explains the lists): the
learning loop's copies of them, in proposals and the triage examples approvals leave, and the
questions of an approved answer's article. The subject, which support builds (only it knows what
a customer is), carries what is needed to find them: the conversations proposals name as sources
and the texts (message bodies, replies, reasons, comments) the loop copied, generalised and cut.

The knowledge base itself holds the company's text, not customers': an approved answer or
revision becomes an article whose text a person reviewed, and which the loop had generalised (no
e-mail addresses, numbers or names), so it is the company's from then on. A learned article's
retrieval keys (its question chunks, knowledge/matching.py) are the generalised questions: an
erasure removes theirs with the questions."""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet

from knowledge.actors import enqueue_reindex
from knowledge.matching import calibrate
from knowledge.models import (
    ChunkKind,
    KBChunk,
    Proposal,
    ProposalKind,
    ProposalStatus,
    TriageExample,
)
from knowledge.specifics import generalise
from resolver.personal_data import (
    ERASED,
    Holder,
    Subject,
    chunks,
    delete_rows,
    mentioning,
    with_text,
)


def _proposals(subject: Subject) -> QuerySet[Proposal]:
    pks: list[int] = []
    for ids in chunks(subject.conversation_ids):
        proposals = with_text(Proposal.objects.all(), "sources")
        pks += proposals.filter(mentioning("sources", ids)).values_list("pk", flat=True)
    return Proposal.objects.filter(pk__in=pks)


def _words(text: str) -> str:
    return " ".join(generalise(text).split()).lower()


# A note is "<reject category>: <generalised reason>" (support/learning/revisions.py) or the
# reason alone.
_NOTE_PREFIX = re.compile(r"^[A-Z][a-z]+: ")
# Stored texts are cut (questions at 2,000 characters, notes at 500): a cut copy is matched by
# its words from the start, if long enough to be nobody else's.
_MIN_CUT_MATCH = 40


class _Theirs:
    """Tells whether a proposal's question, variant or note, or a triage example, is a copy of
    the subject's words: the learning loop stores them generalised and cut
    (support/learning/: answers.py, relabels.py, revisions.py, guard_rules.py)."""

    def __init__(self, subject: Subject) -> None:
        self.whole = {_words(text) for text in subject.texts} | {
            " ".join(text.split()).lower() for text in subject.texts
        }

    def __call__(self, value: str) -> bool:
        return any(self._matches(_words(v)) for v in {value, _NOTE_PREFIX.sub("", value)})

    def _matches(self, words: str) -> bool:
        if not words:
            return False
        if words in self.whole:
            return True
        return len(words) >= _MIN_CUT_MATCH and any(
            text.startswith(words) and text[len(words) : len(words) + 1] in ("", " ")
            for text in self.whole
        )


def _is_theirs(source: dict[str, Any], subject: Subject) -> bool:
    return source.get("conversation_id") in subject.conversation_ids


def _export_proposal(proposal: Proposal, subject: Subject, theirs: _Theirs) -> dict[str, Any]:
    """Only what is theirs: a proposal other customers also back holds their words too."""
    return {
        "model": "knowledge.proposal",
        "pk": proposal.pk,
        "fields": {
            "kind": proposal.kind,
            "status": proposal.status,
            "questions": [q for q in [proposal.question, *proposal.variants] if theirs(q)],
            "notes": [note for note in proposal.notes if theirs(note)],
            "answer": proposal.answer if _is_theirs(proposal.sources[0], subject) else None,
            "sources": [s for s in proposal.sources if _is_theirs(s, subject)],
            "created_at": proposal.created_at,
        },
    }


def _export_proposals(rows: QuerySet[Proposal], subject: Subject) -> list[dict[str, Any]]:
    theirs = _Theirs(subject)  # the subject's texts generalised once, not per proposal
    return [_export_proposal(proposal, subject, theirs) for proposal in rows]


def _forget_in_article(proposal: Proposal, theirs: _Theirs) -> None:
    """An approved answer's article was indexed with the customers' questions as its
    questions: theirs go, the article is re-embedded (its answer is the company's text)."""
    document = proposal.document
    if document is None or proposal.kind != ProposalKind.ANSWER:
        return
    questions = document.metadata.get("questions", [])
    kept = [q for q in questions if not theirs(q)]
    if kept == questions and not theirs(document.title):
        return
    if theirs(document.title):
        document.title = (kept[0] if kept else document.content.split("\n", 1)[0])[:300]
        # The slug was made from the title once and is kept when the title changes (links
        # stay); made from their question, it goes with it (save() makes it from the new one).
        document.slug = ""
    document.metadata = {**document.metadata, "questions": kept}
    document.save(update_fields=["title", "metadata", "updated_at"])
    # Their questions were the article's retrieval keys: those go now, not when the worker
    # re-embeds it, and its own threshold is derived again from the keys left.
    keys = KBChunk.objects.filter(document=document, kind=ChunkKind.QUESTION)
    keys.exclude(text__in=kept).delete()
    calibrate(document)
    enqueue_reindex([document.pk])  # after commit


def _erase_proposals(rows: QuerySet[Proposal], subject: Subject) -> int:
    """An open proposal first raised by their conversation (its question and answer are theirs),
    a revision one of theirs backs (its text may hold their correction) or one nobody else
    backs is deleted: nobody reviewed it, and the next observation raises it again. Otherwise
    their sources, questions and notes go, and an approved answer's article forgets their
    questions."""
    theirs = _Theirs(subject)
    count = 0
    for proposal in rows:
        sources = [s for s in proposal.sources if not _is_theirs(s, subject)]
        raised_by_them = bool(proposal.sources) and _is_theirs(proposal.sources[0], subject)
        if proposal.status == ProposalStatus.OPEN and (
            not sources or raised_by_them or proposal.kind == ProposalKind.KB_EDIT
        ):
            proposal.delete()
            count += 1
            continue
        questions = [q for q in [proposal.question, *proposal.variants] if q and not theirs(q)]
        if theirs(proposal.question) or theirs(proposal.title):
            proposal.title = (questions[0] if questions else ERASED)[:120]
        proposal.question = questions[0] if questions else ERASED
        proposal.variants = questions[1:]
        proposal.notes = [note for note in proposal.notes if not theirs(note)]
        proposal.sources, proposal.source_count = sources, len(sources)
        proposal.save(
            update_fields=["title", "question", "variants", "notes", "sources", "source_count"]
        )
        _forget_in_article(proposal, theirs)
        count += 1
    return count


def triage_examples(subject: Subject) -> QuerySet[TriageExample]:
    """Examples their messages became: through the proposal that learned them (whose sources
    name the conversation), or, for one without, by its text. Public: admin's history of them
    is erased with the rest of it (support/personal_data.py)."""
    theirs = _Theirs(subject)
    learned_from_them = set(_proposals(subject).values_list("pk", flat=True))
    candidates = TriageExample.objects.filter(
        Q(proposal__in=learned_from_them) | Q(proposal__isnull=True)
    )
    pks = [pk for pk, text in candidates.values_list("pk", "text") if theirs(text)]
    return TriageExample.objects.filter(pk__in=pks)


HOLDERS = [
    # Examples before proposals: they are found through the proposals that learned them, whose
    # sources lose the subject's conversations when those are erased.
    Holder(TriageExample, ("text",), triage_examples, delete_rows),
    Holder(
        Proposal,
        ("title", "question", "variants", "notes", "sources", "answer", "decision_note"),
        _proposals,
        _erase_proposals,
        export_rows=_export_proposals,
    ),
]

_COMPANY = "the company's knowledge (articles are written or approved by staff)"

NOT_PERSONAL = {
    **{
        f"knowledge.KBDocument.{name}": _COMPANY
        for name in ("external_id", "intent", "category", "title", "content", "metadata", "slug")
    },
    **{
        f"knowledge.HelpCategory.{name}": "the help center's set-up, written by the team"
        for name in ("code", "title", "description")
    },
    "knowledge.KBDocument.content_hash": "a hash",
    "knowledge.KBChunk.text": _COMPANY,
    "knowledge.KBChunk.text_hash": "a hash",
    "knowledge.KBChunk.search_config": "a PostgreSQL text-search configuration's name",
    "knowledge.GuardRule.pattern": "a phrase generalised from drafts, never across a number "
    "or a personal value (support/learning/guard_rules.py)",
    "knowledge.GuardRule.description": "as the pattern",
    "knowledge.Proposal.intent": "a label of the taxonomy",
    "knowledge.Proposal.category": "a label of the taxonomy",
    "knowledge.TriageExample.intent": "a label of the taxonomy",
    "knowledge.TriageExample.category": "a label of the taxonomy",
}
