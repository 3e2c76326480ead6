"""Builds the PII test set (#18): customer messages with synthetic personal values in natural
places, and the order numbers, amounts, dates and ids the facts need, which must survive.

    .venv/bin/python evals/pii/generate.py        # rewrites evals/pii/dev.jsonl and heldout.jsonl

Deterministic (seeded) and standard library only. Carriers are real customer text: inbound
tweets (twcs, read from ../shared/datasets at run time: their licence allows evaluation, not
redistribution, so a case stores the tweet's sha1 and a template around it, never its text),
Bitext messages (CDLA-Sharing-1.0, redistributable with attribution: their text is stored, the
`{{Order Number}}`-style slots filled) and hand-written e-mail-like frames. The personal values
are synthetic: example.* and .example/.test domains, 555-01xx, Ofcom drama (07700 900xxx, 020 7946
0xxx) and ARCEP fiction (06 39 98 xx xx) numbers, Luhn-valid card numbers, mod-97-valid IBANs of
made-up banks, made-up streets and names.

The held-out part is made by *different* templates, names, streets and tweets (sha1 first hex
digit b-f) with its own seed: the recognisers are tuned on dev only (evals/pii/README.md)."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
import string
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from evals.pii.cases import TWEET_SLOT, TWEETS, ambiguous, render_tweet  # noqa: E402
from resolver.redaction import luhn_valid  # noqa: E402

DATASETS = HERE.parent.parent.parent / "shared" / "datasets"


# --- synthetic values ------------------------------------------------------------------------


def luhn_complete(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable")


def luhn_failing(rng: random.Random, length: int, prefix: str = "") -> str:
    """A digit id (an order number) that is *not* a valid card number."""
    while True:
        digits = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix)))
        if not luhn_valid(digits) and (prefix or digits[0] != "0"):
            return digits


def iban_with_check(country: str, bban: str) -> str:
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - number % 97:02d}{bban}"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(n))


def _letters(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(string.ascii_uppercase) for _ in range(n))


def group(text: str, size: int = 4, sep: str = " ") -> str:
    return sep.join(text[i : i + size] for i in range(0, len(text), size))


# --- the two parts' pools ---------------------------------------------------------------------


@dataclass
class Pools:
    """Everything one part draws from; dev and held-out share none of the carrier phrasings."""

    seed: int
    first: list[str]
    last: list[str]
    streets: list[str]
    street_types: list[str]
    cities: list[str]
    email_domains: list[str]
    phone_formats: list[Callable[[random.Random], str]]
    card_formats: list[Callable[[random.Random], str]]
    iban_countries: list[str]
    # Snippets per kind: (position, template). Position: start | any | end.
    snippets: dict[str, list[tuple[str, str]]]
    keep_snippets: list[tuple[str, Callable[[random.Random], str]]]
    frames: list[str]  # hand-written carriers with {body}
    fillers: list[str]  # what a hand-written message is about
    tweet_digits: str  # first hex digits of the tweets' sha1 this part uses
    # Names no cue announces ("Tell Priya Raman I said thanks"), and names written above or
    # before an address (an address block): the extra cases build_uncued adds.
    uncued: list[str] = field(default_factory=list)
    address_block: list[str] = field(default_factory=list)
    extra: dict[str, list[str]] = field(default_factory=dict)


# Phones (synthetic ranges). Each function returns one formatted number.
def us_phone(rng: random.Random) -> str:
    area, line = rng.choice(["415", "212", "646", "303", "617", "206"]), f"01{_digits(rng, 2)}"
    return rng.choice(
        [
            f"({area}) 555-{line}",
            f"{area}-555-{line}",
            f"{area}.555.{line}",
            f"+1 {area} 555 {line}",
            f"+1-{area}-555-{line}",
            f"1 ({area}) 555-{line}",
            f"{area}555{line}",
            f"555-{line}",
        ]
    )


def uk_phone(rng: random.Random) -> str:
    tail = f"900{_digits(rng, 3)}"
    london = f"0{_digits(rng, 3)}"
    return rng.choice(
        [
            f"07700 {tail}",
            f"07700{tail}",
            f"+44 7700 {tail}",
            f"+44 (0)20 7946 {london}",
            f"020 7946 {london}",
            f"0161 496 {london}",
            f"+447700{tail}",
        ]
    )


def de_phone(rng: random.Random) -> str:
    return rng.choice(
        [
            f"+49 30 {_digits(rng, 8)}",
            f"+49 (0)151 {_digits(rng, 4)} {_digits(rng, 4)}",
            f"030 {_digits(rng, 7)}",
            f"0151 {_digits(rng, 8)}",
            f"+49-89-{_digits(rng, 7)}",
        ]
    )


def fr_phone(rng: random.Random) -> str:
    a, b = _digits(rng, 2), _digits(rng, 2)
    return rng.choice(
        [
            f"06 39 98 {a} {b}",
            f"06.39.98.{a}.{b}",
            f"+33 6 39 98 {a} {b}",
            f"+33 (0)6 39 98 {a} {b}",
            f"063998{a}{b}",
        ]
    )


def other_phone(rng: random.Random) -> str:
    """Held-out only: countries and forms dev never shows."""
    return rng.choice(
        [
            f"+31 6 {_digits(rng, 8)}",
            f"+34 612 {_digits(rng, 3)} {_digits(rng, 3)}",
            f"+353 87 {_digits(rng, 3)} {_digits(rng, 4)}",
            f"+61 4{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
            f"+1 (617) 555-01{_digits(rng, 2)} ext. 2{_digits(rng, 2)}",
            f"+39 347 {_digits(rng, 7)}",
        ]
    )


def written_as(style: int, digits: str) -> str:
    """A card number in fours with spaces (0) or dashes (1), or bare (2)."""
    return [group(digits), group(digits, 4, "-"), digits][style]


def visa(rng: random.Random) -> str:
    style = rng.randrange(3)  # drawn before the number: the committed set stays as generated
    return written_as(style, luhn_complete(rng, "4", 16))


def mastercard(rng: random.Random) -> str:
    number = luhn_complete(rng, rng.choice(["51", "52", "53", "54", "55"]), 16)
    return written_as(rng.randrange(3), number)


def amex(rng: random.Random) -> str:
    d = luhn_complete(rng, rng.choice(["34", "37"]), 15)
    return rng.choice([f"{d[:4]} {d[4:10]} {d[10:]}", f"{d[:4]}-{d[4:10]}-{d[10:]}", d])


def discover(rng: random.Random) -> str:
    style = rng.randrange(2)
    return written_as(style * 2, luhn_complete(rng, "6011", 16))


def iban(rng: random.Random, country: str) -> str:
    bban = {
        "DE": lambda: _digits(rng, 18),
        "GB": lambda: _letters(rng, 4) + _digits(rng, 14),
        "FR": lambda: _digits(rng, 10) + _digits(rng, 11) + _digits(rng, 2),
        "NL": lambda: _letters(rng, 4) + _digits(rng, 10),
        "ES": lambda: _digits(rng, 20),
        "IT": lambda: _letters(rng, 1) + _digits(rng, 10) + _digits(rng, 12),
        "BE": lambda: _digits(rng, 12),
        "CH": lambda: _digits(rng, 17),
    }[country]()
    value = iban_with_check(country, bban)
    spaced = group(value)
    return rng.choice([value, spaced, spaced, value.lower(), spaced.lower()])


# --- keep values (must survive unchanged) --------------------------------------------------------


def order_number(rng: random.Random) -> str:
    return rng.choice(
        [
            f"#A{_digits(rng, 5)}",
            f"ORD-{rng.choice(['2023', '2024', '2025'])}-{_digits(rng, 6)}",
            f"{_digits(rng, 3)}-{_digits(rng, 7)}-{_digits(rng, 7)}",  # marketplace style
            luhn_failing(rng, rng.choice([10, 12, 14, 16])),
            f"#{_digits(rng, 6)}",
            f"NW-{_digits(rng, 5)}",
        ]
    )


def tracking_number(rng: random.Random) -> str:
    return rng.choice(
        [
            f"1Z{_letters(rng, 3)}{_digits(rng, 2)}{_digits(rng, 10)}",
            f"JD{_digits(rng, 18)}",
            group(f"9400{_digits(rng, 18)}"),
            f"{_letters(rng, 2)}{_digits(rng, 9)}GB",
        ]
    )


def amount(rng: random.Random) -> str:
    whole, cents = rng.randint(1, 2500), rng.randint(0, 99)
    return rng.choice(
        [
            f"${whole:,}.{cents:02d}",
            f"€{whole},{cents:02d}",
            f"£{whole}.{cents:02d}",
            f"{whole:,}.{cents:02d} EUR".replace(",", "."),
            f"USD {whole}",
            f"{whole} dollars",
            f"{whole:,},{cents:02d} €".replace(",", ".", 1) if whole >= 1000 else f"{whole},99 €",
        ]
    )


def date(rng: random.Random) -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.choice([2023, 2024, 2025])
    months = ["January", "February", "March", "April", "May", "June", "July", "August"]
    month = months[m % len(months)]
    suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(d, "th")
    return rng.choice(
        [
            f"{d:02d}/{m:02d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{month} {d}{suffix}",
            f"{d} {month} {y}",
            f"{d:02d}.{m:02d}.{y}",
            f"{m}/{d}",
        ]
    )


def time_of_day(rng: random.Random) -> str:
    h, m = rng.randint(7, 21), rng.choice([0, 15, 30, 45])
    return rng.choice([f"{h}:{m:02d}", f"{h % 12 or 12}:{m:02d}pm", f"{h % 12 or 12} am"])


def product_code(rng: random.Random) -> str:
    return rng.choice(
        [
            f"SKU {_digits(rng, 4)}-{_digits(rng, 2)}-{_digits(rng, 3)}",
            f"B0{_digits(rng, 1)}{_letters(rng, 2)}{_digits(rng, 1)}{_letters(rng, 4)}",
            f"WH-{_digits(rng, 4)}XM{_digits(rng, 1)}",
            f"EAN {luhn_failing(rng, 13, '40')}",
        ]
    )


def invoice_number(rng: random.Random) -> str:
    return rng.choice(
        [f"INV-{rng.choice(['2024', '2025'])}-{_digits(rng, 5)}", f"RE{_digits(rng, 8)}"]
    )


def version(rng: random.Random) -> str:
    return rng.choice(
        [
            f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
            f"iOS {rng.randint(15, 18)}.{rng.randint(0, 6)}.{rng.randint(1, 3)}",
            f"10.0.{_digits(rng, 5)}.{_digits(rng, 4)}",
        ]
    )


def reference(rng: random.Random) -> str:
    """A case, ticket or booking reference (the words around it come from the snippet)."""
    return rng.choice(
        [
            luhn_failing(rng, 8, "0"),
            f"#{_digits(rng, 6)}",
            f"{_letters(rng, 3)}{_digits(rng, 3)}",
            f"{_digits(rng, 1)}{_letters(rng, 5)}",
        ]
    )


def postcode(rng: random.Random) -> str:
    return rng.choice(["SW1A 1AA", "NW1 6XE", "10001", "94105", "75008", "10115", "EC1A 1BB"])


# --- the parts -----------------------------------------------------------------------------


def dev_pools() -> Pools:
    return Pools(
        seed=18_001,
        first=[
            "Maria",
            "Jonas",
            "Priya",
            "Tomasz",
            "Aisha",
            "Kenji",
            "Sofia",
            "Mateo",
            "Ingrid",
            "Oluwaseun",
            "Chloe",
            "Rafael",
            "Hannah",
            "Dmitri",
            "Leila",
            "Siobhan",
            "Marcus",
            "Yuki",
            "Fatima",
            "Lars",
            "Camille",
            "Diego",
            "Anouk",
            "Wei",
            "Beatriz",
            "Nikolai",
            "Amara",
            "Henrik",
            "Zainab",
            "Elena",
        ],
        last=[
            "Lopez",
            "Berg",
            "Raman",
            "Kowalski",
            "Okafor",
            "Tanaka",
            "Rossi",
            "Fernandez",
            "Johansson",
            "Adeyemi",
            "Dubois",
            "Silva",
            "Novak",
            "Petrov",
            "Haddad",
            "O'Brien",
            "McAllister",
            "Nakamura",
            "Hussain",
            "Lindqvist",
            "Moreau",
            "Ortega",
            "de Vries",
            "Zhang",
            "Costa",
            "Ivanova",
            "Mensah",
            "Larsen",
            "Smith-Jones",
            "Papadopoulos",
        ],
        streets=[
            "Maple",
            "Elm",
            "Oakwood",
            "Baker",
            "Willow",
            "Chestnut",
            "Harbor",
            "Linden",
            "Juniper",
            "Mill",
            "Kingsley",
            "Ashford",
            "Cedar",
            "Rosemary",
            "Highfield",
            "Orchard",
        ],
        street_types=[
            "Street",
            "St",
            "Avenue",
            "Ave",
            "Road",
            "Rd",
            "Drive",
            "Lane",
            "Blvd",
            "Court",
            "Way",
            "Close",
            "Crescent",
            "Gardens",
            "Grove",
            "Mews",
            "st",
            "street",
        ],
        cities=[
            "Springfield, IL 62704",
            "London NW1 6XE",
            "Manchester M1 1AE",
            "Portland, OR",
            "Leeds",
            "Austin TX 78701",
        ],
        email_domains=[
            "example.com",
            "example.org",
            "mail.example.net",
            "EXAMPLE.COM",
            "shop.example.co.uk",
            "family.example",
        ],
        phone_formats=[us_phone, us_phone, uk_phone, uk_phone, de_phone, fr_phone],
        card_formats=[visa, visa, mastercard, amex, discover],
        iban_countries=["DE", "GB", "FR", "NL"],
        snippets={
            "EMAIL": [
                ("any", "My email is {v}."),
                ("any", "reach me at {v}"),
                ("any", "You can email me ({v}) anytime."),
                ("any", "email: {v}"),
                ("start", "{v} here -"),
                ("any", "please send the receipt to {v}!"),
                ("end", "Contact: {v}"),
                ("any", "my account email is {v}, not the old one."),
                ("any", "I registered with email:{v}"),
            ],
            "PHONE": [
                ("any", "Call me on {v}."),
                ("any", "my number is {v}"),
                ("any", "You can text me at {v} after 5pm."),
                ("end", "Phone: {v}"),
                ("any", "the number on the account is {v}, please update it."),
                ("any", "(mobile {v})"),
                ("any", "I've been calling from {v} all morning."),
                ("end", "tel. {v}"),
            ],
            "CARD": [
                ("any", "I paid with my card {v}."),
                ("any", "card number {v} was charged twice"),
                ("any", "The charge on {v} is wrong."),
                ("any", "please refund to the card {v}"),
                ("any", "my Visa is {v}"),
                ("any", "cc: {v}, exp 04/27"),
            ],
            "IBAN": [
                ("any", "My IBAN is {v}."),
                ("any", "please wire the refund to {v}"),
                ("any", "bank account (IBAN): {v}"),
                ("any", "send the money to IBAN {v}, thanks"),
                ("any", "iban {v}"),
            ],
            "ADDRESS": [
                ("any", "I live at {v}, {city}."),
                ("any", "please ship it to {v}"),
                ("any", "my address is {v}, {city}"),
                ("any", "The parcel was left at {v} instead of my door."),
                ("any", "delivery address: {v}"),
                ("any", "I moved to {v} last month."),
            ],
            "PERSON": [
                ("start", "Hi, my name is {full}."),
                ("start", "Hello, this is {first}."),
                ("start", "I'm {first} and"),
                ("start", "My name's {full},"),
                ("any", "The order is under the name {full}."),
                ("any", "Name: {full}"),
                ("any", "my partner {first} placed the order"),
                ("any", "I spoke to {first} on the phone yesterday"),
                ("any", "Mr. {last} from your store promised a call back"),
                ("any", "account holder: {full}"),
                ("end", "Thanks, {first}"),
                ("end", "Thanks,\n{full}"),
                ("end", "- {first}"),
                ("end", "Regards,\n{full}"),
                ("end", "Cheers, {first}!"),
                ("end", "Best,\n{first}"),
            ],
        },
        keep_snippets=[
            ("order {v}", order_number),
            ("my order {v} is late", order_number),
            ("tracking {v}", tracking_number),
            ("it cost {v}", amount),
            ("I was charged {v}", amount),
            ("it was supposed to arrive on {v}", date),
            ("delivered {v} at {t}", date),
            ("item {v}", product_code),
            ("invoice {v}", invoice_number),
            ("app {v}", version),
            ("case {v}", reference),
            ("do you deliver to {v}?", postcode),
        ],
        frames=[
            "Hello,\n\n{body}\n",
            "Hi there, {body}",
            "Dear Customer Service,\n{body}\n",
            "{body}",
            "URGENT!!! {body}",
        ],
        fillers=[
            "My parcel never arrived and the tracking hasn't moved in a week.",
            "I want to return the shoes, they are too small.",
            "I was charged twice for the same order.",
            "Can you change the delivery address on my order?",
            "The item arrived broken, I need a replacement.",
            "How do I cancel my subscription?",
            "I never received the refund you promised.",
            "I can't log into my account since the update.",
        ],
        tweet_digits="0123456789a",
        uncued=[
            "{full} ordered it for me",
            "Tell {full} I said thanks.",
            "Can {first} pick it up instead?",
            "{full} is the one who paid.",
            "Please let {first} know when it ships.",
        ],
        address_block=["Ship to {full}, {address}.", "{full}\n{address}\n{city}"],
    )


def heldout_pools() -> Pools:
    return Pools(
        seed=18_002,
        first=[
            "Lucia",
            "Anders",
            "Deepa",
            "Piotr",
            "Ngozi",
            "Hiroshi",
            "Giulia",
            "Santiago",
            "Astrid",
            "Chinedu",
            "Margaux",
            "Joaquin",
            "Rebecca",
            "Sergei",
            "Yasmin",
            "Aoife",
            "Trevor",
            "Mei",
            "Khadija",
            "Sven",
            "Elodie",
            "Pablo",
            "Femke",
            "Li",
            "Carolina",
            "Vladimir",
            "Efua",
            "Magnus",
            "Hodan",
            "Stavros",
        ],
        last=[
            "Garcia",
            "Holm",
            "Iyer",
            "Wisniewski",
            "Eze",
            "Sato",
            "Bianchi",
            "Morales",
            "Nilsson",
            "Obi",
            "Laurent",
            "Pereira",
            "Horvat",
            "Volkov",
            "Khalil",
            "Gallagher",
            "MacLeod",
            "Watanabe",
            "Rahman",
            "Sandberg",
            "Girard",
            "Navarro",
            "van Dijk",
            "Chen",
            "Almeida",
            "Smirnova",
            "Asante",
            "Kristensen",
            "Warsame",
            "Georgiou",
        ],
        streets=[
            "Birch",
            "Sycamore",
            "Hawthorn",
            "Primrose",
            "Fairview",
            "Lakeside",
            "Windsor",
            "Clover",
            "Aspen",
            "Foxglove",
            "Redwood",
            "Thornbury",
            "Marigold",
            "Hillcrest",
            "Beacon",
            "Meadow",
        ],
        street_types=[
            "Street",
            "St.",
            "Avenue",
            "Road",
            "Drive",
            "Dr.",
            "Lane",
            "Boulevard",
            "Place",
            "Terrace",
            "Row",
            "Walk",
            "Hill",
            "Circle",
            "Trail",
            "Parkway",
        ],
        cities=[
            "Denver, CO 80202",
            "Bristol BS1 4DJ",
            "Edinburgh EH1 1YZ",
            "Seattle WA 98101",
            "Cardiff",
            "Boston, MA 02108",
        ],
        email_domains=[
            "example.net",
            "corp.example.com",
            "Example.Org",
            "test.example.com",
            "inbox.test",
            "example.com",
        ],
        phone_formats=[us_phone, uk_phone, de_phone, fr_phone, other_phone, other_phone],
        card_formats=[visa, mastercard, amex, discover, discover],
        iban_countries=["DE", "GB", "FR", "NL", "ES", "IT", "BE", "CH"],
        snippets={
            "EMAIL": [
                ("any", "Drop me a line at {v}"),
                ("any", "my e-mail address: {v}."),
                ("any", "Write back to {v} please"),
                ("start", "From: {v}\n"),
                ("any", "(my login is {v})"),
                ("end", "-- {v}"),
                ("any", "the confirmation went to <{v}> but never arrived"),
            ],
            "PHONE": [
                ("any", "Ring me: {v}"),
                ("any", "best number to reach me is {v}."),
                ("end", "Mob: {v}"),
                ("any", "please call back on {v}, I'm free all day"),
                ("any", "my phone number ({v}) isn't receiving the code"),
                ("any", "WhatsApp {v}"),
            ],
            "CARD": [
                ("any", "the payment on card {v} failed"),
                ("any", "Card: {v}"),
                ("any", "used my Mastercard {v} for this"),
                ("any", "refund it to {v} please."),
                ("any", "why did you charge {v} again?"),
            ],
            "IBAN": [
                ("any", "Account IBAN {v}"),
                ("any", "refund to my bank account {v} please"),
                ("any", "IBAN: {v}."),
                ("any", "pay into {v}"),
            ],
            "ADDRESS": [
                ("any", "Send the replacement to {v}, {city}."),
                ("any", "I'm at {v}"),
                ("any", "our address: {v}, {city}"),
                ("any", "the courier went to {v} by mistake"),
                ("any", "new address is {v}"),
            ],
            "PERSON": [
                ("start", "{first} here,"),
                ("start", "Good morning, I am {full}."),
                ("start", "It's {first} again."),
                ("any", "the parcel is addressed to {full}"),
                ("any", "booked in the name of {full}"),
                ("any", "your colleague {first} told me to wait"),
                ("any", "Mrs {last} at the counter was rude"),
                ("any", "contact person: {full}"),
                ("any", "it's a gift for my kid {first}"),
                ("end", "Kind regards,\n{full}"),
                ("end", "Yours,\n{first}"),
                ("end", "Thank you, {full}"),
                ("end", "— {first}"),
                ("end", "Many thanks\n{first} {last}"),
            ],
        },
        keep_snippets=[
            ("regarding order {v}", order_number),
            ("order no. {v}", order_number),
            ("the parcel {v} is stuck", tracking_number),
            ("total was {v}", amount),
            ("refund of {v}", amount),
            ("ordered on {v}", date),
            ("due {v} by {t}", date),
            ("product {v}", product_code),
            ("for invoice {v}", invoice_number),
            ("on {v}", version),
            ("re ticket {v}", reference),
            ("is {v} in your delivery area?", postcode),
        ],
        frames=[
            "Good afternoon,\n{body}\n",
            "Hey, {body}",
            "To whom it may concern: {body}",
            "{body}",
        ],
        fillers=[
            "The package shows delivered but it's not here.",
            "I need to exchange a jacket for a bigger size.",
            "There's a charge on my statement I don't recognise.",
            "Please update the shipping details before it ships.",
            "The blender stopped working after two days.",
            "I'd like to close my account.",
            "Where is the money you said you'd send back?",
            "The password reset link doesn't work.",
        ],
        tweet_digits="bcdef",
        uncued=[
            "{full} will collect the parcel.",
            "Is {first} allowed to sign for it?",
            "I bought it as a gift for {full}.",
            "{first} says the box was empty.",
        ],
        address_block=["Deliver to: {full}, {address}, {city}", "{full} {address} {city}"],
    )


# --- assembling a case ---------------------------------------------------------------------------


@dataclass
class Draft:
    start: list[str] = field(default_factory=list)
    middle: list[str] = field(default_factory=list)
    end: list[str] = field(default_factory=list)
    pii: list[dict[str, Any]] = field(default_factory=list)
    keep: list[str] = field(default_factory=list)


def person(rng: random.Random, pools: Pools) -> tuple[str, str, str]:
    first, last = rng.choice(pools.first), rng.choice(pools.last)
    return first, last, f"{first} {last}"


def ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def address(rng: random.Random, pools: Pools) -> str:
    number = str(rng.randint(1, 4999)) + rng.choice(["", "", "", "", "B", "a"])
    street = f"{rng.choice(pools.streets)} {rng.choice(pools.street_types)}"
    if rng.random() < 0.15:  # a numbered street with a direction
        direction, kind = rng.choice(["W", "E", "N"]), rng.choice(["St", "Street"])
        street = f"{direction} {ordinal(rng.randint(2, 99))} {kind}"
    value = f"{number} {street}"
    unit = rng.random()
    if unit < 0.15:
        value += f", Apt {rng.randint(1, 40)}{rng.choice('ABCD')}"
    elif unit < 0.25:
        value += f" Unit {rng.randint(1, 300)}"
    elif unit < 0.3:
        value = f"Flat {rng.randint(1, 12)}, {value}"
    elif unit < 0.35:
        value += f", Suite {rng.randint(100, 900)}"
    return value


def pii_value(rng: random.Random, pools: Pools, kind: str) -> tuple[str, dict[str, str]]:
    """(the value, format variables) of one kind."""
    if kind == "EMAIL":
        first, last, _ = person(rng, pools)
        first, last = first.lower(), re.sub(r"[^a-z]", "", last.lower())
        local = rng.choice(
            [
                f"{first}.{last}",
                f"{first}{rng.randint(1, 99)}",
                f"{first}+orders",
                f"{first[0]}{last}",
                f"{first}_{last}",
                f"{first.upper()}.{last.upper()}",
            ]
        )
        return f"{local}@{rng.choice(pools.email_domains)}", {}
    if kind == "PHONE":
        return rng.choice(pools.phone_formats)(rng), {}
    if kind == "CARD":
        return rng.choice(pools.card_formats)(rng), {}
    if kind == "IBAN":
        return iban(rng, rng.choice(pools.iban_countries)), {}
    if kind == "ADDRESS":
        return address(rng, pools), {"city": rng.choice(pools.cities)}
    raise ValueError(kind)


def add_pii(rng: random.Random, pools: Pools, draft: Draft, kind: str) -> None:
    position, template = rng.choice(pools.snippets[kind])
    # One greeting and one sign-off per message: a taken place draws an in-text snippet.
    while (position == "start" and draft.start) or (position == "end" and draft.end):
        position, template = rng.choice(pools.snippets[kind])
    if kind == "PERSON":
        first, last, full = person(rng, pools)
        text = template.format(first=first, last=last, full=full)
        used = [
            name
            for key, name in (("{first}", first), ("{last}", last), ("{full}", full))
            if key in template
        ]
        if "{first} {last}" in template:
            used = [full]
        for name in used:
            draft.pii.append({"type": "PERSON", "value": name})
    else:
        value, variables = pii_value(rng, pools, kind)
        text = template.format(v=value, **variables)
        draft.pii.append({"type": kind, "value": value})
    if position == "start" and not draft.start:
        draft.start.append(text)
    elif position == "end" and not draft.end:
        draft.end.append(text)
    else:
        draft.middle.append(text.rstrip("\n"))


def add_keep(rng: random.Random, pools: Pools, draft: Draft) -> None:
    template, make = rng.choice(pools.keep_snippets)
    value = make(rng)
    t = time_of_day(rng)
    draft.middle.append(template.format(v=value, t=t))
    draft.keep.append(value)
    if "{t}" in template:
        draft.keep.append(t)


def plan(rng: random.Random, pools: Pools, draft: Draft) -> None:
    count = rng.choices([0, 1, 2, 3], weights=[15, 40, 30, 15])[0]
    kinds = ["EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS", "PERSON", "PERSON"]
    for _ in range(count):
        add_pii(rng, pools, draft, rng.choice(kinds))
    for _ in range(rng.choices([0, 1, 2], weights=[35, 45, 20])[0] or (0 if count else 1)):
        add_keep(rng, pools, draft)


def sentence(text: str) -> str:
    """A snippet as a sentence: capitalised, ending with punctuation unless it is a sign-off."""
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?)\n:," else text + "."


def join(parts: list[str]) -> str:
    return " ".join(p for p in parts if p).replace(" \n", "\n").strip()


def end_part(rng: random.Random, draft: Draft) -> str:
    """A sign-off after the message: on the same line or its own."""
    return rng.choice([" ", "\n", "\n\n"]) + draft.end[0] if draft.end else ""


# --- carriers ---------------------------------------------------------------------------------


def tweets(pools: Pools) -> list[tuple[str, str]]:
    """(sha1, text) of the inbound tweets this part may use, in file order."""
    path = DATASETS / TWEETS
    with path.open(newline="", encoding="utf-8") as handle:
        texts = list(dict.fromkeys(row["text"] for row in csv.DictReader(handle)))
    chosen = []
    for text in texts:
        sha = hashlib.sha1(text.encode()).hexdigest()
        if sha[0] in pools.tweet_digits and 30 <= len(text) <= 260 and TWEET_SLOT not in text:
            chosen.append((sha, text))
    return chosen


def bitext(pools: Pools) -> list[str]:
    """Bitext messages; dev and held-out take different template families (every other intent
    row by a hash of the text, so a template's siblings do not straddle the parts)."""
    with (DATASETS / "bitext" / "intents_train.csv").open(newline="", encoding="utf-8") as handle:
        rows = [row["text"] for row in csv.DictReader(handle)]
    want_dev = pools.tweet_digits.startswith("0")
    out = []
    for text in rows:
        family = re.sub(r"\{\{[^}]+\}\}|\W+", " ", text.lower()).split()[:3]
        bucket = int(hashlib.sha1(" ".join(family).encode()).hexdigest(), 16) % 10
        if (bucket < 7) == want_dev:
            out.append(text)
    return out


def fill_bitext(rng: random.Random, pools: Pools, text: str, draft: Draft) -> str:
    """Bitext's slots: order/invoice numbers and amounts are keep values; a person name is a
    (cue-less) personal value; the rest get plain words."""

    def slot(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "Order Number":
            value = order_number(rng)
            draft.keep.append(value)
        elif name == "Invoice Number":
            value = invoice_number(rng)
            draft.keep.append(value)
        elif name == "Refund Amount":
            value = str(rng.randint(5, 900))
        elif name == "Currency Symbol":
            value = rng.choice(["$", "€", "£"])
        elif name == "Person Name":
            _, _, value = person(rng, pools)
            draft.pii.append({"type": "PERSON", "value": value})
        elif name in ("Delivery City", "Delivery Country"):
            value = rng.choice(["Lisbon", "Canada", "Ohio", "Spain", "Dublin"])
        else:
            value = rng.choice(["premium", "gold", "standard", "business", "family"])
        return value

    filled = re.sub(r"\{\{([^}]+)\}\}", slot, text)
    # Amounts the slots made ("$120", "€45") must survive too.
    draft.keep.extend(m.group() for m in re.finditer(r"[$€£]\d+", filled))
    return filled


_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z@])")


def tweet_case(rng: random.Random, sha: str, tweet: str, draft: Draft) -> dict[str, object]:
    """The text_ref of a tweet case: a template around the tweet and, half the time when the
    tweet has more than one sentence, the middle snippets inserted after one of its sentences."""
    middle = [sentence(s) for s in draft.middle]
    ends = [m.end() for m in _SENTENCE_END.finditer(tweet)]
    ref: dict[str, object] = {"dataset": TWEETS, "sha1": sha[:12]}
    if middle and ends and rng.random() < 0.5:
        ref["split"], ref["insert"] = rng.choice(ends), " ".join(middle)
        middle = []
    start = [sentence(s) for s in draft.start]
    ref["template"] = join([*start, TWEET_SLOT, *middle]) + end_part(rng, draft)
    return ref


@dataclass
class Carriers:
    """What is left to draw from: (sha1, text) of tweets, Bitext messages."""

    tweets: list[tuple[str, str]]
    bitext: list[str]


def build_case(
    rng: random.Random, pools: Pools, source: str, carriers: Carriers
) -> dict[str, object]:
    draft = Draft()
    case: dict[str, object] = {"source": source}
    if source == "bitext":
        carrier = fill_bitext(rng, pools, carriers.bitext.pop(), draft)
    elif source == "written":
        carrier = rng.choice(pools.fillers)
    plan(rng, pools, draft)
    if source == "twcs":
        sha, tweet = carriers.tweets.pop()
        case["text_ref"] = ref = tweet_case(rng, sha, tweet, draft)
        text = render_tweet(ref, tweet)
    else:
        middle = [sentence(s) for s in draft.middle]
        rng.shuffle(middle)
        body = join([*[sentence(s) for s in draft.start], sentence(carrier), *middle])
        if source == "written":
            body = rng.choice(pools.frames).format(body=body).strip()
        case["text"] = text = body + end_part(rng, draft)
    case["pii"], case["keep"] = draft.pii, list(dict.fromkeys(draft.keep))
    case["_text"] = text
    return case


def build_part(pools: Pools, size: int, prefix: str) -> list[dict[str, object]]:
    rng = random.Random(pools.seed)
    tweet_rows = tweets(pools)
    rng.shuffle(tweet_rows)
    bitext_rows = bitext(pools)
    rng.shuffle(bitext_rows)
    carriers = Carriers(tweet_rows, bitext_rows)
    cases: list[dict[str, object]] = []
    while len(cases) < size:
        source = rng.choices(["twcs", "bitext", "written"], weights=[45, 35, 20])[0]
        case = build_case(rng, pools, source, carriers)
        text = str(case.pop("_text"))
        pii = case["pii"]
        assert isinstance(pii, list)
        # A value whose part also occurs elsewhere in the text (a tweet naming "Costa" beside
        # the name Costa) could not be judged: draw again.
        if ambiguous(text, pii):
            continue
        assert all(item["value"] in text for item in pii), text
        assert all(str(value) in text for value in case["keep"]), text  # type: ignore[attr-defined]
        cases.append({"id": f"{prefix}-{len(cases) + 1:04d}", **case})
    return cases


def build_uncued(pools: Pools, size: int, prefix: str, first: int) -> list[dict[str, object]]:
    """Cases with a name no cue announces (its pii item says `"cue": false`) or a name in an
    address block; a seed of their own, so the other cases stay as they were."""
    rng = random.Random(pools.seed + 1)
    cases: list[dict[str, object]] = []
    while len(cases) < size:
        draft = Draft()
        f, _, full = person(rng, pools)
        block = len(cases) % 3 == 2
        if block:
            street, city = address(rng, pools), rng.choice(pools.cities)
            template = rng.choice(pools.address_block)
            sentence_ = template.format(full=full, address=street, city=city)
            draft.pii += [{"type": "PERSON", "value": full}, {"type": "ADDRESS", "value": street}]
        else:
            template = rng.choice(pools.uncued)
            sentence_ = template.format(full=full, first=f)
            name = full if "{full}" in template else f
            draft.pii.append({"type": "PERSON", "value": name, "cue": False})
        plan(rng, pools, draft)
        carrier = sentence(rng.choice(pools.fillers))
        middle = [sentence(x) for x in draft.middle]
        body = join([*[sentence(x) for x in draft.start], carrier, sentence(sentence_), *middle])
        text = rng.choice(pools.frames).format(body=body).strip() + end_part(rng, draft)
        if ambiguous(text, draft.pii):
            continue
        assert all(item["value"] in text for item in draft.pii), text
        case: dict[str, object] = {"id": f"{prefix}-{first + len(cases):04d}"}
        case.update(source="written", text=text, pii=draft.pii)
        case["keep"] = list(dict.fromkeys(draft.keep))
        cases.append(case)
    return cases


LIMIT = (
    500  # the prompt quotes an earlier turn up to this many characters (agents/providers/chat.py)
)


def build_long(pools: Pools, size: int, prefix: str, first: int) -> list[dict[str, object]]:
    """Long messages (several Bitext requests in one) with a personal value across character
    500, where the prompt cuts an earlier turn: a value cut in half must not get through."""
    rng = random.Random(pools.seed + 2)
    requests = bitext(pools)
    rng.shuffle(requests)
    kinds = ["EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS", "PERSON"]
    cases: list[dict[str, object]] = []
    while len(cases) < size:
        draft = Draft()
        add_pii(rng, pools, draft, kinds[len(cases) % len(kinds)])
        snippet = sentence((draft.start + draft.middle + draft.end)[0])
        value = draft.pii[-1]["value"]
        if value not in snippet:  # capitalised as a sentence's start ("Maria.lopez@..."): again
            continue
        offset = snippet.index(value)
        head: list[str] = []
        while len(join(head)) + 1 + offset + len(value) // 2 < LIMIT:
            head.append(sentence(fill_bitext(rng, pools, requests.pop(), draft)))
        text = join(head[:-1])
        start = len(text) + 1 + offset
        if not start < LIMIT - 2 < start + len(value) - 2:
            continue  # draw again: the value must straddle the cut
        text = f"{text} {snippet}"
        if ambiguous(text, draft.pii) or not all(i["value"] in text for i in draft.pii):
            continue
        draft.keep = [k for k in draft.keep if k in text]
        case: dict[str, object] = {"id": f"{prefix}-{first + len(cases):04d}"}
        case.update(source="bitext", text=text, pii=[i for i in draft.pii if i["value"] in text])
        case["keep"] = list(dict.fromkeys(draft.keep))
        cases.append(case)
    return cases


HEADER = {
    "what": "PII test set (#18): synthetic personal values in real customer text; every value "
    "must be replaced before a prompt leaves or a log line is written, every keep value must "
    "survive unchanged",
    "generator": "evals/pii/generate.py (seeded; do not edit the .jsonl by hand)",
    "sources": {
        "twcs": "Customer Support on Twitter (Thought Vector), CC BY-NC-SA 4.0: text read from "
        "../shared/datasets/twcs/inbound_tweets.csv at run time (text_ref), never stored here",
        "bitext": "Bitext customer-support corpus, CDLA-Sharing-1.0 (Bitext Innovations); "
        "messages stored with their slots filled",
        "written": "hand-written frames",
    },
}


def write(path: Path, part: str, cases: list[dict[str, object]]) -> None:
    header = {**HEADER, "part": part, "cases": len(cases)}
    lines = [json.dumps({"header": header}, ensure_ascii=False)]
    lines += [json.dumps(case, ensure_ascii=False) for case in cases]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main() -> int:
    if not (DATASETS / TWEETS).exists():
        print(f"{DATASETS}: datasets not found", file=sys.stderr)
        return 1
    dev, held = dev_pools(), heldout_pools()
    dev_cases = build_part(dev, 360, "dev") + build_uncued(dev, 30, "dev", 361)
    write(HERE / "dev.jsonl", "dev", dev_cases + build_long(dev, 12, "dev", 391))
    held_cases = build_part(held, 160, "held") + build_uncued(held, 15, "held", 161)
    write(HERE / "heldout.jsonl", "heldout", held_cases + build_long(held, 6, "held", 176))
    return 0


if __name__ == "__main__":
    sys.exit(main())
