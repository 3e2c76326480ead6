"""The knowledge base holds the company's text, not customers' (resolver/personal_data.py explains
the lists). What the learning loop keeps of customers' words (proposals, triage examples) is
support's to find and erase (support/personal_data.py): only support knows whose words they are.
An approved answer or revision becomes an article: a person reviewed its text, which the loop had
generalised (no e-mail addresses, numbers or names), so it is the company's from then on."""

from __future__ import annotations

_COMPANY = "the company's knowledge (articles are written or approved by staff)"

NOT_PERSONAL = {
    **{
        f"knowledge.KBDocument.{name}": _COMPANY
        for name in ("external_id", "intent", "category", "title", "content", "metadata")
    },
    "knowledge.KBDocument.content_hash": "a hash",
    "knowledge.KBChunk.text": _COMPANY,
    "knowledge.KBChunk.text_hash": "a hash",
    "knowledge.GuardRule.pattern": "a phrase generalised from drafts, never across a number "
    "or a personal value (support/learning/guard_rules.py)",
    "knowledge.GuardRule.description": "as the pattern",
}
