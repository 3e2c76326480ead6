"""Hybrid retrieval: an ANN leg on the HNSW index (cosine) and a full-text leg on the GIN index,
fused per document with reciprocal-rank fusion. Used through KBDocumentQuerySet.hybrid_search."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.db import connection, transaction
from django.db.models import Q
from ninja import Schema
from pydantic import ConfigDict, Field

from knowledge.embeddings import MAX_QUERY_CHARS, query_vector_later
from knowledge.languages import DEFAULT_LANGUAGE, searchable, text_search_config
from knowledge.models.chunk import ChunkKind, KBChunk

# A learned article's match threshold without calibration (one key, nothing to hold out against,
# or not embedded yet): what every learned article had before they were calibrated
# (knowledge/matching.py calibrates the others).
DEFAULT_MATCH_THRESHOLD = 0.6

if TYPE_CHECKING:
    from knowledge.models.document import KBDocumentQuerySet

RRF_K = 60  # the usual constant: damps the weight of the very first ranks
CANDIDATES = 200  # chunks fetched per leg before fusion (many chunks share a document)
EF_SEARCH = 100  # HNSW candidate list; higher = better recall, slower
INTENT_BOOST = 1 / (RRF_K + 1)  # as much as one extra first place
# Articles in the query's language are preferred by as much (an LLM provider may still answer
# from a closer article in another language; the extractive one searches its language only).
LANGUAGE_BOOST = 1 / (RRF_K + 1)
# The full-text leg is weaker on paraphrases (no synonyms); it counts for less in the fusion
# but still lifts exact keywords (order numbers, product names) that the vectors blur.
TEXT_WEIGHT = 0.25
# Near-duplicate articles of one intent say the same thing; capping them per result page leaves
# room for the next-best intent when the first guess is wrong.
MAX_PER_INTENT = 2
# Lexemes in more than this share of chunks ("help", "need", "order") carry little signal (the
# vector leg covers topics; this leg is for rare exact terms such as order numbers and product
# names), and ranking the many rows they match is what makes a full-text query slow.
COMMON_LEXEME_SHARE = 0.02
COMMON_LEXEME_MIN_CHUNKS = 50  # a small KB has no "common" words
COMMON_LEXEME_MAX_CHUNKS = 1000  # ...and in a large one, ranking more rows than this is too slow
COMMON_LEXEMES_TTL = 600.0
SNIPPET_CHARS = 320
# Learned articles (knowledge/matching.py) looked up by their own keys beside the fusion: a taught
# topic's paraphrase shares few words with its keys, and a long KB article's many chunks and words
# push the learned article out of the fused page even when its nearest key is close enough. The
# nearest few are added after the page (the graph decides by their keys: agents/scoring.py).
LEARNED_NEIGHBOURS = 3
LEARNED_CANDIDATES = 50  # chunks of learned articles fetched for them


# Which legs run: the product uses "hybrid"; the others are ablations for the benchmark.
# "answers" is plain dense search over article text only (no question chunks, no full text).
Legs = Literal["hybrid", "vector", "text", "answers"]
ALL_KINDS = tuple(ChunkKind.values)


class EmptyQueryError(ValueError):
    """A query with no searchable text: none at all, or text PostgreSQL cannot take."""


# What a draft's citation of an article shows (the stored one may hold more, e.g. its score).
CITATION_KEYS = ("kb_id", "title", "snippet")
# Articles of this category tell agents what to do; they are never quoted to customers.
POLICY_CATEGORY = "POLICY"


class SearchResult(Schema):
    """A hit's public shape: `kb_search`, GET /kb/search."""

    kb_id: int
    title: str
    snippet: str
    intent: str
    category: str
    score: float


class SearchHit(SearchResult):
    """One article the hybrid search found: its public shape (the SearchResult it extends: what
    the CLI and the API show), what a draft cites (citation) and what the agent's graph drafts
    and judges from (its evidence)."""

    model_config = ConfigDict(frozen=True)

    # Best cosine similarity of the document's chunks (0 when only the full-text leg found it).
    similarity: float = 0.0
    vector_rank: int | None = None  # rank of the document in each leg (1 = best)
    text_rank: int | None = None
    content: str = Field(default="", repr=False)  # the whole article, for drafts to quote
    # An article the KB learned from agents' answers (support's learning loop), and its own
    # similarity threshold, calibrated on its retrieval keys (knowledge/matching.py).
    learned: bool = False
    match_threshold: float | None = None
    language: str = DEFAULT_LANGUAGE.value  # what the article is written in (ISO 639-1)

    @property
    def customer_facing(self) -> bool:
        return self.category != POLICY_CATEGORY

    @property
    def learned_margin(self) -> float | None:
        """How far a learned article's nearest chunk (a key: a taught question, or its text)
        is above the article's own threshold; None for other articles."""
        if not self.learned:
            return None
        threshold = self.match_threshold
        return self.similarity - (DEFAULT_MATCH_THRESHOLD if threshold is None else threshold)

    @property
    def learned_match(self) -> bool:
        """A learned article close enough, by its own threshold, to answer the message."""
        margin = self.learned_margin
        return margin is not None and margin >= 0

    def citation(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in CITATION_KEYS}

    def as_result(self) -> dict[str, Any]:
        return SearchResult.model_validate(self, from_attributes=True).model_dump()


@dataclass
class _Leg:
    """Best rank per document in one leg, and the chunk that earned it."""

    ranks: dict[int, int]
    chunks: dict[int, int]
    values: dict[int, float]


VECTOR_SQL = """
SELECT c.id, c.document_id, c.embedding <=> %s::vector AS distance
FROM knowledge_kbchunk c
WHERE c.embedding IS NOT NULL AND c.kind = ANY(%s) AND c.document_id IN ({documents})
ORDER BY distance
LIMIT %s
"""

# A customer message as an ORed full-text query (text_query says why), built inside the statement
# that uses it. Parameters: the configuration, the text, the common lexemes. NULL when no term is
# left (it then matches nothing). The parsed query is cut at every AND and at every OR: a negation
# hides inside an OR group too ("refund or -xyz" parses to 'refund' | !'xyz'). The pieces are
# lexemes, phrases ('a' <-> 'b') and negations (!'a', !( 'a' <-> 'b' )); any piece with a "!" or a
# parenthesis is dropped, so no negation, nor a part of one, is left.
TEXT_QUERY = """NULLIF(array_to_string(ARRAY(
    SELECT term.op
    FROM regexp_split_to_table(websearch_to_tsquery(%s::regconfig, %s)::text, ' [&|] ')
        WITH ORDINALITY AS term(op, n)
    WHERE term.op <> '' AND term.op !~ '[!()]' AND NOT btrim(term.op, $$'$$) = ANY(%s::text[])
    ORDER BY term.n
), ' | '), '')"""

TEXT_SQL = """
SELECT c.id, c.document_id, ts_rank_cd(c.search_vector, q.query) AS rank
FROM knowledge_kbchunk c, (SELECT ({query})::tsquery AS query) q
WHERE c.search_vector @@ q.query AND c.document_id IN ({documents})
ORDER BY rank DESC, c.id
LIMIT %s
"""

# (when computed, by time.monotonic(); the lexemes). Never computed is minus infinity, not 0.0:
# the monotonic clock starts near zero at boot, and 0.0 read as "computed at boot" kept the set
# empty for the first COMMON_LEXEMES_TTL seconds of a fresh machine or container.
_NEVER = float("-inf")
_common: tuple[float, frozenset[str]] = (_NEVER, frozenset())


def common_lexemes() -> frozenset[str]:
    """Lexemes too frequent in the KB to discriminate; recomputed every few minutes."""
    global _common
    computed_at, lexemes = _common
    if time.monotonic() - computed_at < COMMON_LEXEMES_TTL:
        return lexemes
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT word FROM ts_stat('SELECT search_vector FROM knowledge_kbchunk') "
            "WHERE ndoc > GREATEST(%s, LEAST(%s, %s * (SELECT count(*) FROM knowledge_kbchunk)))",
            [COMMON_LEXEME_MIN_CHUNKS, COMMON_LEXEME_MAX_CHUNKS, COMMON_LEXEME_SHARE],
        )
        lexemes = frozenset(row[0] for row in cursor.fetchall())
    _common = (time.monotonic(), lexemes)
    return lexemes


def forget_common_lexemes() -> None:
    """Called when chunks change in this process; other processes refresh within the TTL."""
    global _common
    _common = (_NEVER, frozenset())


def text_query(text: str, config: str = "english") -> str:
    """websearch_to_tsquery parses the text (quotes, -negation) but ANDs every term; a customer
    message is not a search-engine query, so its terms are ORed instead (ts_rank_cd then ranks
    by coverage), and terms common to most of the KB are dropped. "" when nothing is left.
    `config`: the text-search configuration of the message's language (stemming, stop words),
    the one the articles in that language are stored with. A negated term ("-blender" →
    !'blender', also "x or -blender") is left out: ORed in, it would match nearly every chunk.
    The search builds the query inside its own statement (`TEXT_QUERY` in `TEXT_SQL`: no round
    trip of its own, #30); this shows what it builds."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {TEXT_QUERY}", [config, searchable(text), list(common_lexemes())])
        return str(cursor.fetchone()[0] or "")


def _run_leg(sql: str, params: list[Any], descending: bool) -> _Leg:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    # relaxed_order iterative scans may return slightly out of order: sort again.
    rows.sort(key=lambda row: (-row[2] if descending else row[2], row[0]))
    leg = _Leg({}, {}, {})
    for chunk_id, document_id, value in rows:
        if document_id not in leg.ranks:
            leg.ranks[document_id] = len(leg.ranks) + 1
            leg.chunks[document_id] = chunk_id
            leg.values[document_id] = float(value)
    return leg


def _documents_sql(documents: KBDocumentQuerySet) -> tuple[str, list[Any]]:
    # order_by(): the model's default ordering would make the planner sort and nest-loop.
    sql, params = documents.order_by().values("pk").query.sql_with_params()
    return sql, list(params)


# One vector search: the documents to search, how many chunks, of which kinds.
VectorSearch = tuple["KBDocumentQuerySet", int, Sequence[str]]


def vector_legs(vector: list[float], *searches: VectorSearch) -> list[_Leg]:
    """Each search by `vector`, in one transaction under one setting of the HNSW parameters:
    the page's leg and the learned neighbours' cost one `set_config` and one commit (#30)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            # Both settings for this transaction (SET LOCAL) in one round trip. With a filter,
            # keep scanning the graph until k rows pass it (iterative scans, pgvector >= 0.8).
            cursor.execute(
                "SELECT set_config('hnsw.ef_search', %s, true), "
                "set_config('hnsw.iterative_scan', 'relaxed_order', true)",
                [str(EF_SEARCH)],
            )
        legs = []
        for documents, k, kinds in searches:
            sub_sql, sub_params = _documents_sql(documents)
            params = [str(vector), list(kinds), *sub_params, k]
            legs.append(_run_leg(VECTOR_SQL.format(documents=sub_sql), params, descending=False))
        return legs


def vector_leg(
    documents: KBDocumentQuerySet, vector: list[float], k: int, kinds: Sequence[str]
) -> _Leg:
    return vector_legs(vector, (documents, k, kinds))[0]


def text_leg(documents: KBDocumentQuerySet, text: str, k: int, config: str = "english") -> _Leg:
    # The message is parsed into the query in the same statement: one round trip.
    sub_sql, sub_params = _documents_sql(documents)
    params = [config, searchable(text), list(common_lexemes()), *sub_params, k]
    sql = TEXT_SQL.format(query=TEXT_QUERY, documents=sub_sql)
    return _run_leg(sql, params, descending=True)


def _fuse(
    vector: _Leg, text: _Leg, boosted: set[int], in_language: set[int]
) -> list[tuple[int, float]]:
    scores: dict[int, float] = {}
    for leg, weight in ((vector, 1.0), (text, TEXT_WEIGHT)):
        for document_id, rank in leg.ranks.items():
            scores[document_id] = scores.get(document_id, 0.0) + weight / (RRF_K + rank)
    for document_id in boosted & scores.keys():
        scores[document_id] += INTENT_BOOST
    for document_id in in_language & scores.keys():
        scores[document_id] += LANGUAGE_BOOST
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def _diversify(ranked: list[tuple[int, float]], intents: dict[int, str]) -> list[tuple[int, float]]:
    """At most MAX_PER_INTENT documents per intent first; the rest keep their order after."""
    seen: dict[str, int] = {}
    first: list[tuple[int, float]] = []
    rest: list[tuple[int, float]] = []
    for item in ranked:
        intent = intents.get(item[0], "")
        seen[intent] = seen.get(intent, 0) + 1
        (first if not intent or seen[intent] <= MAX_PER_INTENT else rest).append(item)
    return first + rest


def _learned_neighbours(
    leg: _Leg, vector: _Leg, count: int, ranked: set[int]
) -> list[tuple[int, float]]:
    """The learned articles nearest the message by vector, beyond the fused page: `leg`, their
    own (the KB's many chunks may crowd them out of the shared one), its values merged into
    `vector`'s."""
    extra = [pk for pk in leg.ranks if pk not in ranked][:count]
    for pk in extra:
        vector.values[pk] = min(vector.values.get(pk, 2.0), leg.values[pk])
    return [(pk, 0.0) for pk in extra]


_WORD = re.compile(r"\w+")


def make_snippet(text: str, query: str, max_chars: int = SNIPPET_CHARS) -> str:
    """The window of sentences that shares most words with the query, at most max_chars long."""
    text = " ".join(text.split())
    if len(text) <= max_chars:
        return text
    terms = {w.lower() for w in _WORD.findall(query) if len(w) > 2}
    sentences = re.split(r"(?<=[.!?])\s+", text)
    best, best_score = 0, -1
    for start in range(len(sentences)):
        window = " ".join(sentences[start : start + 3])[:max_chars]
        score = len(terms & {w.lower() for w in _WORD.findall(window)})
        if score > best_score:
            best, best_score = start, score
    window = " ".join(sentences[best:])
    return window if len(window) <= max_chars else window[: max_chars - 1].rsplit(" ", 1)[0] + "…"


def clean_query(query: str) -> str:
    """The query's words, single-spaced and cut to MAX_QUERY_CHARS. EmptyQueryError when none
    is left, or when the text is none PostgreSQL can take (a NUL, an unpaired surrogate): the
    callers answer it as a bad query instead of failing on the database's error."""
    text = " ".join(query.split())[:MAX_QUERY_CHARS]
    if not text:
        raise EmptyQueryError("the query is empty")
    if "\x00" in text:
        raise EmptyQueryError("the query holds a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise EmptyQueryError("the query holds an unpaired surrogate") from None
    return text


def _best_passages(document_ids: list[int], hit_chunks: set[int]) -> dict[int, str]:
    """Per document, the article passage to show: the one a leg matched, else its opening one."""
    chunks = KBChunk.objects.filter(
        Q(pk__in=hit_chunks) | Q(ordinal=0), document_id__in=document_ids, kind=ChunkKind.CONTENT
    ).only("id", "document_id", "ordinal", "text")
    best: dict[int, tuple[bool, int, str]] = {}
    for chunk in chunks:
        key = (chunk.id not in hit_chunks, chunk.ordinal, chunk.text)
        best[chunk.document_id] = min(best.get(chunk.document_id, key), key)
    return {document_id: key[2] for document_id, key in best.items()}


def hybrid_search(
    documents: KBDocumentQuerySet,
    query: str,
    limit: int = 5,
    *,
    intent: str | None = None,
    language: str | None = None,
    candidates: int = CANDIDATES,
    legs: Legs = "hybrid",
    learned: int = 0,
) -> list[SearchHit]:
    """Best documents first. `intent` boosts documents of that intent, `language` (the query's:
    its full-text configuration) those written in it (filter the queryset to restrict
    instead). `learned`: up to this many more learned articles, the nearest by vector that the
    page left out, after it."""
    text = clean_query(query)
    empty = _Leg({}, {}, {})
    kinds = ("content",) if legs == "answers" else ALL_KINDS
    # The query is encoded while the full-text leg runs (#31: a suggestion's two costs overlap).
    embedding = None if legs == "text" else query_vector_later(text)
    config = text_search_config(language)
    words = text_leg(documents, text, candidates, config) if legs in ("hybrid", "text") else empty
    vector = own = empty
    if embedding is not None:
        searches: list[VectorSearch] = [(documents, candidates, kinds)]
        if learned:  # the learned articles' own leg, used after the fusion (_learned_neighbours)
            searches.append((documents.learned(), LEARNED_CANDIDATES, ALL_KINDS))
        vector, *rest = vector_legs(embedding().tolist(), *searches)
        own = rest[0] if rest else empty
    found = {*vector.ranks, *words.ranks}
    rows = documents.filter(pk__in=found).values_list("pk", "intent", "language")
    intents = {pk: doc_intent for pk, doc_intent, _ in rows}
    boosted = {pk for pk, doc_intent in intents.items() if intent and doc_intent == intent}
    in_language = {pk for pk, _, doc_language in rows if language and doc_language == language}
    ranked = _diversify(_fuse(vector, words, boosted, in_language), intents)[:limit]
    if learned and legs != "text":
        ranked += _learned_neighbours(own, vector, learned, {pk for pk, _ in ranked})
    ids = [document_id for document_id, _ in ranked]
    # From `documents`: an article unpublished or deleted since the legs read their chunks is
    # left out, not served (or a KeyError).
    by_id = documents.in_bulk(ids)
    passages = _best_passages(ids, {*vector.chunks.values(), *words.chunks.values()})
    hits = []
    for document_id, score in ranked:
        document = by_id.get(document_id)
        if document is None:
            continue
        passage = passages.get(document_id, document.content)
        similarity = vector.values.get(document_id)
        hits.append(
            SearchHit(
                kb_id=document_id,
                title=document.title,
                snippet=make_snippet(passage, text),
                intent=document.intent,
                category=document.category,
                score=round(score, 6),
                similarity=0.0 if similarity is None else round(1 - similarity, 4),
                vector_rank=vector.ranks.get(document_id),
                text_rank=words.ranks.get(document_id),
                content=document.content,
                learned=document.is_learned,
                match_threshold=document.match_threshold,
                language=document.language,
            )
        )
    return hits


# The message's words, stemmed and stop-worded in its language's configuration, that one
# article's text holds (any of its chunks: title, questions, passages).
_COVERAGE_SQL = """
SELECT count(*) FILTER (WHERE EXISTS (
           SELECT 1 FROM knowledge_kbchunk c
           WHERE c.document_id = %s AND c.search_vector @@ quote_literal(w.lexeme)::tsquery
       )),
       count(*)
FROM unnest(tsvector_to_array(to_tsvector(%s::regconfig, %s))) AS w(lexeme)
"""


def word_coverage(document_id: int, text: str, language: str | None) -> float:
    """The share of `text`'s words (stems, without stop words) found in the article: how much
    of what the customer wrote the article talks about. 0 when no word is left."""
    config = text_search_config(language)
    with connection.cursor() as cursor:
        cursor.execute(_COVERAGE_SQL, [document_id, config, searchable(text)])
        found, words = cursor.fetchone()
    return found / words if words else 0.0
