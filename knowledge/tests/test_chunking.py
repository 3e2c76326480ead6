from __future__ import annotations

import itertools

from knowledge.chunking import chunk_text, split_units
from knowledge.embeddings import count_tokens


def test_short_text_is_one_chunk() -> None:
    assert chunk_text("Refunds take five days. Contact us for help.") == [
        "Refunds take five days. Contact us for help."
    ]


def test_long_text_chunks_fit_the_window_and_overlap() -> None:
    sentences = [
        f"Step {i} of the returns process needs the parcel label number {i}." for i in range(60)
    ]
    chunks = chunk_text(" ".join(sentences), max_tokens=120, overlap_tokens=30)
    assert len(chunks) > 3
    assert all(count_tokens(chunk) <= 120 for chunk in chunks)
    for before, after in itertools.pairwise(chunks):
        last_sentence = split_units(before)[-1]
        assert last_sentence in split_units(after)[:3], "consecutive chunks share edge sentences"
    for sentence in sentences:
        assert any(sentence in chunk for chunk in chunks)


def test_a_sentence_longer_than_the_window_is_cut_between_words() -> None:
    words = " ".join(f"word{i}" for i in range(400))
    chunks = chunk_text(words, max_tokens=100, overlap_tokens=20)
    assert len(chunks) >= 4
    assert all(count_tokens(chunk) <= 100 for chunk in chunks)
    assert " ".join(chunks).split() == words.split()


def test_list_items_and_paragraphs_are_boundaries() -> None:
    text = "Do this:\n1. Log in\n2. Open orders\n\nThen wait."
    assert split_units(text) == ["Do this:", "1. Log in", "2. Open orders", "Then wait."]
