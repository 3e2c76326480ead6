"""The languages Resolver supports, defined once: what a KB article may be written in, what a
customer message is detected as (agents/triage/language.py), and which PostgreSQL text-search
configuration stems each one (the stored tsvector of a chunk, knowledge/models/chunk.py, and
the query's, knowledge/search.py). ISO 639-1 codes."""

from __future__ import annotations

from django.db import models


class Language(models.TextChoices):
    EN = "en", "English"
    ES = "es", "Spanish"
    FR = "fr", "French"
    DE = "de", "German"
    PT = "pt", "Portuguese"
    IT = "it", "Italian"
    NL = "nl", "Dutch"


# The KB's language when an article says none (every article before #31), and the language a
# message is answered in when its own cannot be told (UNDETERMINED).
DEFAULT_LANGUAGE = Language.EN
# ISO 639-2's code for "undetermined": a message too short or too mixed to tell.
UNDETERMINED = "und"

# PostgreSQL's built-in text-search configuration of each language (snowball stemmer and its
# stop words): `SELECT cfgname FROM pg_ts_config`.
TEXT_SEARCH_CONFIG: dict[str, str] = {
    Language.EN: "english",
    Language.ES: "spanish",
    Language.FR: "french",
    Language.DE: "german",
    Language.PT: "portuguese",
    Language.IT: "italian",
    Language.NL: "dutch",
}


def text_search_config(language: str | None) -> str:
    """The configuration a text in `language` is stemmed with; the default language's for an
    undetermined or unknown one."""
    return TEXT_SEARCH_CONFIG.get(language or "", TEXT_SEARCH_CONFIG[DEFAULT_LANGUAGE])


def answer_language(language: str | None) -> str:
    """The language a message is answered in: its own, or the KB's default when undetermined."""
    return language if language in Language.values else DEFAULT_LANGUAGE.value


# Punctuation PostgreSQL's text-search parser takes for letters in a database of locale C (the
# embedded one's, and a common server default): every non-ASCII character is a letter there,
# so "¿Dónde" stems to "¿dond", "«Mes" to "«me", "l'adresse" written with a typographic
# apostrophe (U+2019) to one word, and none of them matches the same word written without
# it. Blanked out of a chunk's text before it is stemmed (knowledge/models/chunk.py) and out of
# every query (knowledge/search.py), whatever the server's locale: ¿ ¡ « », quotation marks,
# apostrophes, dashes, ellipsis, bullets, primes.
SEARCH_PUNCTUATION = (
    "\u00bf\u00a1\u00ab\u00bb\u201c\u201d\u201e\u201f\u2018\u2019\u201a"
    "\u201b\u2039\u203a\u2014\u2013\u2015\u2026\u00b7\u2022\u2032\u2033"
)
_BLANKS = str.maketrans(SEARCH_PUNCTUATION, " " * len(SEARCH_PUNCTUATION))


def searchable(text: str) -> str:
    """`text` as the full-text search reads it: SEARCH_PUNCTUATION blanked out."""
    return text.translate(_BLANKS)


def searchable_expression(field: str) -> models.Func:
    """The database's `searchable(field)`: `translate(field, SEARCH_PUNCTUATION, blanks)`."""
    return models.Func(
        models.F(field),
        models.Value(SEARCH_PUNCTUATION),
        models.Value(" " * len(SEARCH_PUNCTUATION)),
        function="translate",
        output_field=models.TextField(),
    )
