"""kb_edit proposals: a revision of an article that agents keep correcting. Signals: a draft
citing the article rejected as incorrect or outdated (one is enough: an agent said so), or drafts
about the article's question that agents rewrote before sending (REPEATED_EDITS of them). The
proposed text is the article with the sentences the drafts took from it replaced by what the
human wrote; a rejection without a correction yet proposes the article as it is, with the reasons,
for the reviewer to edit, and the agent's reply to that customer fills the correction in."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max

from knowledge.models import KBDocument, Proposal, ProposalKind, ProposalStatus
from knowledge.specifics import generalise
from support.learning.observations import cited_articles, cosine, rewritten
from support.learning.sources import add_source, lock_kind
from support.models import Draft, DraftStatus, RejectCategory

# Rejections that say the article itself is wrong.
ARTICLE_WRONG = frozenset({RejectCategory.INCORRECT, RejectCategory.OUTDATED})
# Rewritten drafts citing the same article before a revision is proposed: one rewrite may be the
# agent's style; two are a pattern.
REPEATED_EDITS = 2
# The customer asked what the article is about (MiniLM cosine with its title and questions): a
# rewrite corrects the article rather than answering another question.
ABOUT_THE_ARTICLE = 0.6

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _norm(sentence: str) -> str:
    return " ".join(sentence.lower().split())


def revised_text(article: str, draft_answer: str, correction: str) -> str:
    """The article with the sentences the draft took from it replaced by the correction (where
    the first of them was); appended when the draft quoted none verbatim."""
    quoted = {_norm(s) for s in _sentences(draft_answer)}
    paragraphs = article.split("\n")
    out: list[str] = []
    placed = False
    for paragraph in paragraphs:
        kept: list[str] = []
        for sentence in _sentences(paragraph) or [paragraph]:
            if _norm(sentence) in quoted:
                if not placed:
                    kept.append(correction.strip())
                    placed = True
                continue
            kept.append(sentence)
        if kept or not paragraph.strip():
            out.append(" ".join(kept))
    text = "\n".join(out).strip()
    return text if placed else f"{article.rstrip()}\n\n{correction.strip()}"


@dataclass(frozen=True)
class Segment:
    """One piece of a word diff: "equal", "delete" or "insert"."""

    op: str
    text: str


def word_diff(before: str, after: str) -> list[Segment]:
    """Word-level diff of an article and its proposed revision, for the review page."""
    a, b = before.split(), after.split()
    segments: list[Segment] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            segments.append(Segment("equal", " ".join(a[i1:i2])))
            continue
        if i2 > i1:
            segments.append(Segment("delete", " ".join(a[i1:i2])))
        if j2 > j1:
            segments.append(Segment("insert", " ".join(b[j1:j2])))
    return segments


def _about(draft: Draft, article: KBDocument) -> bool:
    questions = [article.title, *article.metadata.get("questions", [])][:20]
    return max(cosine(draft.message.body, q) for q in questions) >= ABOUT_THE_ARTICLE


def _rewrites_of(article_id: int) -> list[Draft]:
    """Sent drafts citing the article first that agents rewrote, newest first, since its last
    revision an admin decided: the rewrites behind an approved or dismissed revision were
    answered, and proposing them again with the next one made a dismissal come straight back."""
    drafts = (
        Draft.objects.filter(status=DraftStatus.SENT, automated=False)
        .filter(citations__contains=[{"kb_id": article_id}])
        .select_related("message")
        .order_by("-reviewed_at")
    )
    decided = Proposal.objects.filter(
        kind=ProposalKind.KB_EDIT,
        document_id=article_id,
        status__in=(ProposalStatus.APPROVED, ProposalStatus.DISMISSED),
    ).aggregate(last=Max("decided_at"))["last"]
    if decided is not None:
        drafts = drafts.filter(reviewed_at__gt=decided)
    return [d for d in drafts[:200] if rewritten(d) and cited_articles(d)[:1] == [article_id]]


def _proposal_for(article: KBDocument) -> Proposal:
    """The open kb_edit proposal of the article (locked), created when there is none."""
    lock_kind(ProposalKind.KB_EDIT)
    found = (
        Proposal.objects.open()
        .filter(kind=ProposalKind.KB_EDIT, document=article)
        .select_for_update()
        .first()
    )
    if found is not None:
        return found
    return Proposal(
        kind=ProposalKind.KB_EDIT,
        document=article,
        title=f"Revise “{article.title}”"[:300],
        question="",
        answer=article.content,
        intent=article.intent,
        category=article.category,
        source_count=0,
    )


def _source(draft: Draft) -> dict[str, str]:
    return {"conversation_id": str(draft.conversation_id), "draft_id": str(draft.pk)}


def _add(
    proposal: Proposal, article: KBDocument, draft: Draft, note: str = "", correction: str = ""
) -> Proposal:
    question = generalise(draft.message.body)[:2000]
    if not proposal.question:
        proposal.question = question
    if correction:
        proposal.answer = revised_text(article.content, draft.answer, correction)
    add_source(proposal, _source(draft), question=question, note=note)
    proposal.save()
    return proposal


def _first_cited(draft: Draft) -> KBDocument | None:
    return KBDocument.objects.filter(pk__in=cited_articles(draft)[:1]).first()


def observe_rejection(draft: Draft) -> Proposal | None:
    """A draft rejected as incorrect or outdated: its first cited article needs a revision."""
    if draft.status != DraftStatus.REJECTED or draft.reject_category not in ARTICLE_WRONG:
        return None
    article = _first_cited(draft)
    if article is None:
        return None
    note = f"{draft.get_reject_category_display()}: {generalise(draft.reject_reason)}".strip()
    with transaction.atomic():
        return _add(_proposal_for(article), article, draft, note=note[:500])


def observe_correction(draft: Draft, reply_text: str) -> Proposal | None:
    """The agent's reply to a customer whose draft was rejected as wrong: the correction of the
    open revision of the article it cited."""
    if draft.status != DraftStatus.REJECTED or draft.reject_category not in ARTICLE_WRONG:
        return None
    with transaction.atomic():
        proposal = (
            Proposal.objects.open()
            .filter(kind=ProposalKind.KB_EDIT, document_id__in=cited_articles(draft)[:1])
            .select_related("document")
            .select_for_update(of=("self",))
            .first()
        )
        if proposal is None or proposal.document is None:
            return None
        correction = generalise(reply_text)[:8000]
        proposal.answer = revised_text(proposal.document.content, draft.answer, correction)
        proposal.save()
        return proposal


def corrected_article(draft: Draft) -> KBDocument | None:
    """The article a sent draft's rewrite corrects: the one it cites first, when the customer
    asked what that article is about (otherwise the rewrite answers another question)."""
    if draft.status != DraftStatus.SENT or draft.escalation_reason or not rewritten(draft):
        return None
    article = _first_cited(draft)
    return article if article is not None and _about(draft, article) else None


def observe_rewrite(draft: Draft, article: KBDocument) -> Proposal | None:
    """A rewrite correcting `article` (corrected_article): once REPEATED_EDITS such rewrites of
    it exist, they propose its revision (the latest rewrite's text)."""
    others = [d for d in _rewrites_of(article.pk) if d.pk != draft.pk and _about(d, article)]
    if 1 + len(others) < REPEATED_EDITS:
        return None
    with transaction.atomic():
        proposal = _proposal_for(article)
        for older in reversed(others):
            _add(proposal, article, older)
        return _add(proposal, article, draft, correction=generalise(draft.sent_text)[:8000])
