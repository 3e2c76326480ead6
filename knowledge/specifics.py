"""Specifics: amounts, reference and order numbers, phone numbers, dates and people's names. A
reply may state one only when the customer's message, the customer facts or the business profile
holds it; in a KB article they are example text (a Bitext answer's "$299", "Ms. Hawkings"), so
ingest flags articles that carry them (admin lists them) and drafts never quote them."""

from __future__ import annotations

import re
from collections.abc import Iterable

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
SPECIFIC = re.compile(
    "|".join(
        [
            r"[$€£]\s?\d[\d,]*(?:\.\d+)?",  # $299, € 50.00
            # 1,299 usd: from the start of a run of digits and single commas (\b, (?<!…)), not
            # from each digit in it: from every one, `\d[\d,]*` re-read the run to its end (9 s
            # for 20 kB of "1,1,1,…").
            r"(?<!\d,)\b\d(?:,?\d)*,?(?:\.\d+)?\s?(?:usd|eur|gbp|dollars|euros|pounds)\b",
            r"\b[A-Z]{1,5}-?\d{3,}(?:-\d+)*\b",  # SU-35931-1, QX-48213, ORD12345
            r"\+?\d[\d ().-]{7,}\d",  # phone numbers
            r"\b\d{4,}\b",  # order and reference numbers
            r"\b\d{1,2}/\d{1,2}/\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b",  # dates
            rf"\b{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?\b",  # December 24th
            rf"\b\d{{1,2}}(?:st|nd|rd|th)? (?:of )?{_MONTH}\b",  # 24th of December
            r"\b(?:Mr|Mrs|Ms|Miss|Dr)\.? [A-Z][a-z]+",  # Ms. Hawkings
        ]
    ),
    re.IGNORECASE,
)
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")


def _key(specific: str) -> str:
    return re.sub(r"[^0-9a-z]", "", specific.lower())


def find_specifics(text: str) -> list[str]:
    """The specifics written out in `text` (placeholders like {{Order Number}} are not)."""
    text = _PLACEHOLDER.sub(" ", text)
    found: dict[str, None] = {}  # in order, each once (a list's `in` was quadratic in them)
    for match in SPECIFIC.finditer(text):
        if specific := match.group(0).strip():
            found[specific] = None
    return list(found)


def unsupported(text: str, allowed: Iterable[str]) -> list[str]:
    """Specifics of `text` that none of the allowed texts states."""
    known = " ".join(_key(source) for source in allowed)
    return [s for s in find_specifics(text) if _key(s) and _key(s) not in known]


# From the start of a run of address characters ((?<!…)), not from each word boundary inside
# it: from every one, `[\w.+-]+@` re-read the rest of the run (0.8 s for 20 kB of "a.a.a…").
EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_GREETING_NAME = re.compile(r"^\s*(hi|hello|hey|dear)\s+[A-Z][a-z]+\b", re.IGNORECASE)
_HANDLE = re.compile(r"@\w+")
_MONEY = re.compile(r"[$€£]|\b(?:usd|eur|gbp|dollars|euros|pounds)\b", re.IGNORECASE)


def generalise(text: str) -> str:
    """The text without a customer's personal data, for what the learning loop keeps: e-mail
    addresses, @handles, phone, order and reference numbers, titled names and the name in a
    greeting become neutral words; amounts stay (a fee is policy, not personal data)."""
    text = EMAIL.sub("[e-mail]", text)
    text = _HANDLE.sub("", text)
    text = _GREETING_NAME.sub(lambda match: match.group(1), text)
    for specific in find_specifics(text):
        if not _MONEY.search(specific):
            text = text.replace(
                specific, "[number]" if any(c.isdigit() for c in specific) else "[name]"
            )
    return " ".join(text.split())
