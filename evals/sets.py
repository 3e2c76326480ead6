"""Golden sets: JSON Lines under evals/sets/, one case per line (CONTRACTS.md, "Eval sets").

    {"id", "text" | "messages": [{"role": "customer|agent", "text"}], "customer_ref"?,
     "expect": {"status"?, "escalation_reason"?, "intent"?, "category"?, "kb_ids"?,
                "must_contain"?, "must_not_contain"?, "reference"?}}

Additions: a first line `{"header": {...}}` says what the set is and how it was labelled; a case
may carry `"tags"` (metrics are also broken down by tag) and `expect.sentiment`/`expect.urgency`;
instead of `text`, `"text_ref": {"dataset": "twcs/inbound_tweets.csv", "sha1": "<12+ hex>"}`
names a row of a dataset under ../shared/datasets whose licence forbids copying its text into
the product (the real tweets): the text is read from there at run time. A learning-curve set
(header `"kind": "learning_curve"`) has training cases with `"learn": {"topic", "answer"}` that a
scripted agent answers by hand (evals/learning_curve.py). A returning-customer case
(evals/scenarios.py) has, instead of `text`, the stored rows it runs on: `"customers"` (ref,
name, orders), `"earlier"` conversations (label, customer, channel, days_ago, status, intent,
summary, messages), and the new `"message"` ({customer, channel, verified, text}); its
`expect.earlier_used` lists the labels of the earlier conversations the draft should use. An
actions case (evals/sets/actions.jsonl, #27) is one too: its orders carry `total`, `refunded`,
`currency`, `placed_days_ago`, `shipping_address`; `expect.actions` lists the moves the draft
should propose ([] = none) and `expect.actions_refused` the ones a human would refuse.
`expect.acknowledged` (#28): whether a reader would thank the message (the acknowledgement
template); tag `agreed_praise`: two readers agreed it is praise to thank. `expect.asks_question`:
a complaint that also asks something, whose escalation must name the question for the agent.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from django.conf import settings

from knowledge.languages import UNDETERMINED, Language
from support.models import DraftStatus, EscalationReason, Sentiment, Urgency

SETS_DIR = Path(__file__).resolve().parent / "sets"
DATASETS = Path(settings.BASE_DIR).parent / "shared" / "datasets"
EXPECT_KEYS = {
    "status",
    "escalation_reason",
    "intent",
    "category",
    "kb_ids",
    "must_contain",
    "must_not_contain",
    "reference",
    "sentiment",
    "urgency",
    "earlier_used",
    "actions",
    # #31: the language the message is written in, and the one its suggestion must be in.
    "language",
    "answered_in",
    "actions_refused",
    "acknowledged",
    "asks_question",
}
ROLES = {"customer": "CUSTOMER", "agent": "AGENT"}
CASE_KEYS = {"id", "text", "messages", "text_ref", "customer_ref", "expect", "tags", "learn"}
SCENARIO_KEYS = {"customers", "earlier", "message"}


class SetError(ValueError):
    """A set that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Case:
    id: str
    text: str  # the customer message to draft a reply to
    history: list[dict[str, str]] = field(default_factory=list)  # earlier turns, oldest first
    customer_ref: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    # Learning-curve sets: {"topic", "answer"}: a scripted agent answers this case by hand.
    learn: dict[str, str] = field(default_factory=dict)
    # A stored message (shadow replay): its state is built from its rows (state_for_message).
    message_id: str | None = None
    # A returning-customer case: the rows it is run on (evals/scenarios.py).
    scenario: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalSet:
    name: str
    path: Path
    header: dict[str, Any]
    cases: list[Case]


def available_sets() -> list[str]:
    return sorted(path.stem for path in SETS_DIR.glob("*.jsonl"))


def resolve_path(name_or_path: str) -> Path:
    path = Path(name_or_path)
    if path.suffix == ".jsonl" or "/" in name_or_path:
        if not path.exists():
            raise SetError(f"{name_or_path}: no such file")
        return path
    named = SETS_DIR / f"{name_or_path}.jsonl"
    if not named.exists():
        raise SetError(f"no set named {name_or_path!r}; sets: {', '.join(available_sets())}")
    return named


@cache
def _dataset_rows(dataset: str) -> dict[str, str]:
    """sha1 of a row's text → the text, for a one-column (`text`) CSV under the datasets."""
    path = DATASETS / dataset
    if not path.exists():
        raise SetError(f"{path}: dataset not found (the real-text sets read it at run time)")
    with path.open(newline="") as handle:
        texts = [row["text"] for row in csv.DictReader(handle)]
    return {hashlib.sha1(text.encode()).hexdigest(): text for text in texts}


def text_of_ref(ref: Any) -> str:
    if not isinstance(ref, dict) or not {"dataset", "sha1"} <= ref.keys():
        raise ValueError('text_ref needs {"dataset", "sha1"}')
    prefix = str(ref["sha1"])
    if len(prefix) < 12:
        raise ValueError("text_ref.sha1 needs at least 12 hex digits")
    matches = [
        text for sha, text in _dataset_rows(str(ref["dataset"])).items() if sha.startswith(prefix)
    ]
    if len(matches) != 1:
        raise ValueError(f"text_ref {prefix} matches {len(matches)} rows of {ref['dataset']}")
    return matches[0]


def _check_expect(expect: Any) -> dict[str, Any]:
    if not isinstance(expect, dict):
        raise ValueError("expect must be an object")
    unknown = set(expect) - EXPECT_KEYS
    if unknown:
        raise ValueError(f"unknown expect keys: {', '.join(sorted(unknown))}")
    allowed = {
        "status": (DraftStatus.SUGGESTED, DraftStatus.ESCALATED),
        "escalation_reason": EscalationReason.values,
        "sentiment": Sentiment.values,
        "urgency": Urgency.values,
        "language": [*Language.values, UNDETERMINED],
        "answered_in": Language.values,
    }
    for key, values in allowed.items():
        if key in expect and expect[key] not in values:
            raise ValueError(f"expect.{key} {expect[key]!r} is not one of {', '.join(values)}")
    for key in ("must_contain", "must_not_contain", "kb_ids", "earlier_used", "actions_refused"):
        if key in expect and not isinstance(expect[key], list):
            raise ValueError(f"expect.{key} must be a list")
    if "acknowledged" in expect and not isinstance(expect["acknowledged"], bool):
        raise ValueError("expect.acknowledged must be true or false")
    if "asks_question" in expect and not isinstance(expect["asks_question"], bool):
        raise ValueError("expect.asks_question must be true or false")
    if "actions" in expect:
        _check_actions(expect["actions"])
    return expect


def _check_actions(actions: Any) -> None:
    """expect.actions: the moves a draft should propose, [] for none: [{"name", "arguments"?}]
    (the arguments named are compared; those left out are not)."""
    if not isinstance(actions, list) or not all(
        isinstance(a, dict)
        and isinstance(a.get("name"), str)
        and isinstance(a.get("arguments", {}), dict)
        and set(a) <= {"name", "arguments"}
        for a in actions
    ):
        raise ValueError('expect.actions must be a list of {"name", "arguments"?}')


def _turns(messages: Any) -> tuple[str, list[dict[str, str]]]:
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages must be a non-empty list")
    turns = []
    for turn in messages:
        if not isinstance(turn, dict) or turn.get("role") not in ROLES or not turn.get("text"):
            raise ValueError('each message needs "role" (customer|agent) and "text"')
        turns.append({"role": ROLES[turn["role"]], "body": str(turn["text"])})
    if turns[-1]["role"] != "CUSTOMER":
        raise ValueError("the last message must be the customer's")
    return turns[-1]["body"], turns[:-1]


def parse_case(raw: Any) -> Case:
    if not isinstance(raw, dict):
        raise ValueError("a case must be a JSON object")
    unknown = set(raw) - CASE_KEYS - SCENARIO_KEYS
    if unknown:
        raise ValueError(f"unknown keys: {', '.join(sorted(unknown))}")
    if "message" in raw:
        return _scenario_case(raw)
    if not isinstance(raw.get("id"), str | int) or raw["id"] == "":
        raise ValueError('a case needs an "id"')
    sources = [key for key in ("text", "messages", "text_ref") if key in raw]
    if len(sources) != 1:
        raise ValueError('a case needs exactly one of "text", "messages", "text_ref"')
    history: list[dict[str, str]] = []
    if "messages" in raw:
        text, history = _turns(raw["messages"])
    elif "text_ref" in raw:
        text = text_of_ref(raw["text_ref"])
    else:
        text = str(raw["text"])
    if not text.strip():
        raise ValueError("the customer's text is empty")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError("tags must be a list of strings")
    learn = raw.get("learn", {})
    if not isinstance(learn, dict) or (learn and not {"topic", "answer"} <= learn.keys()):
        raise ValueError('learn needs {"topic", "answer"}')
    return Case(
        id=str(raw["id"]),
        text=text,
        history=history,
        customer_ref=raw.get("customer_ref"),
        expect=_check_expect(raw.get("expect", {})),
        tags=tags,
        learn={str(k): str(v) for k, v in learn.items()},
    )


def _scenario_case(raw: dict[str, Any]) -> Case:
    """A returning-customer case: its rows are checked here, written by evals/scenarios.py."""
    message = raw["message"]
    if not isinstance(message, dict) or not str(message.get("text", "")).strip():
        raise ValueError('"message" needs a "text"')
    customers = raw.get("customers", [])
    earlier = raw.get("earlier", [])
    if not isinstance(customers, list) or not isinstance(earlier, list):
        raise ValueError('"customers" and "earlier" must be lists')
    refs = {str(c.get("ref")) for c in customers if isinstance(c, dict)}
    labels = [str(c.get("label")) for c in earlier if isinstance(c, dict)]
    if len(set(labels)) != len(earlier) or any(c.get("customer") not in refs for c in earlier):
        raise ValueError('each earlier conversation needs a unique "label" and a known "customer"')
    if message.get("customer") not in refs:
        raise ValueError('"message.customer" must be one of "customers"')
    for conversation in earlier:
        turns = conversation.get("messages")
        if (
            not isinstance(turns, list)
            or not turns
            or not all(
                isinstance(t, dict) and t.get("role") in ROLES and t.get("text") for t in turns
            )
        ):
            raise ValueError('each earlier conversation needs "messages" with "role" and "text"')
    expect = _check_expect(raw.get("expect", {}))
    unknown = set(expect.get("earlier_used", [])) - set(labels)
    if unknown:
        raise ValueError(f"expect.earlier_used names no earlier conversation: {sorted(unknown)}")
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ValueError("tags must be a list of strings")
    return Case(
        id=str(raw["id"]),
        text=str(message["text"]),
        customer_ref=str(message["customer"]),
        expect=expect,
        tags=tags,
        scenario={"customers": customers, "earlier": earlier, "message": message},
    )


def load_set(name_or_path: str) -> EvalSet:
    path = resolve_path(name_or_path)
    header: dict[str, Any] = {}
    cases: list[Case] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            if number == 1 and isinstance(raw, dict) and set(raw) == {"header"}:
                header = dict(raw["header"])
                continue
            case = parse_case(raw)
        except (ValueError, SetError) as exc:
            raise SetError(f"{path.name}:{number}: {exc}") from None
        if case.id in seen:
            raise SetError(f"{path.name}:{number}: duplicate id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise SetError(f"{path.name}: no cases")
    return EvalSet(name=path.stem, path=path, header=header, cases=cases)
