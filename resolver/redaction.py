"""Personal data recognisers and reversible redaction (#18, first step: not wired in yet).

`find(text)` returns the e-mail addresses, phone numbers, payment card numbers (Luhn-checked),
IBANs (mod-97-checked), street addresses and, when asked, person names in a text. A `Redactor`
replaces them by typed placeholders (`[EMAIL_1]`, `[PHONE_2]`, ...) that stay the same for the
same value within one conversation, and restores them in text that echoes a placeholder (what a
model writes back). Order numbers, amounts, dates and times are left alone: the facts need them.
No model and nothing fetched: patterns and checksums only."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"
IBAN = "IBAN"
ADDRESS = "ADDRESS"
PERSON = "PERSON"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13-19 digits in groups of 1-6 separated by single spaces or dashes.
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b")
# A phone number: an optional +country code, then digit groups (brackets, spaces, dots, dashes),
# 7 to 15 digits in all. Not inside a word or an id ("NW-10001"), not a date or a time.
_PHONE = re.compile(
    r"(?<![\w/:.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?"
    r"\d{2,4}(?:[ .-]?\d{2,4}){1,4}(?![\w/:-])"
)
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
    r"terrace|square|sq|parkway|pkwy|highway|hwy|close|crescent|strasse|straße|rue|calle|via"
)
_ADDRESS = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?\s+(?:[A-Z][\w'-]*\.?\s+){{1,4}}(?:{_STREET_TYPES})\b\.?"
    r"(?:,?\s+(?:apt|apartment|suite|unit|flat)\.?\s*#?\w+)?",
    re.IGNORECASE,
)
# Names where they can be found: after a self-introduction or a title, or a sign-off line.
# The cue words in any case; the name itself capitalised (case matters there).
_PERSON = re.compile(
    r"(?:\b(?i:my name is|i am|i'm|this is|name:)\s+|\b(?i:mr|mrs|ms|miss|dr)\.?\s+)"
    r"(?P<name>[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+){0,2})"
    r"|(?:^|\n)\s*(?i:thanks|thank you|regards|best|cheers|sincerely),?\s*\n\s*"
    r"(?P<signed>[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+)?)\s*$",
    re.MULTILINE,
)
# Words after "I'm" that are not names ("I'm Unhappy" when capitalised, "I am Sorry").
_NOT_NAMES = frozenset(
    re.split(
        r"\s+",
        "a an the not so very still just really unhappy happy sorry angry upset waiting trying "
        "looking writing calling having getting going sure afraid here there",
    )
)


@dataclass(frozen=True)
class Finding:
    kind: str
    start: int
    end: int
    value: str


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _cards(text: str) -> list[Finding]:
    found = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.append(Finding(CARD, m.start(), m.end(), m.group()))
    return found


def _ibans(text: str) -> list[Finding]:
    return [
        Finding(IBAN, m.start(), m.end(), m.group())
        for m in _IBAN.finditer(text)
        if iban_valid(m.group())
    ]


def _phones(text: str) -> list[Finding]:
    found = []
    for m in _PHONE.finditer(text):
        value = m.group().strip()
        digits = re.sub(r"\D", "", value)
        if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(value):
            continue
        # A bare run of digits without +, brackets or separators is an id (an order number).
        if value.isdigit() and len(digits) < 10:
            continue
        found.append(Finding(PHONE, m.start(), m.start() + len(value), value))
    return found


def _people(text: str) -> list[Finding]:
    found = []
    for m in _PERSON.finditer(text):
        group = "name" if m.group("name") else "signed"
        name = m.group(group)
        words = name.split()
        while words and words[-1].lower() in _NOT_NAMES:
            words.pop()
        if not words or words[0].lower() in _NOT_NAMES:
            continue
        value = " ".join(words)
        start = m.start(group)
        found.append(Finding(PERSON, start, start + len(value), value))
    return found


def find(text: str, *, names: bool = False) -> list[Finding]:
    """Non-overlapping findings, in text order; the checked kinds (card, IBAN) win overlaps."""
    candidates = [
        *_cards(text),
        *_ibans(text),
        *[Finding(EMAIL, m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)],
        *[Finding(ADDRESS, m.start(), m.end(), m.group()) for m in _ADDRESS.finditer(text)],
        *_phones(text),
        *(_people(text) if names else []),
    ]
    chosen: list[Finding] = []
    for finding in candidates:  # priority order: earlier kinds win an overlap
        if all(finding.end <= c.start or finding.start >= c.end for c in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


_PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|IBAN|ADDRESS|PERSON)_(\d+)\]")


@dataclass
class Redactor:
    """Placeholders for one conversation: the same value gets the same placeholder each time."""

    names: bool = False
    by_value: dict[tuple[str, str], str] = field(default_factory=dict)
    by_placeholder: dict[str, str] = field(default_factory=dict)

    def _placeholder(self, finding: Finding) -> str:
        key = (finding.kind, finding.value)
        if key not in self.by_value:
            count = sum(1 for kind, _ in self.by_value if kind == finding.kind) + 1
            placeholder = f"[{finding.kind}_{count}]"
            self.by_value[key] = placeholder
            self.by_placeholder[placeholder] = finding.value
        return self.by_value[key]

    def redact(self, text: str) -> str:
        parts, last = [], 0
        for finding in find(text, names=self.names):
            parts += [text[last : finding.start], self._placeholder(finding)]
            last = finding.end
        return "".join([*parts, text[last:]])

    def restore(self, text: str) -> str:
        """Text with each known placeholder back to its value (unknown ones stay as they are)."""
        return _PLACEHOLDER.sub(lambda m: self.by_placeholder.get(m.group(0), m.group(0)), text)
