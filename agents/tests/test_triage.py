"""Triage: the shipped intent classifier, the tone model (kind, sentiment, urgency) and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from agents.triage.classifier import ARTIFACTS, MAX_CHARS, load_classifier, train
from agents.triage.service import triage_text
from agents.triage.tone_model import (
    SENTIMENT_WEIGHTS,
    URGENCY_HIGH_MIN,
    _likeliest,
    _urgency,
    load_tone_model,
)
from support.vocabulary import MessageKind


@pytest.mark.parametrize(
    ("text", "intent", "category"),
    [
        ("I want to cancel my order 123", "cancel_order", "ORDER"),
        ("how do I reset my password", "recover_password", "ACCOUNT"),
        ("where is my refund? it has been two weeks", "track_refund", "REFUND"),
        ("I need to talk to a real person", "contact_human_agent", "CONTACT"),
    ],
)
def test_shipped_classifier_on_clear_messages(text: str, intent: str, category: str) -> None:
    result = triage_text(text)
    assert (result.intent, result.category) == (intent, category)
    assert 0.0 < result.confidence <= 1.0


def test_category_probability_sums_its_intents() -> None:
    classifier = load_classifier()
    text = "I am unhappy with the service"
    predicted = classifier.predict([text])[0]
    row = classifier.pipeline.predict_proba([text])[0]
    members = [
        p
        for intent, p in zip(classifier.pipeline.classes_, row, strict=True)
        if classifier.categories[intent] == predicted["category"]
    ]
    assert predicted["category_probability"] == pytest.approx(sum(members))


def _eval_texts() -> list[str]:
    """Every message the golden sets hold inline (real tweets are read from the datasets)."""
    paths = sorted((Path(settings.BASE_DIR) / "evals" / "sets").glob("*.jsonl"))
    rows = [json.loads(line) for path in paths for line in path.open()]
    return [row["text"] for row in rows if isinstance(row.get("text"), str)]


def test_the_direct_scorer_is_sklearns_arithmetic() -> None:
    """predict() computes the pipeline's probabilities itself (#30): the same as sklearn's
    predict_proba to float32 rounding, the same intent for every eval message."""
    classifier = load_classifier()
    assert classifier.scorer is not None  # the shipped artifact takes the direct path
    texts = [t[:MAX_CHARS] for t in _eval_texts()] + ["", "?!", "x" * 3000]
    assert len(texts) > 1000
    ours = classifier.scorer.probabilities(texts)
    theirs = classifier.pipeline.predict_proba(texts)
    assert np.abs(ours - theirs).max() < 1e-5
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()


@pytest.mark.parametrize(
    ("text", "sentiment", "kind"),
    [
        (
            "This is the worst service ever, I am furious. Never shopping here again",
            "NEGATIVE",
            "dissatisfied",
        ),
        ("thanks a lot, great help, you sorted it in minutes!", "POSITIVE", "praise"),
        ("How do I change the shipping address on my account?", "NEUTRAL", "store_question"),
        (
            "@AcmeAir is flight 221 to Boston boarding at gate 4 or 5?",
            "NEUTRAL",
            "company_specific",
        ),
    ],
)
def test_the_tone_model_on_clear_messages(text: str, sentiment: str, kind: str) -> None:
    tone = load_tone_model().predict([text])[0]
    assert (tone.sentiment, tone.kind) == (sentiment, kind)
    assert set(tone.kind_scores) == set(MessageKind.values)
    assert sum(tone.kind_scores.values()) == pytest.approx(1.0, abs=1e-3)


def test_urgency_is_high_only_when_sure() -> None:
    model = load_tone_model()
    urgent, calm = model.predict(
        [
            "URGENT someone just took £400 from my account, card stolen, freeze it NOW",
            "I'd like to leave a review for the jacket I bought last month",
        ]
    )
    assert urgent.urgency == "HIGH"
    assert calm.urgency == "LOW"
    assert _urgency({"HIGH": URGENCY_HIGH_MIN - 0.01, "NORMAL": 0.2, "LOW": 0.3}) == "LOW"


def test_sentiment_weights_decide_between_close_readings() -> None:
    assert _likeliest({"NEGATIVE": 0.4, "NEUTRAL": 0.5}, {"NEGATIVE": 1.5}) == "NEGATIVE"
    assert _likeliest({"NEGATIVE": 0.3, "NEUTRAL": 0.6}, {"NEGATIVE": 1.5}) == "NEUTRAL"
    assert _likeliest({"NEGATIVE": 0.4, "NEUTRAL": 0.5}, SENTIMENT_WEIGHTS) == "NEUTRAL"
    # The shipped model's weights are the ones chosen on the tuning set (its card).
    card = json.loads((ARTIFACTS / f"{settings.TONE_MODEL}.json").read_text())
    assert load_tone_model().sentiment_weights == card["sentiment_weights"]


def test_training_learns_from_small_data() -> None:
    texts = [
        "cancel my order",
        "please cancel the purchase",
        "reset password",
        "forgot my password",
    ] * 5
    intents = ["cancel_order", "cancel_order", "recover_password", "recover_password"] * 5
    model = train(texts, intents, {"cancel_order": "ORDER", "recover_password": "ACCOUNT"}, "t")
    assert model.predict(["I forgot the password"])[0]["intent"] == "recover_password"


def test_triage_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("triage", "--json", "cancel order 42 now, this is urgent!")
    record = json.loads(capsys.readouterr().out)
    assert set(record) == {
        "id",
        "intent",
        "category",
        "sentiment",
        "urgency",
        "confidence",
        "kind",
        "cues",
        "language",
    }
    assert record["id"] is None
    assert record["language"] == "en"
    assert record["intent"] == "cancel_order"
    assert record["urgency"] == "HIGH"


def test_triage_command_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "in.jsonl"
    lines = [
        {"id": 1, "text": "track my order"},
        {"id": 2, "text": " "},
        {"id": "x", "text": "refund"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines))
    call_command("triage", "--json", "--file", str(path))
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["id"] for r in records] == [1, 2, "x"]
    assert records[1] == {"id": 2, "error": "the text is empty"}
    assert records[0]["intent"] == "track_order"


def test_triage_command_rejects_empty_text() -> None:
    with pytest.raises(CommandError, match="the text is empty") as info:
        call_command("triage", "--json", "   ")
    assert info.value.returncode == 2
