"""What kind of message this is (a store question, a company-specific problem, a complaint,
praise, or no request at all), its sentiment and its urgency, read from the message's meaning (the
MiniLM sentence embedding the KB search uses) plus a sentiment lexicon built for social and chat
text (VADER) and the cue detectors of agents/triage/cues.py (sarcasm, irony emoji, praise of
someone else, thanks closing a complaint, urgency phrases, repeated failures, threats to leave).
The sentiment, urgency and acknowledgement heads also read the wording: a logistic regression on
the message's hashed word and character n-grams (agents/triage/lexical.py) per head, whose
probabilities are features of the head (WORDING_HEADS).

Trained by `manage.py train_tone` on support messages written for training
(agents/training/support_messages.jsonl), labelled tweets of the shared pool that no eval set
holds (agents/training/tweet_labels.jsonl, and tweet_labels_more.jsonl for the heads that read
the wording: labels only, the text is read from ../shared/datasets/twcs at training time),
Bitext store questions of the train template families and CLINC150's out-of-scope training
queries. Each head's probabilities are calibrated (temperature and, for sentiment and urgency, a
bias per class) on the real-tweet tuning half (evals/sets/real_tweets_dev.jsonl), where the
decision rules are chosen too; never on the evaluation half. The artifact is
agents/artifacts/TONE_MODEL.joblib with a JSON card of its measured quality."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

import agents.triage.cues as cue_detectors
from agents.triage.classifier import ARTIFACTS
from agents.triage.lexical import HashedNgrams
from resolver.once import once_per_process
from support.vocabulary import Sentiment, Urgency

# "ack": would a person reply with a thank-you (genuine thanks or praise of this company with
# nothing to fix or answer)? A head of its own: the kind head splits plain thanks between praise
# and other, so P(praise) says it too seldom.
HEADS = ("kind", "sentiment", "urgency", "ack")
# Heads that also read the message's wording: a logistic regression on its word and character
# n-grams (agents/triage/lexical.py) whose probabilities are features of the head, out-of-fold
# while training. Chosen on the tuning sets (README, "Tone model v3"): sentiment and urgency on
# real_tweets_dev, the acknowledgement there and on tone_dev.
WORDING_HEADS = ("sentiment", "urgency", "ack")
WORDING_FOLDS = 5
# The wording models' regularisation: 0.5, 1 and 3 were compared on the tuning half (README,
# "Tone model v3"), 1 kept.
WORDING_C = 1.0
WORDING = "wording"
# A word's weight towards a label in its wording model from which it is worth naming as a cue:
# the weights of words the tuning half's messages share run to about 5; below 1 a word names
# little more than its topic ("order", "delivery").
WORDING_CUE_MIN = 1.0
ACK, NO_ACK = "yes", "no"
# Regularisation per head, chosen on the real-tweet tuning set (README, "Quality").
HEAD_C = {"kind": 1.0, "sentiment": 1.0, "urgency": 1.0, "ack": 1.0}
# Labelled tweets weigh more than written messages: they are the text the model meets.
TWEET_WEIGHT = 3.0
# Decision rules on top of the calibrated probabilities, chosen on the tuning set and stored in
# the artifact (these are the defaults of an artifact that has none): HIGH urgency sorts a
# message to the top of the queue, so it is said only when the model is fairly sure (precision
# first); otherwise the likelier of NORMAL and LOW.
SENTIMENT_WEIGHTS: dict[str, float] = {Sentiment.NEGATIVE: 1.0}
URGENCY_HIGH_MIN = 0.5
# P(ack) from which a message is thanked (when no veto cue fires): the artifact's, chosen on the
# tuning set for recall with at most ~1 % of the other messages thanked.
ACK_MIN = 0.5
MAX_CUES = 3
# The length feature (words / 60) from which "long message" is a cue worth showing.
LONG_MESSAGE = 0.5
# Surface features, in the artifact's column order after the embedding; the detectors of
# cues.DETECTORS follow them (cue_detectors.FEATURE_DETECTORS).
SURFACE = (
    "negative_words",
    "neutral_words",
    "positive_words",
    "overall_polarity",
    "question_marks",
    "exclamations",
    "shouting",
    "length",
)
FEATURE_NAMES = SURFACE + tuple(d.name for d in cue_detectors.FEATURE_DETECTORS)
_WORD = re.compile(r"[\w']+")


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def surface_features(text: str, detected: dict[str, list[str]] | None = None) -> list[float]:
    """Lexicon, surface and cue-detector features (FEATURE_NAMES), scaled to about [-1, 1]."""
    detected = detected if detected is not None else cue_detectors.detect(text)
    scores = _vader().polarity_scores(text)
    words = text.split()
    shouted = sum(w.isupper() and len(w) > 2 for w in words)
    return [
        scores["neg"],
        scores["neu"],
        scores["pos"],
        scores["compound"],
        min(1.0, text.count("?") / 2),
        min(1.0, text.count("!") / 3),
        min(1.0, shouted / 3),
        min(1.0, len(words) / 60),
    ] + [min(1.0, len(detected[d.name]) / 2) for d in cue_detectors.FEATURE_DETECTORS]


def features(texts: Sequence[str]) -> np.ndarray:
    from knowledge.embeddings import embed_queries, embed_query

    # One message (a graph run): the cached vector the KB search of the same text reuses.
    meaning = embed_query(texts[0])[None, :] if len(texts) == 1 else embed_queries(list(texts))
    surface = np.asarray([surface_features(text) for text in texts], dtype=np.float32)
    return np.hstack([meaning, surface])


def lexicon_words(text: str, sign: float) -> list[str]:
    """The message's words that VADER's lexicon scores with this sign, strongest first."""
    lexicon = _vader().lexicon
    scored = {
        word: float(lexicon[word.lower()])
        for word in _WORD.findall(text)
        if word.lower() in lexicon and float(lexicon[word.lower()]) * sign > 0
    }
    return [cue_detectors.quoted(w) for w in sorted(scored, key=lambda w: -abs(scored[w]))]


def readable(name: str, value: float, text: str, detected: dict[str, list[str]]) -> list[str]:
    """What a feature saw in the text, as cues a person can read."""
    if name == "negative_words":
        return lexicon_words(text, -1)
    if name == "positive_words":
        return lexicon_words(text, 1)
    if name == "overall_polarity":
        return lexicon_words(text, value)
    if name == "question_marks":
        return ["question mark"]
    if name == "exclamations":
        return ["exclamation marks"]
    if name == "shouting":
        return cue_detectors.shouting_cues(text)
    if name == "length":
        return ["long message"] if value >= LONG_MESSAGE else []
    return detected.get(name, [])


@dataclass(frozen=True)
class Tone:
    kind: str
    kind_scores: dict[str, float]  # calibrated probability of each kind
    sentiment: str
    sentiment_confidence: float
    urgency: str
    urgency_confidence: float
    sentiment_scores: dict[str, float] = field(default_factory=dict)
    urgency_scores: dict[str, float] = field(default_factory=dict)
    # Per head ("kind", "sentiment", "urgency", "ack"): up to MAX_CUES short reasons.
    cues: dict[str, list[str]] = field(default_factory=dict)
    acknowledge: float = 0.0  # calibrated P(a person would thank it), the ack head
    acknowledge_min: float = ACK_MIN  # the model's decision threshold on it


@dataclass(frozen=True)
class Calibration:
    """Temperature scaling with a bias per class on the log-probabilities: the probabilities
    of a model trained on written messages and tweets, fitted to how often it is right on
    real tweets."""

    temperature: float = 1.0
    bias: tuple[float, ...] = ()

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        logits = np.log(np.clip(probabilities, 1e-9, 1.0)) / self.temperature
        if self.bias:
            logits = logits + np.asarray(self.bias)
        logits -= logits.max(axis=1, keepdims=True)
        scaled = np.exp(logits)
        return np.asarray(scaled / scaled.sum(axis=1, keepdims=True))


def fit_calibration(probabilities: np.ndarray, truth: np.ndarray, with_bias: bool) -> Calibration:
    """Minimises the log-loss of the calibrated probabilities (`truth`: class indices)."""
    from scipy.optimize import minimize

    classes = probabilities.shape[1]
    logs = np.log(np.clip(probabilities, 1e-9, 1.0))

    def loss(params: np.ndarray) -> float:
        logits = logs / params[0] + (params[1:] if with_bias else 0.0)
        logits = logits - logits.max(axis=1, keepdims=True)
        log_norm = np.log(np.exp(logits).sum(axis=1))
        return float(-(logits[np.arange(len(truth)), truth] - log_norm).mean())

    start = np.r_[1.0, np.zeros(classes if with_bias else 0)]
    bounds = [(0.05, 20.0)] + [(-5.0, 5.0)] * (classes if with_bias else 0)
    found = minimize(loss, start, bounds=bounds, method="L-BFGS-B").x
    bias = tuple(float(b) for b in found[1:]) if with_bias else ()
    return Calibration(float(found[0]), bias)


@dataclass
class ToneModel:
    heads: dict[str, Any]  # head → a fitted LogisticRegression
    version: str
    calibration: dict[str, Calibration] = field(default_factory=dict)
    sentiment_weights: dict[str, float] = field(default_factory=lambda: dict(SENTIMENT_WEIGHTS))
    urgency_high_min: float = URGENCY_HIGH_MIN
    ack_min: float = ACK_MIN
    ngrams: HashedNgrams | None = None
    # head → its wording model, a LogisticRegression on `ngrams`' columns
    wording_models: dict[str, Any] = field(default_factory=dict)

    def wording(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Per head that reads the wording, its wording model's probabilities, one row per text
        (the n-grams are computed once for all of them)."""
        if not self.wording_models or self.ngrams is None:
            return {}
        ngrams = self.ngrams.transform(texts)
        return {
            head: class_probabilities(model, ngrams) for head, model in self.wording_models.items()
        }

    def raw_probabilities(
        self,
        matrix: np.ndarray,
        texts: Sequence[str],
        wording: dict[str, np.ndarray] | None = None,
    ) -> dict[str, np.ndarray]:
        """Each head's uncalibrated probabilities, one row per text. A head that reads the
        wording has its wording model's probabilities first (the named features stay last,
        where `explain` reads them)."""
        wording = self.wording(texts) if wording is None else wording
        return {
            head: class_probabilities(
                model, np.hstack([wording[head], matrix]) if head in wording else matrix
            )
            for head, model in self.heads.items()
        }

    def probabilities(
        self,
        matrix: np.ndarray,
        texts: Sequence[str],
        wording: dict[str, np.ndarray] | None = None,
    ) -> dict[str, list[dict[str, float]]]:
        """Calibrated probabilities, head → one {label: p} per row."""
        decoded: dict[str, list[dict[str, float]]] = {}
        for head, raw in self.raw_probabilities(matrix, texts, wording).items():
            model = self.heads[head]
            if head in self.calibration:
                raw = self.calibration[head].apply(raw)
            labels = [str(label) for label in model.classes_]
            decoded[head] = [dict(zip(labels, map(float, row), strict=True)) for row in raw]
        return decoded

    def decide(self, scores: dict[str, dict[str, float]]) -> dict[str, str]:
        return {
            "kind": _likeliest(scores["kind"]),
            "sentiment": _likeliest(scores["sentiment"], self.sentiment_weights),
            "urgency": _urgency(scores["urgency"], self.urgency_high_min),
            "ack": ACK if scores["ack"].get(ACK, 0.0) >= self.ack_min else NO_ACK,
        }

    def predict(self, texts: Sequence[str]) -> list[Tone]:
        if not texts:
            return []
        matrix = features(texts)
        wording = self.wording(texts)
        probabilities = self.probabilities(matrix, texts, wording)
        tones = []
        for row, text in enumerate(texts):
            scores = {head: probabilities[head][row] for head in HEADS}
            best = self.decide(scores)
            detected = cue_detectors.detect(text)
            tones.append(
                Tone(
                    kind=best["kind"],
                    kind_scores=_rounded(scores["kind"]),
                    sentiment=best["sentiment"],
                    sentiment_confidence=round(scores["sentiment"][best["sentiment"]], 4),
                    urgency=best["urgency"],
                    urgency_confidence=round(scores["urgency"].get(best["urgency"], 0.0), 4),
                    sentiment_scores=_rounded(scores["sentiment"]),
                    urgency_scores=_rounded(scores["urgency"]),
                    acknowledge=round(scores["ack"].get(ACK, 0.0), 4),
                    acknowledge_min=self.ack_min,
                    cues={
                        head: self.explain(
                            head,
                            best[head],
                            matrix[row],
                            text,
                            detected,
                            wording[head][row] if head in wording else None,
                        )
                        for head in HEADS
                    },
                )
            )
        return tones

    def explain(
        self,
        head: str,
        label: str,
        row: np.ndarray,
        text: str,
        detected: dict[str, list[str]],
        wording: np.ndarray | None = None,
    ) -> list[str]:
        """Up to MAX_CUES cues that pushed `head` towards `label`: the named features present in
        the text, by their contribution to the label's logit against the other labels'; then
        the detectors the label is known for (sarcasm for a complaint) if the model said none.
        `wording`: the head's wording-model probabilities for this text, if it reads the wording
        (its words are named when the wording pushed most)."""
        model = self.heads[head]
        coef = np.asarray(model.coef_)
        direction = towards(label, model.classes_, coef[:, -len(FEATURE_NAMES) :])
        values = row[-len(FEATURE_NAMES) :]
        candidates = [
            (float(direction[i] * values[i]), name)
            for i, name in enumerate(FEATURE_NAMES)
            if values[i] != 0
        ]
        if wording is not None:
            # The wording model's probabilities are the head's first columns; measured from
            # even odds, as an absent named feature counts nothing.
            towards_label = towards(label, model.classes_, coef[:, : len(wording)])
            even = np.full(len(wording), 1 / len(wording))
            candidates.append((float(towards_label @ (wording - even)), WORDING))
        found: list[str] = []
        for contribution, name in sorted(candidates, reverse=True):
            if contribution <= 0 or len(found) >= MAX_CUES:
                break
            if name == WORDING:
                cues = self.wording_cues(head, label, text)
            else:
                cues = readable(name, float(values[FEATURE_NAMES.index(name)]), text, detected)
            for cue in cues:
                if cue not in found and len(found) < MAX_CUES:
                    found.append(cue)
        return found

    def wording_cues(self, head: str, label: str, text: str) -> list[str]:
        """The message's words the wording model reads most as `label` (quoted), strongest
        first: what "the wording" means on the console's hover."""
        if self.ngrams is None or head not in self.wording_models:
            return []
        model = self.wording_models[head]
        found = self.ngrams.word_columns(text)
        if not found:
            return []
        # Only the message's own columns: the model has tens of thousands.
        coef = np.asarray(model.coef_)[:, [column for _, column in found]]
        direction = towards(label, model.classes_, coef)
        weights = [(float(direction[i]), word) for i, (word, _) in enumerate(found)]
        strong = sorted((x for x in weights if x[0] >= WORDING_CUE_MIN), reverse=True)
        return [cue_detectors.quoted(word) for _, word in strong[:2]]

    def save(self, name: str, card: dict[str, Any]) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.joblib"
        joblib.dump(
            {
                "heads": self.heads,
                "calibration": {
                    head: {"temperature": c.temperature, "bias": list(c.bias)}
                    for head, c in self.calibration.items()
                },
                "sentiment_weights": self.sentiment_weights,
                "urgency_high_min": self.urgency_high_min,
                "ack_min": self.ack_min,
                "feature_names": list(FEATURE_NAMES),
                "ngrams": self.ngrams,
                "wording_models": self.wording_models,
            },
            path,
            compress=3,
        )
        (ARTIFACTS / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
        return path


def class_probabilities(model: Any, matrix: Any) -> np.ndarray:
    """A fitted logistic regression's predict_proba, computed directly: sklearn's own checks
    its input first, which for one message costs several times the arithmetic (the tone model
    runs seven of them per draft). Softmax over the classes' scores (multinomial), the logistic
    function for two classes; equal to predict_proba (agents/tests/test_tone_wording.py)."""
    from scipy.special import expit
    from sklearn.utils.extmath import softmax  # as the intent classifier's scorer

    scores = np.asarray(matrix @ np.asarray(model.coef_).T) + model.intercept_
    if scores.shape[1] == 1:
        positive = expit(scores[:, 0])
        return np.column_stack([1.0 - positive, positive])
    return np.asarray(softmax(scores, copy=False))


def towards(label: str, classes: Any, coef: np.ndarray) -> np.ndarray:
    """Per feature, how much it raises `label`'s logit against the other labels' (a logistic
    regression's coefficients, `coef` one row per class; a two-class model has one row, for
    its second class)."""
    index = [str(c) for c in classes].index(label)
    if coef.shape[0] == 1:
        return np.asarray(coef[0] if index == 1 else -coef[0])
    return np.asarray(coef[index] - coef.mean(axis=0))


def _rounded(scores: dict[str, float]) -> dict[str, float]:
    return {label: round(float(p), 4) for label, p in scores.items()}


def _likeliest(scores: dict[str, float], weights: dict[str, float] | None = None) -> str:
    weights = weights or {}
    return max(scores, key=lambda label: scores[label] * weights.get(label, 1.0))


def _urgency(scores: dict[str, float], high_min: float = URGENCY_HIGH_MIN) -> str:
    if scores.get(Urgency.HIGH, 0.0) >= high_min:
        return Urgency.HIGH
    return max((Urgency.NORMAL, Urgency.LOW), key=lambda label: scores.get(label, 0.0))


def train(
    examples: dict[str, tuple[list[str], list[str], list[float]]],
    version: str,
    matrices: dict[str, np.ndarray] | None = None,
) -> ToneModel:
    """examples: head → (texts, labels, weights). Each head is a logistic regression on the
    features; the kind head weighs its classes evenly (store questions outnumber the rest); a
    head of WORDING_HEADS also on its wording model's out-of-fold probabilities.
    `matrices`: head → the texts' features, when the caller has them already."""
    from sklearn.linear_model import LogisticRegression

    # Each distinct text is embedded once, whichever heads it trains.
    distinct = list(dict.fromkeys(text for head in HEADS for text in examples[head][0]))
    row_of = {text: row for row, text in enumerate(distinct)}
    every = features(distinct) if not matrices else None
    wording = list(dict.fromkeys(t for head in WORDING_HEADS for t in examples[head][0]))
    ngrams = HashedNgrams().fit(wording)
    heads, wording_models = {}, {}
    for head in HEADS:
        texts, labels, weights = examples[head]
        if matrices:
            matrix = matrices[head]
        else:
            assert every is not None
            matrix = every[[row_of[text] for text in texts]]
        if head in WORDING_HEADS:
            found = fit_wording_model(ngrams.transform(texts), labels, weights)
            wording_models[head], held_out = found
            matrix = np.hstack([held_out, matrix])
        weighting = "balanced" if head == "kind" else None
        model = LogisticRegression(C=HEAD_C[head], max_iter=4000, class_weight=weighting)
        model.fit(matrix, labels, sample_weight=np.asarray(weights))
        heads[head] = model
    return ToneModel(heads, version, ngrams=ngrams, wording_models=wording_models)


def fit_wording_model(
    ngrams: Any, labels: list[str], weights: list[float]
) -> tuple[Any, np.ndarray]:
    """The wording model of a head, and its out-of-fold probabilities for the training rows:
    the head learns how far to trust it from predictions on text it was not fitted on."""
    from sklearn.model_selection import StratifiedKFold

    y, w = np.asarray(labels), np.asarray(weights)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < WORDING_FOLDS:
        # Every fold must see every class, or its probabilities have fewer columns.
        rare = classes[counts < WORDING_FOLDS].tolist()
        raise ValueError(f"labels {rare} have fewer than {WORDING_FOLDS} training messages")
    held_out = np.zeros((len(y), len(classes)))
    folds = StratifiedKFold(WORDING_FOLDS, shuffle=True, random_state=0)
    for fit_rows, predict_rows in folds.split(np.zeros(len(y)), y):
        fold = _wording_regression().fit(ngrams[fit_rows], y[fit_rows], sample_weight=w[fit_rows])
        held_out[predict_rows] = fold.predict_proba(ngrams[predict_rows])
    return _wording_regression().fit(ngrams, y, sample_weight=w), held_out


def _wording_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=WORDING_C, max_iter=4000)


def from_artifact(data: dict[str, Any], version: str) -> ToneModel:
    """An artifact's model; one without calibration or decision rules gets the defaults."""
    width = settings.EMBEDDING_DIMENSIONS + len(FEATURE_NAMES)
    if set(data["heads"]) != set(HEADS):
        raise ValueError(f"{version} lacks heads {set(HEADS) - set(data['heads'])}; retrain it")
    wording_models = data.get("wording_models") or {}
    ngrams = data.get("ngrams")
    if any(ngrams is None or m.n_features_in_ != ngrams.width for m in wording_models.values()):
        raise ValueError(f"{version}'s wording models do not fit its n-grams; retrain it")
    for name, head in data["heads"].items():
        extra = len(wording_models[name].classes_) if name in wording_models else 0
        if head.n_features_in_ != width + extra:
            raise ValueError(f"{version} was trained on other features; retrain it (train_tone)")
    calibration = {
        head: Calibration(float(c["temperature"]), tuple(c["bias"]))
        for head, c in data.get("calibration", {}).items()
    }
    return ToneModel(
        data["heads"],
        version,
        calibration,
        dict(data.get("sentiment_weights", SENTIMENT_WEIGHTS)),
        float(data.get("urgency_high_min", URGENCY_HIGH_MIN)),
        float(data.get("ack_min", ACK_MIN)),
        ngrams,
        wording_models,
    )


@once_per_process
def load_tone_model() -> ToneModel:
    data = joblib.load(ARTIFACTS / f"{settings.TONE_MODEL}.joblib")
    return from_artifact(data, settings.TONE_MODEL)
