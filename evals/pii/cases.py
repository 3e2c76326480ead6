"""The PII test set (evals/pii/README.md): reading the cases and deciding whether a personal
value survived in a text (a prompt, a log line) or a keep value was mangled.

A value counts as leaked when any identifying part of it is still there, not only its exact
spelling: the local part of an e-mail address, the last 7 digits of a phone number (whatever the
separators), a card's digits, an IBAN's characters without spaces, an address's house number
and street name, any part of a person's name. A recogniser that replaces half a value leaks."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import unquote_plus

HERE = Path(__file__).resolve().parent
DATASETS = HERE.parent.parent.parent / "shared" / "datasets"
PARTS = {"dev": HERE / "dev.jsonl", "heldout": HERE / "heldout.jsonl"}
KINDS = ("EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS", "PERSON")
TWEETS = "twcs/inbound_tweets.csv"
TWEET_SLOT = "⟦tweet⟧"  # where a case's template puts the tweet (its text is never stored)
_HANDLES = re.compile(r"^(?:@\w+\s+)+")


@dataclass(frozen=True)
class Case:
    id: str
    source: str  # twcs | bitext | written
    text: str
    pii: list[dict[str, str]] = field(default_factory=list)  # [{"type", "value"}]
    keep: list[str] = field(default_factory=list)


def render_tweet(ref: dict[str, object], tweet: str) -> str:
    """A tweet case's text: the tweet (with `insert` after its sentence ending at `split`) in
    the template; the tweet's leading @handles stay first, as in a reply thread."""
    if "split" in ref:
        cut = int(str(ref["split"]))
        tweet = f"{tweet[:cut]} {ref['insert']}{tweet[cut:]}"
    template = str(ref["template"])
    handles = _HANDLES.match(tweet)
    if handles and not template.startswith(TWEET_SLOT):
        lead = handles.group()
        return lead + template.replace(TWEET_SLOT, tweet[len(lead) :])
    return template.replace(TWEET_SLOT, tweet)


@cache
def _tweets(datasets: Path) -> dict[str, str]:
    path = datasets / TWEETS
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return {hashlib.sha1(text.encode()).hexdigest()[:12]: text for text in texts}


def load(part: str, datasets: Path = DATASETS) -> tuple[list[Case], int]:
    """(the part's cases, how many tweet cases were skipped: ../shared/datasets not found)."""
    cases, skipped = [], 0
    for line in PARTS[part].read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "header" in row:
            continue
        if "text_ref" in row:
            tweet = _tweets(datasets).get(row["text_ref"]["sha1"])
            if tweet is None:
                skipped += 1
                continue
            text = render_tweet(row["text_ref"], tweet)
        else:
            text = row["text"]
        cases.append(Case(row["id"], row["source"], text, row["pii"], row["keep"]))
    return cases, skipped


# --- what counts as a leak ------------------------------------------------------------------

_BETWEEN_DIGITS = re.compile(r"(?<=\d)[\s().+\-/]+(?=\d)")
_PARTICLES = frozenset({"de", "van", "von", "der", "da", "di", "le", "la", "del"})


def _phone_digits(value: str) -> str:
    main = re.split(r"\s*(?:ext\.?|x)\s*\d+$", value)[0]  # an extension is not the number
    return re.sub(r"\D", "", main)[-7:]


def _name_parts(value: str) -> list[str]:
    return [word for word in value.split() if word.lower() not in _PARTICLES]


def _street_core(value: str) -> str:
    """House number and the next word of the street line ("27 Baker" of "Flat 3, 27 Baker St")."""
    street = re.sub(r"^Flat\s+\w+,\s*", "", value)
    match = re.match(r"\d+[A-Za-z]?\s+\S+", street)
    return match.group() if match else street


def survives(kind: str, value: str, text: str) -> bool:
    """Whether any identifying part of the value is in the text."""
    if kind == "EMAIL":
        local = value.split("@")[0].lower()
        low = text.lower()
        return value.lower() in low or (len(local) >= 4 and local in low)
    if kind == "PHONE":
        return _phone_digits(value) in _BETWEEN_DIGITS.sub("", text)
    if kind == "CARD":
        return re.sub(r"\D", "", value) in _BETWEEN_DIGITS.sub("", text)
    if kind == "IBAN":
        return re.sub(r"\s", "", value).upper() in re.sub(r"\s", "", text).upper()
    if kind == "ADDRESS":
        squeezed = re.sub(r"\s+", " ", text).lower()
        return _street_core(value).lower() in squeezed
    if kind == "PERSON":
        return any(
            re.search(rf"(?<![\w'-]){re.escape(part)}(?![\w'-])", text)
            for part in _name_parts(value)
        )
    raise ValueError(kind)


def leaks(case: Case, *texts: str) -> list[dict[str, str]]:
    """The case's personal values with a part in any of the texts (also URL-decoded: a query
    string in an access log line)."""
    seen = [*texts, *(unquote_plus(t) for t in texts if "%" in t or "+" in t)]
    return [
        item for item in case.pii if any(survives(item["type"], item["value"], t) for t in seen)
    ]


def mangled(case: Case, text: str) -> list[str]:
    """The keep values (order numbers, amounts, dates, ids) that are not in the text as written."""
    return [value for value in case.keep if value not in text]


def ambiguous(text: str, pii: list[dict[str, str]]) -> bool:
    """Whether a value's identifying part also occurs in the text outside the value itself (a
    tweet that mentions "Costa" beside the name Costa): such a case could not be judged."""
    for item in pii:
        rest = text.replace(item["value"], " ")
        for other in pii:
            rest = rest.replace(other["value"], " ")
        if survives(item["type"], item["value"], rest):
            return True
    return False
