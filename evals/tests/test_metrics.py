"""The scoring functions, on numbers worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from evals.metrics import (
    CaseScore,
    aggregate,
    calibration_error,
    macro_f1,
    percentile,
    regressions,
    score_case,
    supported_share,
    token_f1,
    unsupported_specifics,
)


def test_token_f1() -> None:
    assert token_f1("open order history", "open your order history") == pytest.approx(
        2 * 1 * 0.75 / 1.75
    )
    assert token_f1("nothing alike", "open your order history") == 0.0
    assert token_f1("", "") == 1.0


def test_calibration_error_is_the_weighted_gap_per_bin() -> None:
    # Bin 0.8-0.9: confidence 0.845 on average, 1 of 2 right → gap 0.345, weight 2/4.
    # Bin 0.1-0.2: confidence 0.1, 0 of 2 right → gap 0.1, weight 2/4.
    pairs = [(0.8, True), (0.9 - 0.01, False), (0.1, False), (0.1, False)]
    assert calibration_error(pairs) == pytest.approx(0.5 * 0.345 + 0.5 * 0.1)
    assert calibration_error([(1.0, True), (0.0, False)]) == 0.0


def test_unsupported_specifics_are_the_ones_nobody_gave() -> None:
    answer = "Your refund of $299 for order 12345 is on its way, as is order 55555."
    assert unsupported_specifics(answer, "where is my refund for order 12345?") == [
        "$299",
        "55555",
    ]
    assert unsupported_specifics("Call 1-800-555-0199.", "", "phone 1-800-555-0199") == []


def test_supported_share_counts_sentences_found_in_a_source() -> None:
    source = "Refunds are issued to the original payment method within 5-7 business days."
    answer = "Refunds are issued to the original payment method. We also give you a free gift card."
    assert supported_share(answer, [source]) == 0.5
    # A question states nothing: asking for the order number is no claim to ground.
    asking = f"{answer} So I can look into this, could you send me your order number?"
    assert supported_share(asking, [source]) == 0.5


def test_macro_f1_and_percentile() -> None:
    assert macro_f1(["A", "A", "B"], ["A", "B", "B"]) == pytest.approx((2 / 3 + 2 / 3) / 2, 1e-3)
    assert percentile([10.0, 20.0, 30.0, 40.0], 50) == 20.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 95) == 40.0


def _actual(status: str, **fields: object) -> dict[str, object]:
    return {"status": status, "answer": "", "confidence": 0.5, "latency_ms": 10, **fields}


def test_aggregate_on_a_small_run() -> None:
    scores = [
        score_case(
            "1",
            ["complaint"],
            {"status": "ESCALATED", "escalation_reason": "complaint", "sentiment": "NEGATIVE"},
            _actual(
                "ESCALATED", escalation_reason="complaint", sentiment="NEGATIVE", confidence=0.1
            ),
            customer_text="worst service ever",
            sources=[],
        ),
        score_case(
            "2",
            ["complaint"],
            {"status": "ESCALATED", "sentiment": "NEGATIVE", "urgency": "HIGH"},
            _actual(
                "SUGGESTED",
                answer="Sorry, your refund of $50 is coming.",
                sentiment="NEUTRAL",
                urgency="HIGH",
                confidence=0.9,
            ),
            customer_text="you lost a customer",
            sources=["Refunds take 5-7 business days."],
        ),
        score_case(
            "3",
            ["answerable"],
            {"status": "SUGGESTED", "intent": "get_refund", "reference": "refunds take 5 days"},
            _actual(
                "SUGGESTED", intent="get_refund", answer="Refunds take 5 days.", confidence=0.7
            ),
            customer_text="how long do refunds take",
            sources=["Refunds take 5 days."],
        ),
    ]
    metrics = aggregate(scores)
    assert metrics["routing_accuracy"] == pytest.approx(2 / 3, 1e-3)
    assert (metrics["escalation_precision"], metrics["escalation_recall"]) == (1.0, 0.5)
    assert metrics["reason_accuracy"] == 1.0
    assert metrics["unsupported_specifics"] == 1  # the $50 nobody mentioned
    assert metrics["answer_score"] == 1.0
    assert metrics["urgency_high_precision"] == 1.0
    assert metrics["by_tag"]["complaint"] == {
        "cases": 2,
        "suggested": 0.5,
        "escalated": 0.5,
        "passed": 0.5,
    }
    # Calibration: 0.1 → wrong (0.1 gap), 0.9 → wrong (0.9), 0.7 → right (0.3); thirds.
    assert metrics["calibration_error"] == pytest.approx((0.1 + 0.9 + 0.3) / 3, 1e-3)
    # Over the two suggestions only: 0.9 → wrong (0.9), 0.7 → right (0.3); halves.
    assert metrics["suggested_calibration_error"] == pytest.approx((0.9 + 0.3) / 2, 1e-3)


def test_regressions_respect_direction_and_tolerance() -> None:
    baseline: dict[str, dict[str, float]] = {
        "routing_accuracy": {"value": 0.9, "tolerance": 0.02},
        "safety_violations": {"value": 0, "tolerance": 0},
        "calibration_error": {"value": 0.05, "tolerance": 0.02},
    }
    good: dict[str, Any] = {
        "routing_accuracy": 0.885,
        "safety_violations": 0,
        "calibration_error": 0.06,
    }
    assert regressions(good, baseline) == []
    bad: dict[str, Any] = {
        "routing_accuracy": 0.85,
        "safety_violations": 1,
        "calibration_error": None,
    }
    assert regressions(bad, baseline) == [
        "calibration_error: not measured (baseline 0.05)",
        "routing_accuracy: 0.85 < baseline 0.9 - 0.02",
        "safety_violations: 1 > baseline 0 + 0",
    ]


def _tone_case(
    case_id: str, tags: list[str], expect: dict[str, Any], **actual: object
) -> CaseScore:
    return score_case(
        case_id, tags, expect, _actual("SUGGESTED", **actual), customer_text="", sources=[]
    )


# id, tags, expected: acknowledged, urgency; the run: acknowledged, P(acknowledge), urgency,
# P(HIGH). Sarcasm thanked is the one acknowledgement that must not happen.
TONE_RUN = [
    ("sarcasm", ["sarcasm"], False, "NORMAL", True, 0.85, "NORMAL", 0.05),
    ("praise", ["praise", "agreed_praise"], True, "LOW", True, 0.95, "LOW", 0.05),
    ("praise missed", ["praise", "agreed_praise"], True, "HIGH", False, 0.35, "NORMAL", 0.45),
    ("complaint", ["complaint"], False, "HIGH", False, 0.05, "HIGH", 0.95),
]


def test_tone_metrics_on_a_small_run() -> None:
    scores = [
        _tone_case(
            case_id,
            tags,
            {"acknowledged": expect_ack, "urgency": expect_urgency},
            acknowledged=acknowledged,
            acknowledge=p_ack,
            urgency=urgency,
            urgency_high=p_high,
        )
        for case_id, tags, expect_ack, expect_urgency, acknowledged, p_ack, urgency, p_high in (
            TONE_RUN
        )
    ]
    metrics = aggregate(scores)
    assert metrics["acknowledged_non_praise"] == 1
    assert metrics["praise_acknowledged_rate"] == 0.5
    assert metrics["acknowledged_recall"] == 0.5
    assert metrics["urgency_high_recall"] == 0.5
    assert scores[0].checks["acknowledged"] is False and scores[1].checks["acknowledged"] is True
    # acknowledge: bin 0.8-0.9: 0.85 vs 0 thanked (0.85); 0.9-1: 0.95 vs 1 (0.05);
    # 0.3-0.4: 0.35 vs 1 (0.65); 0.0-0.1: 0.05 vs 0 (0.05); a quarter each.
    assert metrics["acknowledge_ece"] == pytest.approx((0.85 + 0.05 + 0.65 + 0.05) / 4, 1e-3)
    # urgency: bin 0.0-0.1: mean 0.05 vs 0 of 2 HIGH (0.05, half); 0.4-0.5: 0.45 vs 1 (0.55);
    # 0.9-1: 0.95 vs 1 (0.05).
    assert metrics["urgency_ece"] == pytest.approx(0.5 * 0.05 + 0.25 * 0.55 + 0.25 * 0.05, 1e-3)


def test_tone_metrics_are_not_measured_without_labels_or_probabilities() -> None:
    unlabelled = _tone_case("a", [], {"urgency": "NORMAL"}, urgency="NORMAL")
    metrics = aggregate([unlabelled])
    assert metrics["urgency_ece"] is None and metrics["urgency_high_recall"] is None
    assert "acknowledged_non_praise" not in metrics


def _language_case(
    case_id: str, expect: dict[str, Any], status: str, words: int, **actual: object
) -> CaseScore:
    return score_case(
        case_id,
        [],
        expect,
        _actual(status, message_words=words, **actual),
        customer_text="",
        sources=[],
    )


def test_language_metrics_on_a_small_run() -> None:
    scores = [
        # Spanish, detected, answered in Spanish.
        _language_case(
            "es",
            {"language": "es", "answered_in": "es"},
            "SUGGESTED",
            6,
            language="es",
            answer_language="es",
            answer="Para cancelar tu pedido...",
        ),
        # French, undetermined (short), answered in English: the failure that counts.
        _language_case(
            "fr",
            {"language": "fr"},
            "SUGGESTED",
            2,
            language="und",
            answer_language="en",
            answer="Thank you!",
        ),
        # German of 5 words taken for English, escalated: wrong detection, no English answer.
        _language_case("de", {"language": "de"}, "ESCALATED", 5, language="en"),
        # English escalated as language_unsupported: the other failure that counts.
        _language_case(
            "en",
            {"language": "en"},
            "ESCALATED",
            4,
            language="en",
            escalation_reason="language_unsupported",
        ),
        # No label: an Italian message the run detected, answered in English, counts too.
        _language_case(
            "it", {}, "SUGGESTED", 7, language="it", answer_language="en", answer="To cancel..."
        ),
    ]
    metrics = aggregate(scores)
    assert metrics["language_accuracy"] == 0.5  # es, en right of es, fr, de, en
    assert metrics["language_accuracy_4_words"] == round(2 / 3, 4)  # es, de, en
    assert metrics["answered_in_language_rate"] == 1.0
    assert metrics["english_answers_to_non_english"] == 2  # fr (as labelled), it (as detected)
    assert metrics["english_language_unsupported"] == 1
    assert metrics["language_unsupported_escalations"] == 1
    assert metrics["detected_languages"] == {"en": 2, "es": 1, "it": 1, "und": 1}
    assert scores[0].passed and scores[1].checks == {"language": False}


def test_an_answer_in_another_language_fails_answered_in() -> None:
    score = _language_case(
        "pt",
        {"language": "pt", "answered_in": "pt"},
        "SUGGESTED",
        6,
        language="pt",
        answer_language="es",
        answer="Para cancelar...",
    )
    assert score.checks == {"language": True, "answered_in": False}
    escalated = _language_case(
        "pt2", {"language": "pt", "answered_in": "pt"}, "ESCALATED", 6, language="pt"
    )
    assert escalated.checks["answered_in"] is False
