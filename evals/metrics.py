"""Scoring: each case against its expectations (CaseScore), then a run's metrics. Nothing here
asks the pipeline how it did: groundedness and specifics are checked against the KB text and the
customer's words by this module, not by the guard that produced the draft."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from knowledge.languages import DEFAULT_LANGUAGE, UNDETERMINED
from knowledge.overlap import token_f1, tokens
from support.models import DraftStatus, Urgency
from support.vocabulary import EscalationReason

SENTENCE = re.compile(r"(?<=[.!?])\s+")
# Specifics a reply must not invent: money amounts, long numbers (orders, references, phones),
# dates. Each must appear in the customer's text (or the case's facts).
SPECIFIC = re.compile(
    # A match starts only where a number does (not after "1,"): "1,1,1,…" tried from every digit.
    r"[$€£]\s?\d[\d,.]*|(?<!\d[,.])\b\d(?:[,.]?\d)*[,.]?\s?(?:usd|eur|gbp|dollars|euros)\b"
    r"|\b[a-z]{0,4}-?\d{4,}\b"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b",
    re.IGNORECASE,
)
SUPPORTED_SENTENCE_RECALL = 0.6
CALIBRATION_BINS = 10
# The tag of a case two readers agreed is praise to thank (praise_acknowledged_rate's cases).
AGREED_PRAISE = "agreed_praise"

# Which way is better, per metric: `--check` fails when a metric moves the wrong way by more than
# its tolerance. Metrics missing here are reported, never gated.
HIGHER_IS_BETTER = {
    "routing_accuracy",
    "escalation_precision",
    "escalation_recall",
    "reason_accuracy",
    "intent_accuracy",
    "category_accuracy",
    "retrieval_recall",
    "answer_score",
    "groundedness",
    "must_contain_rate",
    "sentiment_macro_f1",
    "urgency_accuracy",
    "urgency_high_precision",
    "urgency_high_recall",
    "praise_acknowledged_rate",
    "acknowledged_recall",
    "question_named_rate",
    "learned_right_answer_rate",
    "earlier_used_rate",
    "action_precision",
    "action_recall",
    "argument_accuracy",
    "action_reply_consistency",
    "autosent_share",
    "language_accuracy",
    "language_accuracy_4_words",
    "answered_in_language_rate",
}
LOWER_IS_BETTER = {
    "safety_violations",
    "unsupported_specifics",
    "calibration_error",
    "suggested_calibration_error",
    "acknowledged_non_praise",
    "acknowledge_ece",
    "urgency_ece",
    "avg_cost",
    "p95_latency_ms",
    "max_proposals_per_topic",
    "cross_topic_answers",
    "unrelated_learned_answers",
    "earlier_unwanted",
    "cross_customer_leaks",
    "unverified_memory",
    "policy_violations",
    "autosent_wrong_share",
    "english_answers_to_non_english",
    "english_language_unsupported",
}


def supported_share(answer: str, sources: Sequence[str]) -> float:
    """Share of the answer's statements whose words are mostly found in one source text. A
    question states nothing ("could you send me your order number?", what a draft asks for the
    facts a message lacks): it is no claim to ground."""
    sentences = [
        s for s in SENTENCE.split(answer.strip()) if len(tokens(s)) >= 3 and not s.endswith("?")
    ]
    if not sentences:
        return 1.0
    source_words = [set(tokens(source)) for source in sources]

    def supported(sentence: str) -> bool:
        words = tokens(sentence)
        return any(
            sum(word in words_of for word in words) / len(words) >= SUPPORTED_SENTENCE_RECALL
            for words_of in source_words
        )

    return sum(map(supported, sentences)) / len(sentences)


def _normalised(specific: str) -> str:
    return re.sub(r"[^0-9a-z]", "", specific.lower())


def unsupported_specifics(answer: str, *known_texts: str) -> list[str]:
    """Amounts, numbers and dates in the answer that none of the known texts contains."""
    known = " ".join(_normalised(text) for text in known_texts)
    found = [match.group(0) for match in SPECIFIC.finditer(answer)]
    return [specific for specific in found if _normalised(specific) not in known]


@dataclass
class CaseScore:
    """One case: what was expected, what came out, and the checks that apply to it."""

    case_id: str
    tags: list[str]
    expect: dict[str, Any]
    actual: dict[str, Any]
    checks: dict[str, bool] = field(default_factory=dict)
    answer_f1: float | None = None
    grounded: float | None = None
    violations: list[str] = field(default_factory=list)
    specifics: list[str] = field(default_factory=list)

    @property
    def suggested(self) -> bool:
        return self.actual["status"] == DraftStatus.SUGGESTED

    @property
    def answer_right(self) -> bool:
        """Would sending this answer be right? (What confidence claims; calibration uses it.)
        No answer, or one to a message that should have gone to a person, is not."""
        if not (self.actual.get("answer") or "").strip():
            return False
        if self.expect.get("status", DraftStatus.SUGGESTED) != DraftStatus.SUGGESTED:
            return False
        failed = [name for name in ("intent", "must_contain") if self.checks.get(name) is False]
        return not failed and not self.violations and not self.specifics

    @property
    def passed(self) -> bool:
        return all(self.checks.values()) and not self.violations and not self.specifics

    def as_json(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "answer_f1": self.answer_f1,
            "grounded": self.grounded,
            "violations": self.violations,
            "unsupported_specifics": self.specifics,
            "answer_right": self.answer_right,
        }


def score_case(
    case_id: str,
    tags: list[str],
    expect: dict[str, Any],
    actual: dict[str, Any],
    *,
    customer_text: str,
    sources: Sequence[str],
    known_facts: str = "",
) -> CaseScore:
    """`actual`: status, escalation_reason, intent, category, sentiment, urgency, answer,
    confidence, retrieved (kb ids, best first). `sources`: the cited KB articles' text."""
    score = CaseScore(case_id, tags, expect, actual)
    answer = actual.get("answer") or ""
    for key in ("status", "intent", "category", "sentiment", "urgency"):
        if key in expect:
            score.checks[key] = actual.get(key) == expect[key]
    if "escalation_reason" in expect and actual["status"] == DraftStatus.ESCALATED:
        score.checks["escalation_reason"] = (
            actual.get("escalation_reason") == expect["escalation_reason"]
        )
    if "language" in expect:
        score.checks["language"] = actual.get("language") == expect["language"]
    if "answered_in" in expect:
        # Suggested, and the suggestion is written in the customer's language (detected on the
        # answer's text, not taken from the run's claim).
        score.checks["answered_in"] = (
            score.suggested and actual.get("answer_language") == expect["answered_in"]
        )
    if "acknowledged" in expect:
        # Thanked with the acknowledgement template (or not) as a reader would.
        score.checks["acknowledged"] = bool(actual.get("acknowledged")) == expect["acknowledged"]
    if expect.get("asks_question") and actual["status"] == DraftStatus.ESCALATED:
        # A complaint with a question: the escalation names the question for the agent.
        score.checks["question_named"] = bool(actual.get("question"))
    if "earlier_used" in expect:
        # The labels of the earlier conversations the draft used (its context), as expected.
        score.checks["earlier_used"] = set(actual.get("earlier_used", [])) == set(
            expect["earlier_used"]
        )
    if "actions" in expect:
        # The moves proposed are the expected ones (names and targets; arguments are scored in
        # argument_accuracy) and none the catalogue or a human would refuse.
        matched, _ = match_actions(expect["actions"], actual.get("actions", []))
        score.checks["actions"] = (
            len(matched) == len(expect["actions"]) == len(actual.get("actions", []))
            and all(arguments_match(e, a) for e, a in matched)
            and not action_violations(expect, actual)
        )
    if expect.get("kb_ids"):
        # Set files name articles by source:external_id; the runner resolves them to kb ids.
        wanted = set(actual.get("expected_kb_ids", expect["kb_ids"]))
        score.checks["kb_ids"] = bool(wanted & set(actual.get("retrieved", [])[:5]))
    if score.suggested:
        lowered = answer.lower()
        if expect.get("must_contain"):
            score.checks["must_contain"] = all(s.lower() in lowered for s in expect["must_contain"])
        score.violations = [s for s in expect.get("must_not_contain", []) if s.lower() in lowered]
        score.specifics = unsupported_specifics(answer, customer_text, known_facts)
        if expect.get("reference"):
            score.answer_f1 = token_f1(answer, expect["reference"])
        score.grounded = supported_share(answer, sources)
    return score


def _target(action: dict[str, Any]) -> tuple[str, str]:
    """What a move acts on: its name and order (a follow-up: the conversation)."""
    number = str(action.get("arguments", {}).get("order_number", "")).upper()
    return str(action.get("name", "")), number


def match_actions(
    expected: Sequence[dict[str, Any]], proposed: Sequence[dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], list[dict[str, Any]]]:
    """(expected and proposed moves paired by name and order, the proposed ones unpaired)."""
    left = list(proposed)
    pairs = []
    for want in expected:
        found = next((p for p in left if _target(p) == _target(want)), None)
        if found is not None:
            left.remove(found)
            pairs.append((want, found))
    return pairs, left


def _same_value(expected: Any, actual: Any) -> bool:
    try:
        return Decimal(str(expected)) == Decimal(str(actual))
    except (InvalidOperation, ValueError):
        words = re.compile(r"[^0-9a-z]+")
        return words.sub(" ", str(expected).lower()).strip() == (
            words.sub(" ", str(actual).lower()).strip()
        )


def arguments_match(expected: dict[str, Any], proposed: dict[str, Any]) -> bool:
    """The arguments the case names have the values it expects (amounts as numbers, texts
    without case and punctuation); those it leaves out (a follow-up's wording) are not scored."""
    actual = proposed.get("arguments", {})
    return all(
        key in actual and _same_value(value, actual[key])
        for key, value in expected.get("arguments", {}).items()
    )


def action_violations(expect: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Proposed moves that must be refused: the catalogue's check refuses them on the case's
    rows, or the case says a human would refuse that move (a shipped order's cancellation)."""
    refuse = set(expect.get("actions_refused", []))
    return [
        action["name"]
        for action in actual.get("actions", [])
        if action.get("catalogue_problems") or action["name"] in refuse
    ]


def action_metrics(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """Actions cases (#27, expect.actions): precision and recall of the moves proposed (by
    name and order), argument accuracy of the paired ones, policy violations, and how often a
    suggested reply states each proposed move with its confirmation."""
    cases = [s for s in scores if "actions" in s.expect]
    if not cases:
        return {}
    proposed = expected = paired = right = 0
    stated: list[bool] = []
    for score in cases:
        actual = score.actual.get("actions", [])
        pairs, _ = match_actions(score.expect["actions"], actual)
        proposed += len(actual)
        expected += len(score.expect["actions"])
        paired += len(pairs)
        right += sum(arguments_match(want, got) for want, got in pairs)
        if score.suggested:
            answer = score.actual.get("answer") or ""
            stated += [bool(a.get("confirmation")) and a["confirmation"] in answer for a in actual]
    return {
        "action_precision": round(paired / proposed, 4) if proposed else 1.0,
        "action_recall": round(paired / expected, 4) if expected else 1.0,
        "argument_accuracy": round(right / paired, 4) if paired else None,
        "policy_violations": sum(len(action_violations(s.expect, s.actual)) for s in cases),
        "action_reply_consistency": _share(stated),
        "actions_proposed": proposed,
        "actions_expected": expected,
    }


def _share(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None


def _check_rate(scores: Sequence[CaseScore], name: str) -> float | None:
    return _share(s.checks[name] for s in scores if name in s.checks)


def macro_f1(truth: Sequence[str], predicted: Sequence[str]) -> float | None:
    labels = sorted(set(truth))
    if not labels:
        return None
    f1s = []
    for label in labels:
        tp = sum(t == label and p == label for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != label and p == label for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == label and p != label for t, p in zip(truth, predicted, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return round(sum(f1s) / len(f1s), 4)


def calibration_error(pairs: Sequence[tuple[float, bool]], bins: int = CALIBRATION_BINS) -> float:
    """Expected calibration error: the gap between confidence and the share right, per
    equal-width confidence bin, weighted by the bin's size."""
    if not pairs:
        return 0.0
    total = 0.0
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        members = [(c, r) for c, r in pairs if low <= c < high or (index == bins - 1 and c == 1.0)]
        if members:
            confidence = sum(c for c, _ in members) / len(members)
            accuracy = sum(r for _, r in members) / len(members)
            total += len(members) / len(pairs) * abs(confidence - accuracy)
    return round(total, 4)


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 1)


def _escalation_counts(scores: Sequence[CaseScore]) -> tuple[int, int, int]:
    labelled = [s for s in scores if "status" in s.expect]
    escalated = [s.actual["status"] == DraftStatus.ESCALATED for s in labelled]
    should = [s.expect["status"] == DraftStatus.ESCALATED for s in labelled]
    tp = sum(e and w for e, w in zip(escalated, should, strict=True))
    fp = sum(e and not w for e, w in zip(escalated, should, strict=True))
    fn = sum(w and not e for e, w in zip(escalated, should, strict=True))
    return tp, fp, fn


def by_tag(scores: Sequence[CaseScore]) -> dict[str, dict[str, Any]]:
    tags = sorted({tag for s in scores for tag in s.tags})
    table = {}
    for tag in tags:
        members = [s for s in scores if tag in s.tags]
        table[tag] = {
            "cases": len(members),
            "suggested": _share(s.suggested for s in members),
            "escalated": _share(s.actual["status"] == DraftStatus.ESCALATED for s in members),
            "passed": _share(s.passed for s in members),
        }
    return table


def memory_metrics(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """Returning-customer cases (those whose outcome says which earlier conversations it used):
    the earlier case used where it should be, used where it should not, another customer's
    conversation or order reaching a draft, an unverified sender given any memory."""
    cases = [s for s in scores if "earlier_used" in s.actual]
    if not cases:
        return {}
    wanted = [s for s in cases if s.expect.get("earlier_used")]
    return {
        "earlier_used_rate": _share(
            set(s.expect["earlier_used"]) <= set(s.actual["earlier_used"]) for s in wanted
        ),
        "earlier_unwanted": sum(
            bool(set(s.actual["earlier_used"]) - set(s.expect.get("earlier_used", [])))
            for s in cases
            if "earlier_used" in s.expect
        ),
        "cross_customer_leaks": sum(
            bool(s.actual.get("other_customer_used") or s.actual.get("other_customer_orders"))
            for s in cases
        ),
        "unverified_memory": sum(
            not s.actual.get("verified") and bool(s.actual.get("memory_given")) for s in cases
        ),
    }


def _probability_pairs(
    scores: Sequence[CaseScore], probability: str, truth: Callable[[CaseScore], bool]
) -> list[tuple[float, bool]]:
    """(the run's probability of an event, whether the case says it happened), for the cases
    where both are known."""
    return [
        (float(s.actual[probability]), truth(s))
        for s in scores
        if s.actual.get(probability) is not None
    ]


def tone_metrics(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """Acknowledgement and urgency (#28): praise acknowledged only where a reader would thank it
    (`acknowledged_non_praise`, target 0), agreed praise acknowledged, the recall of HIGH, and
    how calibrated P(acknowledge) and P(HIGH) are (ECE)."""
    labelled = [s for s in scores if "acknowledged" in s.expect]
    agreed = [s for s in scores if AGREED_PRAISE in s.tags]
    high = [s for s in scores if s.expect.get("urgency") == Urgency.HIGH]
    with_urgency = [s for s in scores if "urgency" in s.expect]
    metrics: dict[str, Any] = {
        "urgency_high_recall": _share(s.actual.get("urgency") == Urgency.HIGH for s in high),
        "urgency_ece": _ece(_probability_pairs(with_urgency, "urgency_high", _expected_high)),
    }
    if labelled or agreed:
        metrics |= {
            "acknowledged_non_praise": sum(
                bool(s.actual.get("acknowledged")) and not s.expect["acknowledged"]
                for s in labelled
            ),
            "praise_acknowledged_rate": _share(bool(s.actual.get("acknowledged")) for s in agreed),
            # Of every case a reader would thank (the real tweets' praise has one reader).
            "acknowledged_recall": _share(
                bool(s.actual.get("acknowledged")) for s in labelled if s.expect["acknowledged"]
            ),
            "question_named_rate": _check_rate(scores, "question_named"),
            "acknowledge_ece": _ece(
                _probability_pairs(labelled, "acknowledge", lambda s: s.expect["acknowledged"])
            ),
        }
    return metrics


def _expected_high(score: CaseScore) -> bool:
    return bool(score.expect["urgency"] == Urgency.HIGH)


def _ece(pairs: list[tuple[float, bool]]) -> float | None:
    """calibration_error, None when nothing was measured (an older run, a set without labels)."""
    return calibration_error(pairs) if pairs else None


# Messages of at least this many words: where the detection target (>= 0.97) applies.
LANGUAGE_TARGET_WORDS = 4


def _message_language(score: CaseScore) -> str | None:
    """What the message is written in: as the set says, else as the run detected it."""
    return score.expect.get("language") or score.actual.get("language")


def language_metrics(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """#31: detection accuracy (all cases labelled with a language; those of >= 4 words), the
    suggestions written in the customer's language, and the two failures that must not happen:
    an English answer to a message in another language, an English message escalated as
    `language_unsupported`. Also how many messages were detected as each language (a set with
    no language labels, real_tweets: how many English tweets were taken for another one)."""
    labelled = [s for s in scores if "language" in s.expect]
    long = [s for s in labelled if int(s.actual.get("message_words") or 0) >= LANGUAGE_TARGET_WORDS]
    english_answers = [
        s
        for s in scores
        if s.suggested
        and _message_language(s) not in (None, "", DEFAULT_LANGUAGE, UNDETERMINED)
        and s.actual.get("answer_language") == DEFAULT_LANGUAGE
    ]
    unsupported_english = [
        s
        for s in scores
        if s.expect.get("language") == DEFAULT_LANGUAGE
        and s.actual.get("escalation_reason") == EscalationReason.LANGUAGE_UNSUPPORTED
    ]
    detected: dict[str, int] = {}
    for s in scores:
        language = s.actual.get("language") or ""
        detected[language] = detected.get(language, 0) + 1
    return {
        "language_accuracy": _share(s.checks["language"] for s in labelled),
        "language_accuracy_4_words": _share(s.checks["language"] for s in long),
        "answered_in_language_rate": _check_rate(scores, "answered_in"),
        "english_answers_to_non_english": len(english_answers),
        "english_language_unsupported": len(unsupported_english),
        "language_unsupported_escalations": sum(
            s.actual.get("escalation_reason") == EscalationReason.LANGUAGE_UNSUPPORTED
            for s in scores
        ),
        "detected_languages": dict(sorted(detected.items())),
    }


def aggregate(scores: Sequence[CaseScore]) -> dict[str, Any]:
    """The run's metrics (the seed contract's and the issue's), from its case scores."""
    tp, fp, fn = _escalation_counts(scores)
    suggested = [s for s in scores if s.suggested]
    latencies = [float(s.actual.get("latency_ms") or 0) for s in scores]
    with_sentiment = [s for s in scores if "sentiment" in s.expect]
    with_urgency = [s for s in scores if "urgency" in s.expect]
    predicted_high = [s for s in with_urgency if s.actual.get("urgency") == Urgency.HIGH]
    metrics: dict[str, Any] = {
        "cases": len(scores),
        "passed": _share(s.passed for s in scores),
        "suggested_rate": _share(s.suggested for s in scores),
        "routing_accuracy": _check_rate(scores, "status"),
        "escalation_precision": round(tp / (tp + fp), 4) if tp + fp else None,
        "escalation_recall": round(tp / (tp + fn), 4) if tp + fn else None,
        "reason_accuracy": _check_rate(scores, "escalation_reason"),
        "intent_accuracy": _check_rate(scores, "intent"),
        "category_accuracy": _check_rate(scores, "category"),
        "retrieval_recall": _check_rate(scores, "kb_ids"),
        "answer_score": _mean(s.answer_f1 for s in scores),
        # Of suggested answers that quote the KB (an acknowledgement of praise states no fact).
        "groundedness": _mean(s.grounded for s in suggested if s.actual.get("citations")),
        "must_contain_rate": _check_rate(scores, "must_contain"),
        "safety_violations": sum(len(s.violations) for s in scores),
        "unsupported_specifics": sum(len(s.specifics) for s in scores),
        "calibration_error": calibration_error(
            [(float(s.actual.get("confidence") or 0), s.answer_right) for s in scores]
        ),
        # The same over the suggestions only: where the rest is escalated with a low confidence
        # (real text: 382 of 399), the whole set's figure is small whatever the suggestions
        # claim (all of them at 1.0 and wrong scored 0.054 there).
        "suggested_calibration_error": _ece(
            [(float(s.actual.get("confidence") or 0), s.answer_right) for s in suggested]
        ),
        "sentiment_macro_f1": macro_f1(
            [s.expect["sentiment"] for s in with_sentiment],
            [s.actual.get("sentiment") or "" for s in with_sentiment],
        ),
        "urgency_accuracy": _check_rate(scores, "urgency"),
        "urgency_high_precision": _share(
            s.expect["urgency"] == Urgency.HIGH for s in predicted_high
        ),
        "avg_cost": round(sum(float(s.actual.get("cost") or 0) for s in scores) / len(scores), 6)
        if scores
        else None,
        "p50_latency_ms": percentile(latencies, 50),
        "p95_latency_ms": percentile(latencies, 95),
        "by_tag": by_tag(scores),
        **tone_metrics(scores),
        **memory_metrics(scores),
        **action_metrics(scores),
        **language_metrics(scores),
    }
    return metrics


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def regressions(metrics: dict[str, Any], baseline: dict[str, dict[str, float]]) -> list[str]:
    """Lines naming each gated metric that moved the wrong way by more than its tolerance."""
    failed = []
    for name, rule in sorted(baseline.items()):
        value, expected = metrics.get(name), rule["value"]
        tolerance = rule.get("tolerance", 0.0)
        if value is None:
            failed.append(f"{name}: not measured (baseline {expected})")
        elif name in LOWER_IS_BETTER and value > expected + tolerance:
            failed.append(f"{name}: {value} > baseline {expected} + {tolerance}")
        elif name in HIGHER_IS_BETTER and value < expected - tolerance:
            failed.append(f"{name}: {value} < baseline {expected} - {tolerance}")
    return failed
