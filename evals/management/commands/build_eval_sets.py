"""`build_eval_sets`: (re)writes the golden sets derived from ../shared/datasets:

- `template_dev`: Bitext messages of template families the triage model never trained on (the
  family split of agents/splits.py), a stratified sample per intent, each with its intent,
  category, expected status, the KB articles of its intent and a reference answer (the Bitext
  response whose instruction is closest to the message, same intent);
- `out_of_scope`: CLINC150's held-out out-of-scope queries (`oos_val`; tuning used `oos_train`)
  tagged `general`, and the banking-style questions below tagged `banking`;
- `fast`: a slice of every set that carries its texts (FAST_EVERY), the gate `make test` runs.

The hand-written sets (policy_bait, followups) and the hand-labelled real-text sets
(real_tweets, real_tweets_dev) are not generated: see evals/sets/README.md. Deterministic: the
same datasets give the same files."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from sklearn.feature_extraction.text import TfidfVectorizer

from agents.splits import family_split, normalise
from evals.sets import DATASETS, SETS_DIR
from knowledge.taxonomy import COMPLAINT_INTENT, HUMAN_INTENTS
from support.models import DraftStatus, EscalationReason

PER_INTENT = 12
SEED = 20261127
# Banking-style questions (cards, transfers, exchange rates, ATMs): a store's KB does not cover
# them, and their words (card, payment, refund, account) overlap the store's, which is why they
# are a set of their own. Written for this set.
BANKING = [
    "How do I top up my card with Apple Pay?",
    "My top-up is still pending, how long does it take?",
    "Why was my card top-up declined?",
    "What exchange rate do you use when I pay in euros?",
    "How much is the fee for exchanging currencies?",
    "I was charged an extra fee for an international transfer",
    "How long does a bank transfer from the UK take to arrive?",
    "My transfer to another account hasn't arrived yet",
    "Can I cancel a bank transfer I made this morning?",
    "How do I change my card PIN?",
    "My card is blocked after I entered the wrong PIN three times",
    "The ATM kept my card, what do I do?",
    "I withdrew cash at an ATM but the machine gave me less money",
    "Why is there a fee for withdrawing cash abroad?",
    "How do I order a new virtual card?",
    "Can I get a disposable virtual card for online shopping?",
    "My card expires next month, when will the new one arrive?",
    "I lost my card, how do I freeze it?",
    "Someone used my card contactless without my permission",
    "How do I verify my identity to open an account?",
    "Why do you need my proof of address for the account?",
    "What is the daily limit for card payments?",
    "Can I have my salary paid into this account?",
    "How do I receive money from abroad via SWIFT?",
    "Is there a fee for receiving a SEPA transfer?",
    "My direct debit was taken twice this month",
    "How do I set up a standing order?",
    "The beneficiary's bank rejected my transfer",
    "What currencies can I hold in my account?",
    "Is my balance protected if the bank goes bust?",
    "How do I get a bank statement for my mortgage application?",
    "Why has my card payment been reverted?",
    "Cash deposit into my account isn't showing",
    "Can I use my card in Japan?",
    "My contactless payments stopped working",
    "Which countries can I send money to?",
    "How do I link my card to Google Pay?",
    "What is the interest rate on my savings account?",
    "Can I get an overdraft on my current account?",
    "How do I close my bank account and move the balance?",
    "Why did the exchange rate change between my payment and the statement?",
    "I topped up with a cheque, when will it clear?",
    "How do I report a phishing text pretending to be my bank?",
    "Do you charge for card delivery to another country?",
    "How many free ATM withdrawals do I get a month?",
    "My refund from a shop is not showing on my card statement yet",
    "Can I change the currency of my card?",
    "What are the fees for a wire transfer to the US?",
    "How can I increase my transfer limit?",
    "I need a new PIN reminder for my debit card",
]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _kb_ids(intent: str) -> list[str]:
    """The demo KB's articles of an intent, by stable source:external_id."""
    fixture = Path(__file__).resolve().parents[3] / "knowledge" / "fixtures" / "demo_kb.jsonl"
    rows = [json.loads(line) for line in fixture.read_text().splitlines() if line.strip()]
    return [f"{row['source']}:{row['external_id']}" for row in rows if row.get("intent") == intent]


def _references(dev: list[dict[str, str]], responses: list[dict[str, str]]) -> list[str]:
    """Per dev message: the response (same intent) whose instruction is most like it."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    vectorizer.fit(
        [normalise(r["instruction"]) for r in responses] + [normalise(r["text"]) for r in dev]
    )
    by_intent: dict[str, list[dict[str, str]]] = {}
    for row in responses:
        by_intent.setdefault(row["intent"], []).append(row)
    references = []
    for row in dev:
        candidates = by_intent[row["intent"]]
        matrix = vectorizer.transform([normalise(c["instruction"]) for c in candidates])
        query = vectorizer.transform([normalise(row["text"])])
        best = int((matrix @ query.T).toarray().ravel().argmax())
        references.append(candidates[best]["response"])
    return references


def template_dev_cases(datasets: Path) -> list[dict[str, Any]]:
    _, dev = family_split(_read_csv(datasets / "bitext" / "intents_train.csv"))
    rng = random.Random(SEED)
    by_intent: dict[str, list[dict[str, str]]] = {}
    for row in dev:
        by_intent.setdefault(row["intent"], []).append(row)
    sample = []
    for intent in sorted(by_intent):
        rows = by_intent[intent]
        sample += rng.sample(rows, min(PER_INTENT, len(rows)))
    references = _references(sample, _read_csv(datasets / "bitext" / "responses.csv"))
    cases = []
    for index, (row, reference) in enumerate(zip(sample, references, strict=True)):
        expect: dict[str, Any] = {"intent": row["intent"], "category": row["category"]}
        if row["intent"] in HUMAN_INTENTS:
            expect["status"] = DraftStatus.ESCALATED.value
            expect["escalation_reason"] = (
                EscalationReason.CUSTOMER_COMPLAINT.value
                if row["intent"] == COMPLAINT_INTENT
                else EscalationReason.CUSTOMER_REQUESTED_HUMAN.value
            )
        else:
            expect["status"] = DraftStatus.SUGGESTED.value
            expect["kb_ids"] = _kb_ids(row["intent"])
            expect["reference"] = reference
        tags = ["answerable" if row["intent"] not in HUMAN_INTENTS else "wants_human"]
        cases.append(
            {"id": f"tpl-{index:04d}", "text": row["text"], "tags": tags, "expect": expect}
        )
    return cases


def out_of_scope_cases(datasets: Path) -> list[dict[str, Any]]:
    clinc = json.loads((datasets / "clinc150" / "oos_train_val.json").read_text())["oos_val"]
    escalated = {"status": DraftStatus.ESCALATED.value}
    cases = [
        {"id": f"oos-{i:03d}", "text": text, "tags": ["general"], "expect": escalated}
        for i, (text, _) in enumerate(clinc)
    ]
    cases += [
        {"id": f"bank-{i:03d}", "text": text, "tags": ["banking"], "expect": escalated}
        for i, text in enumerate(BANKING)
    ]
    return cases


# The fast set `make test` gates on: every case of the small hand-written sets, every n-th of
# the others (n per set), so that it runs in seconds and still covers every kind of case. It
# carries its texts (no text_ref): a clone without ../shared/datasets can run it; `make test`
# gates on real_tweets as well where the datasets are.
FAST_EVERY = {
    "template_dev": 10,
    "out_of_scope": 10,
    "policy_bait": 1,
    "followups": 1,
}


def fast_cases() -> list[dict[str, Any]]:
    cases = []
    for name, every in FAST_EVERY.items():
        lines = (SETS_DIR / f"{name}.jsonl").read_text().splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        rows = [row for row in rows if "header" not in row]
        cases += rows[::every]
    return cases


def write_set(name: str, header: dict[str, Any], cases: list[dict[str, Any]]) -> Path:
    path = SETS_DIR / f"{name}.jsonl"
    lines = [json.dumps({"header": header})] + [json.dumps(case) for case in cases]
    path.write_text("\n".join(lines) + "\n")
    return path


class Command(BaseCommand):
    help = "Regenerate the dataset-derived eval sets (template_dev, out_of_scope)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datasets", type=Path, default=DATASETS)

    def handle(self, *args: Any, **options: Any) -> None:
        datasets: Path = options["datasets"]
        written = [
            write_set(
                "template_dev",
                {
                    "description": "Bitext messages of held-out template families "
                    f"({PER_INTENT} per intent): routing, intent, retrieval, answer token-F1",
                    "source": "bitext/intents_train.csv (dev families), bitext/responses.csv",
                    "license": "CDLA-Sharing-1.0, Bitext Innovations",
                    "built_by": "manage.py build_eval_sets",
                },
                template_dev_cases(datasets),
            ),
            write_set(
                "out_of_scope",
                {
                    "description": "questions a store KB cannot answer: CLINC150 oos_val "
                    "(tag general) and banking-style questions (tag banking); all escalated",
                    "source": "clinc150/oos_train_val.json (oos_val); "
                    "banking: written for this set",
                    "license": "CC BY 3.0 (CLINC150)",
                    "built_by": "manage.py build_eval_sets",
                },
                out_of_scope_cases(datasets),
            ),
        ]
        written.append(
            write_set(
                "fast",
                {
                    "description": "the self-contained gate of `make test`: "
                    + ", ".join(f"every {n}. case of {name}" for name, n in FAST_EVERY.items()),
                    "built_by": "manage.py build_eval_sets",
                },
                fast_cases(),
            )
        )
        for path in written:
            self.stdout.write(f"wrote {path}")
