"""The tone model's wording heads (#28): hashed word and character n-grams whose probabilities
feed the sentiment, urgency and acknowledgement heads, a vocabulary kept as hashes only, and the
words they name on the console's hover."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from django.conf import settings

from agents.management.commands.train_tone import labelled_tweets
from agents.triage.lexical import CHAR_MIN_DF, WORD_MIN_DF, HashedNgrams
from agents.triage.tone_model import (
    LEXICAL_HEADS,
    class_probabilities,
    features,
    load_tone_model,
)

TRAINING = [
    "my parcel is late again",
    "my parcel arrived, thanks",
    "late again, so annoying",
    "refund still missing",
]


def test_only_frequent_ngrams_are_kept_and_each_part_is_normalised() -> None:
    ngrams = HashedNgrams().fit(TRAINING)
    rows = ngrams.transform(["my parcel is late again", "zebra xylophone"])
    words = len(ngrams.columns["word"])
    word_part, char_part = rows[:, :words].toarray(), rows[:, words:].toarray()
    # "my parcel", "late again", "again", "late", "my", "parcel" are in two messages; "is" in one.
    assert np.count_nonzero(word_part[0]) == 6 >= WORD_MIN_DF
    assert np.linalg.norm(word_part[0]) == pytest.approx(1.0, abs=1e-5)
    assert np.linalg.norm(char_part[0]) == pytest.approx(1.0, abs=1e-5)
    assert CHAR_MIN_DF > 1 and not rows[1].nnz  # nothing of an unseen message is kept
    assert [word for word, _ in ngrams.word_columns("Parcel late AGAIN, is it")] == [
        "parcel",
        "late",
    ]  # known words, not stop words ("again", "is", "it"), in the message's order


def test_the_vocabulary_is_kept_as_hashes_not_words() -> None:
    ngrams = HashedNgrams().fit(TRAINING)
    stored = pickle.dumps(ngrams)
    assert b"parcel" not in stored and b"refund" not in stored
    restored = pickle.loads(stored)
    assert (restored.transform(TRAINING) != ngrams.transform(TRAINING)).nnz == 0


def test_the_shipped_wording_heads_store_no_tweet_text() -> None:
    model = load_tone_model()
    assert set(model.lexical) == set(LEXICAL_HEADS) == {"sentiment", "urgency", "ack"}
    stored = pickle.dumps((model.ngrams, model.lexical))
    tweets = labelled_tweets(settings.BASE_DIR.parent / "shared" / "datasets")
    # Words of 8+ letters from the tweets trained on: none is in the artifact's wording models.
    words = {w for t in tweets[:300] for w in t["text"].split() if w.isalpha() and len(w) >= 8}
    assert len(words) > 100
    assert not [w for w in words if w.encode() in stored]


def test_the_wording_is_named_when_it_decided() -> None:
    model = load_tone_model()
    (tone,) = model.predict(["ugh my flight got cancelled again and I fly out tonight, help!!"])
    assert tone.urgency == "HIGH"
    # The urgency head's cues include the words its wording model reads as urgent.
    assert set(tone.cues["urgency"]) & {"“cancelled”", "“tonight”", "“flight”"}
    assert model.wording_cues("urgency", "HIGH", "where is my order?") == []


def test_a_two_class_head_names_its_wording_too() -> None:
    model = load_tone_model()
    assert len(model.lexical["ack"].classes_) == 2  # one row of coefficients
    (thanks,) = model.predict(["thank you so much, the team sorted it in minutes, amazing"])
    assert thanks.acknowledge >= model.ack_min
    assert thanks.cues["ack"]
    assert set(model.wording_cues("ack", "yes", "thank you, amazing")) <= {"“thank”", "“amazing”"}


def test_probabilities_computed_directly_equal_sklearns() -> None:
    model = load_tone_model()
    texts = ["thanks for nothing 🙄", "where is my order?", "", "مرحبا", "urgent!!! " * 200]
    ngrams = model.ngrams.transform(texts)
    assert ngrams.shape[0] == len(texts)
    for wording in model.lexical.values():  # sparse input; one binary head among them
        expected = wording.predict_proba(ngrams)
        assert np.allclose(class_probabilities(wording, ngrams), expected, atol=1e-9)
    matrix = features(texts)
    found = model.raw_probabilities(matrix, texts)
    for head, final in model.heads.items():  # dense input, the wording's columns first
        columns = [model.lexical[head].predict_proba(ngrams)] if head in model.lexical else []
        expected = final.predict_proba(np.hstack([*columns, matrix]))
        assert np.allclose(found[head], expected, atol=1e-9), head
