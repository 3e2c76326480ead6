"""Ingest is idempotent, reports bad rows by line number, and re-embeds only changed text."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from knowledge.embeddings import embed_documents
from knowledge.ingest import SourceError, ingest, upsert_documents
from knowledge.ingest.upsert import text_hash
from knowledge.models import ChunkKind, DocumentSource, EmbeddingStatus, KBChunk, KBDocument
from knowledge.tests.articles import ARTICLES

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"


def write_jsonl(path: Path, records: list[object]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n")
    return path


def test_reingest_is_idempotent(db: None) -> None:
    first = upsert_documents(ARTICLES)
    assert (first.created, first.updated, first.unchanged) == (5, 0, 0)
    chunk_ids = set(KBChunk.objects.values_list("id", flat=True))
    second = upsert_documents(ARTICLES)
    assert (second.created, second.updated, second.unchanged, second.chunks_embedded) == (
        0,
        0,
        5,
        0,
    )
    assert KBDocument.objects.count() == 5
    assert set(KBChunk.objects.values_list("id", flat=True)) == chunk_ids
    assert set(KBDocument.objects.values_list("embedding_status", flat=True)) == {"ready"}


def test_changed_document_reembeds_only_changed_passages(db: None) -> None:
    upsert_documents(ARTICLES)
    edited = [*ARTICLES]
    refund = edited[1]
    edited[1] = type(refund)(**{**refund.__dict__, "content": "Refunds go back to your card."})
    report = upsert_documents(edited)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)
    assert report.chunks_embedded == 1  # the new content; its question kept its vector
    doc = KBDocument.objects.get(external_id="refund")
    assert list(doc.chunks.filter(kind=ChunkKind.CONTENT).values_list("text", flat=True)) == [
        "Refunds go back to your card."
    ]
    assert doc.chunks.filter(kind=ChunkKind.QUESTION).get().text == "I want my money back"
    assert not KBChunk.objects.filter(embedding__isnull=True).exists()


def test_questions_are_stored_in_metadata_and_indexed(db: None) -> None:
    upsert_documents(ARTICLES)
    doc = KBDocument.objects.get(external_id="password")
    assert doc.metadata["questions"] == [
        "I can't log in to my profile",
        "how do I change my password?",
    ]
    assert doc.chunks.filter(kind=ChunkKind.QUESTION).count() == 2


def test_jsonl_bad_lines_are_reported_and_skipped(db: None, tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "kb.jsonl",
        [
            {"title": "Opening hours", "content": "We are open 9-17 on weekdays."},
            "{not json",
            {"title": "", "content": "no title"},
            {"title": "Bad source", "content": "x", "source": "nowhere"},
            {"title": "Gift cards", "content": "Gift cards never expire.", "external_id": "gift"},
        ],
    )
    report = ingest("jsonl", path)
    assert report.created == 2
    assert [(p.line, p.reason) for p in report.problems] == [
        (2, "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
        (3, "missing title"),
        (4, "unknown source 'nowhere'"),
    ]
    assert report.skipped == 3
    assert KBDocument.objects.filter(external_id="gift", source=DocumentSource.JSONL).exists()


def test_rows_the_database_cannot_store_are_problems_not_a_failed_import(
    db: None, tmp_path: Path
) -> None:
    path = tmp_path / "kb.jsonl"
    good = {"title": "Opening hours", "content": "We are open 9-17 on weekdays."}
    lines = [
        json.dumps(good),
        json.dumps({"title": "Long intent", "content": "c", "intent": "x" * 65}),
        json.dumps({"title": "A NUL", "content": "a\u0000b"}),
        '{"title": "NaN", "content": "c", "metadata": {"x": NaN}}',
        # Escaped to ASCII by json.dumps, it passed the check; PostgreSQL's jsonb refuses it.
        '{"title": "S", "content": "c", "metadata": {"x": "\\ud83d"}}',
        json.dumps({"title": "Gift cards", "content": "They never expire.", "external_id": "gift"}),
    ]
    path.write_text("\n".join(lines) + "\n")

    report = ingest("jsonl", path)

    assert report.created == 2
    assert [p.reason for p in report.problems] == [
        "intent is longer than 64 characters",
        "content holds a NUL character",
        "metadata holds NaN or Infinity, which JSON cannot",
        "metadata holds an unpaired surrogate",
    ]
    assert set(KBDocument.objects.values_list("title", flat=True)) == {
        "Opening hours",
        "Gift cards",
    }


def test_an_abcd_subflow_with_an_action_that_is_no_object_is_a_problem(
    db: None, tmp_path: Path
) -> None:
    path = tmp_path / "guidelines.json"
    steps = [{"text": "Check the order."}]
    flows = {
        "Refunds": {"subflows": {"Start": {"actions": steps}, "Odd": {"actions": ["a string"]}}}
    }
    path.write_text(json.dumps(flows))
    report = ingest("abcd", path)
    assert report.created == 1
    assert [str(p) for p in report.problems] == ["Refunds/Odd:0: an action is not an object"]


def test_bitext_rows_missing_fields_are_skipped_with_line_numbers(db: None, tmp_path: Path) -> None:
    path = tmp_path / "responses.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["instruction", "intent", "category", "response", "release"])
        writer.writerow(
            ["how do I cancel?", "cancel_order", "ORDER", "Go to Orders.\nClick Cancel.", "v11"]
        )
        writer.writerow(["cancel it", "cancel_order", "ORDER", "", "v11"])
        writer.writerow(["where is it", "track_order", "ORDER", "Open Track order.", "v11"])
    report = ingest("bitext", path)
    assert [(p.line, p.reason) for p in report.problems] == [(4, "empty response")]
    titles = sorted(KBDocument.objects.values_list("title", flat=True))
    assert titles == ["Cancel order: overview", "Track order: overview"]


def test_unknown_source_and_missing_file_write_nothing(db: None, tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="unknown SOURCE 'pdf'"):
        ingest("pdf", tmp_path)
    with pytest.raises(SourceError, match="does not exist"):
        ingest("jsonl", tmp_path / "missing.jsonl")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match="CSV header lacks column"):
        ingest("bitext", tmp_path / "bad.csv")
    assert KBDocument.objects.count() == 0


def test_markdown_folder_with_front_matter(db: None, tmp_path: Path) -> None:
    (tmp_path / "faq").mkdir()
    (tmp_path / "faq" / "returns.md").write_text(
        "---\nintent: return_item\ncategory: REFUND\n---\n# Returns\n\nReturn within 30 days."
    )
    (tmp_path / "hours.txt").write_text("We answer within one business day.")
    (tmp_path / "empty.md").write_text("")
    report = ingest("markdown", tmp_path)
    assert report.created == 2
    assert [str(p) for p in report.problems] == ["empty.md:1: empty file"]
    doc = KBDocument.objects.get(external_id="faq/returns.md")
    assert (doc.title, doc.intent, doc.category) == ("Returns", "return_item", "REFUND")


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/datasets")
def test_abcd_guidelines_become_policy_articles(db: None) -> None:
    report = ingest("abcd", SHARED / "abcd" / "guidelines.json")
    flows = json.loads((SHARED / "abcd" / "guidelines.json").read_text())
    expected = sum(len(flow["subflows"]) for flow in flows.values())
    assert report.created == expected
    doc = KBDocument.objects.get(
        source=DocumentSource.POLICY, external_id="product-defect/initiate-refund"
    )
    assert doc.title == "Product Defect: Initiate Refund"
    assert "[Pull up Account]" in doc.content
    assert doc.embedding_status == EmbeddingStatus.READY


@pytest.mark.skipif(not SHARED.exists(), reason="needs ../shared/datasets")
def test_bitext_builds_curated_articles(db: None, tmp_path: Path) -> None:
    with (SHARED / "bitext" / "responses.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["intent"] in {"track_order", "get_refund"}]
    path = tmp_path / "subset.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = ingest("bitext", path)
    docs = KBDocument.objects.filter(source=DocumentSource.BITEXT)
    # one article per ~60 answers: 179 track_order rows -> 2, 185 get_refund rows -> 3
    assert report.created == docs.count() == 5
    questions = sum(len(d.metadata["questions"]) for d in docs)
    assert questions == len({" ".join(r["instruction"].lower().split()) for r in rows})
    assert all(d.title.startswith(("Track order: ", "Get refund: ")) for d in docs)
    assert all(d.intent in {"track_order", "get_refund"} for d in docs)


def test_ingest_kb_command(db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_jsonl(tmp_path / "kb.jsonl", [{"title": "Hours", "content": "9 to 5."}, "oops"])
    call_command("ingest_kb", "jsonl", str(path))
    out, err = capsys.readouterr()
    assert (
        out.strip().splitlines()[-1]
        == "created 1, updated 0, unchanged 0, skipped 1 (1 chunks embedded)"
    )
    assert "skipped kb.jsonl:2:" in err
    with pytest.raises(CommandError, match="unknown SOURCE"):
        call_command("ingest_kb", "csv", str(path))


def test_stored_vectors_are_the_model_vectors(db: None) -> None:
    """Chunks go in by binary COPY: the stored vector must be exactly what the model gave."""
    upsert_documents(ARTICLES[:1])
    chunk = KBChunk.objects.get(kind=ChunkKind.CONTENT, document__external_id="password")
    expected = embed_documents([chunk.text])[0]
    assert np.allclose(np.asarray(chunk.embedding), expected, atol=1e-6)
    assert chunk.text_hash == text_hash(chunk.text)
    assert "'password':4" in str(
        KBChunk.objects.filter(pk=chunk.pk).values_list("search_vector", flat=True)[0]
    )
