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
    WORDING_HEADS,
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
    assert WORD_MIN_DF == 2 and np.count_nonzero(word_part[0]) == 6
    assert np.linalg.norm(word_part[0]) == pytest.approx(1.0, abs=1e-5)
    assert np.linalg.norm(char_part[0]) == pytest.approx(1.0, abs=1e-5)
    assert CHAR_MIN_DF > 1 and not rows[1].nnz  # nothing of an unseen message is kept
    assert [word for word, _ in ngrams.word_columns("Parcel late AGAIN, is it")] == [
        "parcel",
        "late",
    ]  # known words, not stop words ("again", "is", "it"), in the message's order


def test_the_vocabulary_is_kept_as_hashes_not_words() -> None:
    ngrams = HashedNgrams().fit(TRAINING)
    expected = ngrams.transform(TRAINING)  # fills the 2^20-wide lookups
    stored = pickle.dumps(ngrams)
    assert b"parcel" not in stored and b"refund" not in stored
    assert len(stored) < 100_000  # the lookups (8 MB each) are rebuilt on load, not stored
    restored = pickle.loads(stored)
    assert (restored.transform(TRAINING) != expected).nnz == 0
    assert restored.width == expected.shape[1]


def test_n_grams_hashed_another_way_are_refused() -> None:
    state = HashedNgrams().fit(TRAINING).__getstate__()
    with pytest.raises(ValueError, match="retrain"):
        HashedNgrams().__setstate__({**state, "hashing": "n_features=1024"})


def test_the_shipped_wording_heads_store_no_tweet_text() -> None:
    model = load_tone_model()
    assert set(model.wording_models) == set(WORDING_HEADS) == {"sentiment", "urgency", "ack"}
    stored = pickle.dumps((model.ngrams, model.wording_models))
    tweets = labelled_tweets(settings.BASE_DIR.parent / "shared" / "datasets")
    # Words of 8+ letters from the tweets trained on: none is in the artifact's wording models.
    words = {w for t in tweets[:300] for w in t["text"].split() if w.isalpha() and len(w) >= 8}
    assert len(words) > 100
    assert not [w for w in words if w.encode() in stored]


def test_the_wording_is_named_when_it_decided() -> None:
    model = load_tone_model()
    text = "ugh my flight got cancelled again and I fly out tonight, help!!"
    (tone,) = model.predict([text])
    assert tone.urgency == "HIGH"
    # "cancelled" is no cue detector's: only the wording model names it.
    assert "“cancelled”" in model.wording_cues("urgency", "HIGH", text)
    assert "“cancelled”" in tone.cues["urgency"]
    assert "“cancelled”" not in model.wording_cues("urgency", "LOW", text)
    assert model.wording_cues("urgency", "HIGH", "where is my order?") == []


def test_a_two_class_head_names_its_wording_too() -> None:
    model = load_tone_model()
    assert len(model.wording_models["ack"].classes_) == 2  # one row of coefficients
    (thanks,) = model.predict(["thank you so much, the team sorted it in minutes, amazing"])
    assert thanks.acknowledge >= model.ack_min
    assert thanks.cues["ack"]
    # The one row of coefficients is the second class's ("yes"): its words for "yes" are the
    # ones that are not for "no".
    said_yes = model.wording_cues("ack", "yes", "thank you, amazing")
    assert said_yes and set(said_yes) <= {"“thank”", "“amazing”"}
    assert not set(said_yes) & set(model.wording_cues("ack", "no", "thank you, amazing"))


def test_probabilities_computed_directly_equal_sklearns() -> None:
    model = load_tone_model()
    texts = ["thanks for nothing 🙄", "where is my order?", "", "مرحبا", "urgent!!! " * 200]
    assert model.ngrams is not None
    ngrams = model.ngrams.transform(texts)
    assert ngrams.shape[0] == len(texts)
    for wording in model.wording_models.values():  # sparse input; one binary head among them
        expected = wording.predict_proba(ngrams)
        assert np.allclose(class_probabilities(wording, ngrams), expected, atol=1e-9)
    matrix = features(texts)
    found = model.raw_probabilities(matrix, texts)
    for head, final in model.heads.items():  # dense input, the wording's columns first
        columns = (
            [model.wording_models[head].predict_proba(ngrams)]
            if head in model.wording_models
            else []
        )
        expected = final.predict_proba(np.hstack([*columns, matrix]))
        assert np.allclose(found[head], expected, atol=1e-9), head
