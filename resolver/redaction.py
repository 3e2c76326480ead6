"""Personal data recognisers and reversible redaction: what keeps a customer's personal data out
of an LLM's prompt (agents/providers/chat.py) and out of every log line, exported span, dead
letter and webhook preview (resolver/logs.py:scrub).

`find(text)` returns the e-mail addresses, phone numbers, payment card numbers (Luhn-checked),
IBANs (mod-97-checked), street addresses and, when asked, person names in a text. A `Redactor`
replaces them by typed placeholders (`[EMAIL_1]`, `[PHONE_2]`, ...) that stay the same for the
same value within one conversation, and restores them in text that echoes a placeholder (what a
model writes back). Order numbers, amounts, dates and times are left alone: the facts need them.
No model and nothing fetched: patterns and checksums only."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"
IBAN = "IBAN"
ADDRESS = "ADDRESS"
PERSON = "PERSON"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13-19 digits in groups separated by single spaces or dashes; a whole digit sequence, not the
# head of a longer one (a 22-digit USPS tracking number in groups of four).
_CARD = re.compile(r"(?<![\w-])(?<!\d[ -])\d(?:[ -]?\d){12,18}(?![\w-])(?![ -]\d)")
# How card numbers are written with separators: fours (Visa, Mastercard, Discover), 4-6-5 and
# 4-6-4 (Amex, Diners). A marketplace order number (114-3941689-8772232) is grouped otherwise.
_CARD_GROUPS = re.compile(r"^\d{4}(?:([ -])\d{4}(?:\1\d{4}(?:\1\d{1,7})?)?|([ -])\d{6}\2\d{4,5})$")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
# IBAN length per country (SWIFT's IBAN registry): a candidate is cut to its country's length,
# so a lower-case IBAN followed by words ("de89 3704 0044 0532 0130 00 please") still checks.
_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
# A phone number: an optional +country code, then digit groups, each after one space, dot or
# dash, or next to a bracketed group ("(415) 555-0142", "+44 (0)20 7946 0123"); a run of digits
# is never split (an order id is no phone plus a tail). An optional extension.
_PHONE_GROUP = r"(?:\(\d{1,5}\)|\d{1,12})"
_PHONE = re.compile(
    rf"(?<![\w/:.+#@-])(?:\+ ?)?{_PHONE_GROUP}(?:(?:[ .-]|(?<=\))|(?=\())[ ]?{_PHONE_GROUP}){{0,6}}"
    r"(?:[ ]?(?:ext\.?|x)[ ]?\d{1,5})?(?![\w/:-]|[.,]\d)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"[ ]?(?:ext\.?|x)[ ]?\d{1,5}$", re.IGNORECASE)
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$|^\d{1,2}[./-]\d{1,2}[./-]\d{2,4}$")
# A bare run of digits is a phone number only in the shapes phones have without separators:
# North American (10 digits, or 11 after a 1) or a national number with its trunk 0.
_BARE_PHONE = re.compile(r"^(?:1?[2-9]\d{2}[2-9]\d{6}|0\d{9,11})$")
# Words that make the number after them an id, not a phone or a card ("order 2412304218",
# "SKU 8587-98-576", "invoice no. 4111...").
_ID_CUE = re.compile(
    r"(?:\b(?:orders?|purchase|invoice|inv|bill|receipt|ref|reference|case|ticket|tracking|track"
    r"|parcel|shipment|item|sku|ean|upc|isbn|asin|model|part|serial|product|booking|reservation"
    r"|confirmation|code|account|acct|customer|member|membership|id)"
    r"(?:\s*(?:no\.?|nr\.?|number|num|#|id))?|\#)[\s.:#-]*$",
    re.IGNORECASE,
)
_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|terrace|ter|"
    r"crescent|cres|gardens|gdns|grove|mews|parkway|pkwy|highway|hwy|place|pl|square|sq|"
    r"cir|trail|trl|alley|causeway|esplanade|expressway|freeway|turnpike|wharf|"
    r"quay|strasse|straße|rue|calle|avenida"
)
# Street types that are also plain words ("3 days way too long"): only after capitalised names.
_STREET_WORDS = (
    r"Way|Close|Row|Walk|Hill|Park|Green|View|Point|Rise|Gate|Yard|Heights|Ridge|Loop|Circle|"
    r"Plaza|Via"
)
_UNIT = r"(?:apt|apartment|suite|ste|unit|flat|fl|floor|room|rm)\.?\s*#?\w+|#\w+"
_ADDRESS = re.compile(
    rf"(?:\b(?i:flat|apt|apartment|unit)\s*#?\w+,?\s+)?"
    rf"\b\d{{1,5}}[A-Za-z]?\s+"
    rf"(?:(?i:(?P<words>(?:(?:\d{{1,3}}(?:st|nd|rd|th)|[A-Z][\w'-]*)\.?\s+){{1,4}})"
    rf"(?:{_STREET_TYPES}))"
    rf"|(?P<named>(?:(?:\d{{1,3}}(?:st|nd|rd|th)|[A-Z][\w'-]*)\.?\s+){{1,4}})(?:{_STREET_WORDS}))"
    rf"\b\.?(?:,?\s+(?i:{_UNIT}))?"
)
_ABBREVIATED = frozenset(
    re.split(r"\s+", "st ave rd blvd ln dr ct ter cres gdns pkwy hwy pl sq cir trl apt ste fl rm")
)
# Lower-case words that make a number and a street type no address ("3 weeks on the road").
_NOT_STREET = frozenset(
    re.split(
        r"\s+",
        "a an the on in at to for of and or my your our his her their is was it this that by "
        "with from per days weeks months hours minutes times items orders",
    )
)

# Names where they can be found (the setting REDACT_PERSON_NAMES): after a cue, the cue in any
# case, the name capitalised (case matters there). A name: one to four capitalised words
# (O'Brien, McAllister, Smith-Jones, Siti Aisyah Binti Mohamad), particles between them (Leila
# de Vries), on one line.
_WORD = r"[A-Z][a-z]*(?:[A-Z][a-z]+)?(?:['\u2019-][A-Z][a-z]+)*"
_PARTICLE = r"(?:de|van|von|der|den|da|di|du|le|la|del|dos|bin|al|ter)[ \t]+"
_NAME = rf"(?P<name>{_WORD}(?:[ \t]+(?:{_PARTICLE})*{_WORD}){{0,3}})"
_CUES = (
    # Introductions: "my name is", "I'm", "this is", "name:".
    r"\b(?i:my\s+name\s+is|my\s+name's|name\s+is|i\s+am|i'm|i\u2019m|this\s+is|it's|it\s+is|call\s+me|"
    r"full\s+name|name)[ \t]*[:,-]?[ \t]+",
    # Titles.
    r"\b(?:[Mm]rs?|M[Ss]|MRS?|Ms|Miss|Mx|[Dd]r|DR|Sir|Madam|Mme|Herr|Frau)\.?[ \t]+",
    # Relations: "my wife Anna".
    r"\b(?i:my\s+(?:wife|husband|partner|son|daughter|child|kid|mother|mom|mum|father|dad|"
    r"brother|sister|friend|boyfriend|girlfriend|fianc[eé]e?|colleague|boss|neighbou?r|"
    r"grandmother|grandfather|grandma|grandpa|aunt|uncle|cousin|niece|nephew|flatmate|roommate|"
    r"landlord|landlady|tenant))[ \t]+",
    # Holders and addressees: "account holder: Maria Lopez", "in the name of", "addressed to".
    r"\b(?i:account\s+holder|card\s*holder|holder|in\s+the\s+name\s+of|under\s+the\s+name(?:\s+of)?|"
    r"under\s+name|name\s+on\s+the\s+(?:card|account|order|parcel)|addressed\s+to|"
    r"contact\s+person|recipient|attn|attention|c/o|signed\s+(?:for\s+)?by|booked\s+by|"
    r"ordered\s+by)[ \t]*[:,-]?[ \t]+",
    # People the customer dealt with: "I spoke to Hannah", "your driver Marcus".
    r"\b(?i:spoke\s+(?:to|with)|talked\s+(?:to|with)|chatted\s+with|speak\s+(?:to|with)|"
    r"ask\s+for|agent|rep|representative|employee|driver|courier|manager|colleague|"
    r"technician|advisor|adviser|cashier)[ \t]*[:,-]?[ \t]+",
    # Bills of someone (Bitext's "my bill from Jonas Lindqvist").
    r"\b(?i:bills?|invoices?|receipts?)\s+(?i:from|of|for|by)[ \t]+",
)
_CUED = re.compile(rf"(?:{'|'.join(_CUES)}){_NAME}")
# A greeting to a person ("Hi Sarah,") and a name before "here" at the start ("Maria here,").
# Both also where the text is quoted inside other text: after "customer: " in a prompt, a quote
# in a log line, a greeting ("Hey, Magnus here,").
# Horizontal space after the punctuation: a line's start is `^` (re.M), and `\s*` there read a
# run of blank lines again from each of its newlines (time quadratic in the run).
_OPENING = r"(?:^|[\n.!?:,;'\"(][^\S\n]*|@\w+\s+)"
_GREETED = re.compile(rf"{_OPENING}(?i:hi|hello|hey|dear)\s+{_NAME}(?=\s*,)", re.M)
_HERE = re.compile(rf"{_OPENING}{_NAME}(?=\s+here\s*[,.!:\n-])", re.M)
# Sign-offs: "Thanks, Maria", "Regards,\nMaria Lopez", "- John", at the end of a line or of a
# quoted text (a repr in a log line).
_SIGNED = re.compile(
    r"(?:(?:^|(?<=[\s.!?,]))(?i:thanks|thank\s+you|thx|ty|many\s+thanks|regards|kind\s+regards|"
    r"best\s+regards|warm\s+regards|best\s+wishes|best|cheers|sincerely|yours(?:\s+truly|"
    r"\s+sincerely|\s+faithfully)?|love|take\s+care|br)[ \t]*[,.!]?[ \t]*(?:\n[ \t]*)?"
    rf"|(?:^|(?<=\s))(?:-{{1,2}}|\u2014|\u2013|~)[ \t]*){_NAME}[ \t]*[.!]*[ \t]*(?=$|\n|['\"])",
    re.MULTILINE,
)
# A name right before an address, with a comma, a space or a line break between (not a
# @handle: "@ChipotleTweets 12509 Wayzata Blvd").
_BEFORE_ADDRESS = re.compile(rf"(?<![\w'@-]){_NAME}[ \t]*,?[ \t]*\n?[ \t]*$")
# Capitalised words after a cue that are not names ("I'm Unhappy", "This is Monday").
_NOT_NAMES = frozenset(
    re.split(
        r"\s+",
        "a an the not so very still just really unhappy happy sorry angry upset waiting trying "
        "looking writing calling having getting going sure afraid here there i you we they he "
        "she it this that what where when why how who which please thanks thank hi hello hey "
        "dear and or but is are was were can could would should will do does did have has had "
        "my your our their on in at to for from with of by as if ok okay yes no now today "
        "tomorrow yesterday again back done new old good great also all everyone guys folks "
        "customer service support team sir madam monday tuesday wednesday thursday friday "
        "saturday sunday january february march april may june july august september october "
        "november december best regards cheers love order account card help us better excited glad "
        "fine maybe then well lord god booking number same nothing everything someone anyone "
        "everybody nobody stuck",
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


def _id_before(text: str, start: int) -> bool:
    return bool(_ID_CUE.search(text[max(0, start - 30) : start]))


def _cards(text: str) -> list[Finding]:
    found = []
    for m in _CARD.finditer(text):
        value, digits = m.group(), re.sub(r"\D", "", m.group())
        if not (13 <= len(digits) <= 19 and luhn_valid(digits)):
            continue
        if not (value.isdigit() or _CARD_GROUPS.match(value)) or _id_before(text, m.start()):
            continue
        found.append(Finding(CARD, m.start(), m.end(), value))
    return found


def _ibans(text: str) -> list[Finding]:
    found = []
    for m in _IBAN.finditer(text):
        length = _IBAN_LENGTHS.get(m.group()[:2].upper())
        if length is None:
            continue
        # Cut the candidate after its country's number of characters (spaces not counted).
        seen, end = 0, m.start()
        for end in range(m.start(), m.end()):
            seen += text[end] != " "
            if seen == length:
                break
        end += 1
        if (
            seen == length
            and not text[end : end + 1].isalnum()
            and iban_valid(text[m.start() : end])
        ):
            found.append(Finding(IBAN, m.start(), end, text[m.start() : end]))
    return found


def _phones(text: str) -> list[Finding]:
    found = []
    for m in _PHONE.finditer(text):
        value = m.group().strip()
        number = _EXTENSION.sub("", value)
        digits = re.sub(r"\D", "", number)
        if not 7 <= len(digits) <= 15 or _DATE_LIKE.match(number):
            continue
        if number.isdigit() and not _BARE_PHONE.match(number):
            continue  # a bare run of digits in no phone shape: an id (an order number)
        groups = re.split(r"[ .-]+", number)
        if "." in number and any(len(g) == 1 for g in groups):
            continue  # a version or build number (10.0.19045.3693)
        if _id_before(text, m.start()):
            continue
        found.append(Finding(PHONE, m.start(), m.start() + len(value), value))
    return found


def _addresses(text: str) -> list[Finding]:
    found = []
    for m in _ADDRESS.finditer(text):
        words = (m.group("words") or m.group("named") or "").lower().split()
        if any(word.strip(".") in _NOT_STREET for word in words):
            continue
        value = m.group().rstrip()
        if value.endswith(".") and value[:-1].split()[-1].lower() not in _ABBREVIATED:
            value = value[:-1]  # the sentence's full stop, not an abbreviation's ("St.")
        found.append(Finding(ADDRESS, m.start(), m.start() + len(value), value))
    return found


def _people(text: str) -> list[Finding]:
    found = []
    for pattern in (_CUED, _GREETED, _HERE, _SIGNED):
        for m in pattern.finditer(text):
            words = m.group("name").split()
            while words and words[-1].lower() in _NOT_NAMES:
                words.pop()
            if not words or words[0].lower() in _NOT_NAMES or len(words[0]) < 2:
                continue
            value = " ".join(words)
            start = m.start("name")
            if text[start : start + len(value)] == value:
                found.append(Finding(PERSON, start, start + len(value), value))
    return found


# Names no cue announces ("Tell Priya Raman I said thanks"): a known first name, or a capitalised
# word before a known surname, written capitalised (resolver/data/build_name_lists.py: census
# names, less the words and brands the support corpora write, so "Will", "Chase", "Delta" are
# not taken). Read once, on first use.
_DATA = Path(__file__).parent / "data"
_CAPITALISED = re.compile(rf"(?<![\w@#'\u2019-]){_WORD}(?:[ \t]+(?:{_PARTICLE})*{_WORD}){{0,3}}")


# "in Austin", "near Denver": a place, whatever the census says.
_PLACE_BEFORE = re.compile(r"\b(?i:in|near|across|around|outside|inside|throughout)\s+$")


@functools.cache
def _name_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    def read(name: str) -> frozenset[str]:
        return frozenset((_DATA / name).read_text().split())

    return read("first_names.txt"), read("surnames.txt"), read("common_words.txt")


def _listed(text: str) -> list[Finding]:
    first, last, common = _name_lists()
    found = []
    for m in _CAPITALISED.finditer(text):
        words = m.group().split()
        lowered = [w.lower() for w in words]
        start = next(
            (
                i
                for i, w in enumerate(lowered)
                if w in first
                or (
                    i + 1 < len(words)
                    and lowered[i + 1] in last
                    and w not in common
                    and w not in _NOT_NAMES
                )
            ),
            None,
        )
        if start is None:
            continue
        name = words[start:]
        while name and (name[-1].lower() in common or name[-1].lower() in _NOT_NAMES):
            name.pop()
        begin = m.start() + m.group().index(words[start])
        if not name or _PLACE_BEFORE.search(text, max(0, begin - 20), begin):
            continue
        value = " ".join(name)
        if text[begin : begin + len(value)] == value:
            found.append(Finding(PERSON, begin, begin + len(value), value))
    return found


def _addressees(text: str, addresses: list[Finding]) -> list[Finding]:
    """The name written right before an address, on its line or the line above (an address
    block: "Ship to Maria Lopez, 12 Baker Street", "Doug Diamond 152 Discovery Rd")."""
    found = []
    for address in addresses:
        m = _BEFORE_ADDRESS.search(text, max(0, address.start - 80), address.start)
        if not m:
            continue
        words, start = m.group("name").split(), m.start("name")
        while words and words[0].lower() in _NOT_NAMES:  # "Hi Maria Lopez": the name after Hi
            start = text.index(words[1], start) if len(words) > 1 else start
            words.pop(0)
        while words and words[-1].lower() in _NOT_NAMES:
            words.pop()
        if words and len(words[0]) > 1:
            value = " ".join(words)
            if text[start : start + len(value)] == value:
                found.append(Finding(PERSON, start, start + len(value), value))
    return found


def find(text: str, *, names: bool = False) -> list[Finding]:
    """Non-overlapping findings, in text order; the checked kinds (IBAN, card) win overlaps, the
    IBAN first: its account number may pass Luhn by chance (gb96 ximl 0460 9477 8598 41)."""
    addresses = _addresses(text)
    candidates = [
        *_ibans(text),
        *_cards(text),
        *[Finding(EMAIL, m.start(), m.end(), m.group()) for m in _EMAIL.finditer(text)],
        *addresses,
        *_phones(text),
        *(_people(text) + _addressees(text, addresses) + _listed(text) if names else []),
    ]
    chosen: list[Finding] = []
    for finding in candidates:  # priority order: earlier kinds win an overlap
        if all(finding.end <= c.start or finding.start >= c.end for c in chosen):
            chosen.append(finding)
    return sorted(chosen, key=lambda f: f.start)


# Restored as their last four characters only (Redactor.restore).
MASKED = (CARD, IBAN)


def masked(value: str) -> str:
    """A card number or IBAN as a reply may show it: its last four characters ("•••• 1111",
    which reads right after "your card" and after "ending in")."""
    return "•••• " + "".join(c for c in value if c.isalnum())[-4:]


def mask_cards(text: str) -> str:
    """`text` with each card number and IBAN as its last four characters (`masked`), the rest as
    written: what a kept copy of the customer's words (a memory summary) may hold of them."""
    parts, last = [], 0
    for finding in find(text):
        if finding.kind in MASKED:
            parts += [text[last : finding.start], masked(finding.value)]
            last = finding.end
    return "".join([*parts, text[last:]])


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
        """Text with each known placeholder back to its value (unknown ones stay as they are); a
        card number or IBAN only as its last four characters (masked): a model that writes
        "your card [CARD_1]" must not put the whole number in a reply a customer's mailbox
        keeps, or in a summary an LLM writes for memory."""

        def value(match: re.Match[str]) -> str:
            found = self.by_placeholder.get(match.group(0))
            if found is None:
                return match.group(0)
            if match.group(1) in MASKED:
                return masked(found)
            return found

        return _PLACEHOLDER.sub(value, text)
