"""Which language a customer writes in (#31): lingua's offline detector, built once per process
from the languages the product supports (knowledge/languages.py), never from all 75 it knows
(fewer candidates: fewer confusions and a fifth of the memory).

What a message gets:
- its own language when the detector is sure enough: English (the KB's default) as the top
  guess of `DEFAULT_MIN_WORDS` words or from `DEFAULT_MIN_CONFIDENCE`, any other language only
  when English gets at most `OTHER_MAX_ENGLISH` and from `OTHER_MIN_WORDS` words: a misread
  English message ("dm theey", slang, a place name) would be answered in the wrong language or
  escalated, a missed Spanish one is answered as before;
- else (too short, "ok", "merci", an order number, an emoji) the language of the customer's
  earlier messages in the conversation, read together by the same rules;
- else English if that was the message's own (unsure) top guess; else `UNDETERMINED` ("und"),
  which is answered in the default language.

The rule was chosen on the 5,377 tweets of the twcs pool (English but for ~150 written in Spanish,
French, German, Portuguese...): of the 153 it takes for another language none is English when
read one by one (English slang and place names keep P(en) above 0.1: "dm theey" 0.12, "... in
Guarulhos, São Paulo" 0.11). A first rule (top confidence >= 0.8) left a third of the
`languages` set's Spanish and Portuguese questions undetermined; this one replaced it after that
first run, so the set is not blind to it (README, "Languages"). `manage.py evaluate --set
languages` and `--set real_tweets` measure it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from knowledge.languages import DEFAULT_LANGUAGE, UNDETERMINED, Language
from resolver.once import once_per_process

if TYPE_CHECKING:
    from lingua import LanguageDetector

DEFAULT_MIN_WORDS = 3
DEFAULT_MIN_CONFIDENCE = 0.6
# Another language stands when English is all but ruled out (the costly confusion is English
# with the rest; Spanish with Portuguese costs less, and lingua splits its confidence between
# them: "Como posso cancelar o meu pedido?" is pt 0.55, es 0.44, en 0.00).
OTHER_MAX_ENGLISH = 0.05
OTHER_MIN_WORDS = 2
# A sentence (from `SENTENCE_WORDS` words) whose top guess is clear (`SENTENCE_MIN_CONFIDENCE`)
# stands with a little more English in it (up to `SENTENCE_MAX_ENGLISH`: "Comment télécharger ma
# facture ?" is fr 0.83, en 0.11; "Wie melde ich mich vom Newsletter ab?" de 0.66, en 0.10)
# unless a stretch of it reads as English on its own (`SENTENCE_MAX_ENGLISH_SHARE` of its
# characters, lingua's segmentation): "I'm at American Airlines Admirals Club in Guarulhos, São
# Paulo" is pt 0.74, en 0.11 as a whole but 69 % English by segment. Measured on the twcs pool's
# 4,567 tweets of 4+ words: 6 more taken for another language, none of them English (README).
SENTENCE_WORDS = 4
SENTENCE_MIN_CONFIDENCE = 0.6
SENTENCE_MAX_ENGLISH = 0.15
SENTENCE_MAX_ENGLISH_SHARE = 0.2

# Not words of any language: addresses, handles, links, numbers and codes ("NW-10001",
# "AB-123"), which the detector would read as Dutch as readily as anything.
# An address or a code is matched from the start of its run ((?<!…)): tried from every position
# (or word boundary) inside a long run, `\S+@` and `[\w-]*\d` re-read the rest of it at each one
# (a 32 kB token without spaces, a pasted blob, took 3 s; 20 kB of "a-a-a…" 3.3 s).
_NOT_WORDS = re.compile(
    r"https?://\S+|www\.\S+|(?<!\S)\S+@\S+|@\w+|\{\{[^}]*\}\}|(?<![\w-])[\w-]*\d[\w-]*\b"
)
_WORD = re.compile(r"[^\W\d_]+")
# Every supported language is written in Latin script: a word without a Latin letter (Chinese,
# Cyrillic) is no evidence for any of them (lingua, offered seven, would call it Dutch).
_LATIN = re.compile(r"[A-Za-z\u00C0-\u024F]")
# Longer runs of letters are not words of any language (a pasted key, a blob without spaces):
# read, they told the detector nothing and cost it ~20 ms per kB. German's long compounds stay.
MAX_WORD_CHARS = 45

# Quotations: "…", “…”, «…», „…“ (not an apostrophe: "don't", "l'adresse").
_QUOTED = re.compile(r'"[^"]*"|“[^”]*”|«[^»]*»|„[^“”]*[“”]')
_SENTENCE_END = re.compile(r"[.!?¿¡:;\n]+")
# English words shops and their customers in every supported language use as their own.
LOAN_WORDS = frozenset(
    {
        "email", "mail", "e", "tracking", "stock", "newsletter", "login", "online", "code",
        "promo", "voucher", "ok", "okay", "shop", "app", "link", "chat", "ticket", "feedback",
        "update", "download", "spam", "cashback", "outlet", "web", "website", "black", "friday",
        "cyber", "monday", "prime", "paypal", "sms", "pin", "wifi", "smartphone", "laptop",
    }
)  # fmt: skip

Source = Literal["message", "conversation", "none"]


@dataclass(frozen=True)
class DetectedLanguage:
    language: str  # ISO 639-1 (Language) or UNDETERMINED
    confidence: float  # the detector's relative confidence in it (0 when undetermined)
    source: Source  # what told it: the message itself, the customer's earlier messages, nothing

    @property
    def determined(self) -> bool:
        return self.language != UNDETERMINED

    def as_dict(self) -> dict[str, object]:
        return {
            "language": self.language,
            "confidence": round(self.confidence, 4),
            "source": self.source,
        }


UNKNOWN = DetectedLanguage(UNDETERMINED, 0.0, "none")


@once_per_process
def detector() -> LanguageDetector:
    """Built on first use (the worker's warm-up drafts a message: it is paid before the first
    real one). Its models load lazily too, ~50 MB for the seven languages; high-accuracy mode:
    the low-accuracy one took ~50% more English tweets for another language (README)."""
    from lingua import IsoCode639_1, LanguageDetectorBuilder
    from lingua import Language as LinguaLanguage

    languages = [
        LinguaLanguage.from_iso_code_639_1(IsoCode639_1.from_str(code)) for code in Language.values
    ]
    return LanguageDetectorBuilder.from_languages(*languages).build()


def _is_word(letters: str) -> bool:
    return len(letters) <= MAX_WORD_CHARS and bool(_LATIN.search(letters))


def words_of(text: str) -> list[str]:
    """The words a language can be told from (no links, handles, numbers, codes)."""
    return [word for word in _WORD.findall(_NOT_WORDS.sub(" ", text)) if _is_word(word)]


def telling_words(text: str, names: bool = False) -> list[str]:
    """The words that tell the writer's language: not quoted (an e-mail's subject, a product's
    title: someone else's words), not a name (a capitalised word inside a sentence: "Avenida
    Paulista", "Weihnachtsmarkt"; "I" stays), not a loan word every language borrows from
    English ("email", "tracking"). Names are kept in a shouted message (all capitals); German
    capitalises every noun, so its reading may come out unsure without them (_read)."""
    unquoted = _QUOTED.sub(" . ", text)
    shouted = sum(c.isupper() for c in unquoted) > sum(c.islower() for c in unquoted)
    words = []
    for sentence in _SENTENCE_END.split(_NOT_WORDS.sub(" ", unquoted)):
        for position, word in enumerate(w for w in _WORD.findall(sentence) if _is_word(w)):
            name = not names and position > 0 and word[0].isupper() and word != "I" and not shouted
            if not name and word.lower() not in LOAN_WORDS:
                words.append(word)
    return words


def _read(text: str, source: Source) -> tuple[DetectedLanguage | None, bool]:
    """(the detector's best guess, whether it is sure enough to stand alone), read first from
    the words that tell the writer's language, then, if that reading is not sure (too few
    left, or German whose nouns went with the names: "Wo ist mein Paket gerade?"), with the
    names back (quotations and loan words stay out); from all its words when neither leaves
    two."""
    words = words_of(text)
    if not words:
        return None, False
    telling = telling_words(text)
    named = telling_words(text, names=True)
    readings = [read for read in (telling, named) if len(read) >= OTHER_MIN_WORDS]
    if not named:
        # Loan words only ("okay", "Tracking?", "okay, NW-10001"): what they read as (English,
        # sure from one word) says nothing of the writer, so the reading never stands alone
        # and a German conversation stays German.
        return _reading(words, len(words), source)[0], False
    first: tuple[DetectedLanguage | None, bool] = (None, False)
    for read in list(dict.fromkeys(map(tuple, readings))) or [tuple(words)]:
        reading = _reading(list(read), len(words), source)
        if reading[1]:
            return reading
        if first[0] is None:
            first = reading
    return first


def _reading(
    read: list[str], message_words: int, source: Source
) -> tuple[DetectedLanguage | None, bool]:
    values = detector().compute_language_confidence_values(" ".join(read))
    if not values:
        return None, False
    scores = {v.language.iso_code_639_1.name.lower(): float(v.value) for v in values}
    top = values[0]
    guess = DetectedLanguage(top.language.iso_code_639_1.name.lower(), float(top.value), source)
    english = scores.get(DEFAULT_LANGUAGE, 0.0)
    if guess.language == DEFAULT_LANGUAGE:
        # lingua spreads English over its neighbours ("I want to cancel my order": 0.35): as
        # the top guess of a sentence it is English; one or two words lean on the conversation.
        sure = len(read) >= DEFAULT_MIN_WORDS or top.value >= DEFAULT_MIN_CONFIDENCE
    elif len(read) < OTHER_MIN_WORDS:
        sure = False
    elif english <= OTHER_MAX_ENGLISH:
        sure = True
    else:
        sure = message_words >= SENTENCE_WORDS and _clear_sentence(read, top.value, english)
    return guess, sure


def _clear_sentence(words: list[str], confidence: float, english: float) -> bool:
    """Another language stands with some English in the reading when the text is a sentence
    with a clear top guess and no stretch of it is English on its own."""
    if confidence < SENTENCE_MIN_CONFIDENCE or english > SENTENCE_MAX_ENGLISH:
        return False
    text = " ".join(words)
    sections = detector().detect_multiple_languages_of(text)
    english_chars = sum(
        s.end_index - s.start_index
        for s in sections
        if s.language.iso_code_639_1.name.lower() == DEFAULT_LANGUAGE
    )
    return english_chars <= SENTENCE_MAX_ENGLISH_SHARE * len(text)


def detect_language(message: str, earlier: list[str] | None = None) -> DetectedLanguage:
    """The message's language; `earlier`: the customer's earlier messages of the conversation,
    latest first, read when the message alone does not tell."""
    own, sure = _read(message, "message")
    if own is not None and sure:
        return own
    if earlier:
        together, sure_together = _read("\n".join(reversed(earlier)), "conversation")
        if together is not None and sure_together:
            return together
    if own is not None and own.language == DEFAULT_LANGUAGE:
        return own  # "thx" alone: English is the best guess, and what it is answered in anyway
    return UNKNOWN
