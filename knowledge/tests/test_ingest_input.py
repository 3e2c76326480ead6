"""Ingest reads files as people save them (a byte order mark, U+2028 inside a field, a front matter
left open, JSON nested past Python's recursion) and reports what it skips at the file's own line."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from knowledge.ingest import DocumentSpec, SourceError, ingest, upsert_documents
from knowledge.models import DocumentSource, KBDocument

BOM = "\ufeff"
HEADER = ["instruction", "intent", "category", "response"]


def _bitext(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def test_files_saved_with_a_byte_order_mark_are_read(db: None, tmp_path: Path) -> None:
    # Excel's "CSV UTF-8" and Notepad start the file with U+FEFF.
    csv_path = _bitext(
        tmp_path / "responses.csv",
        [["where is my parcel?", "track_order", "ORDER", "Open Track order."]],
        encoding="utf-8-sig",
    )
    jsonl = tmp_path / "kb.jsonl"
    lines = [{"title": "Hours", "content": "9 to 5."}, {"title": "Fees", "content": "None."}]
    jsonl.write_text(BOM + "\n".join(json.dumps(line) for line in lines) + "\n")
    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "returns.md").write_text(
        BOM + "---\nintent: return_item\ncategory: REFUND\n---\n# Returns\n\nWithin 30 days."
    )

    reports = [ingest("bitext", csv_path), ingest("jsonl", jsonl), ingest("markdown", folder)]

    assert [(r.created, r.problems) for r in reports] == [(1, []), (2, []), (1, [])]
    returns = KBDocument.objects.get(external_id="returns.md")
    assert (returns.intent, returns.category) == ("return_item", "REFUND")
    assert returns.content == "# Returns\n\nWithin 30 days."  # no front matter shown to customers


def test_a_front_matter_left_open_is_the_files_problem(db: None, tmp_path: Path) -> None:
    (tmp_path / "open.md").write_text("---\nintent: return_item\n# Returns\n\nWithin 30 days.")
    (tmp_path / "closed.md").write_text("---\nintent: track_order\n---\nOpen Track order.")
    (tmp_path / "empty_front_matter.md").write_text("---\n---\nWe answer within a day.")

    report = ingest("markdown", tmp_path)

    assert [str(p) for p in report.problems] == [
        "open.md:0: front matter opened by --- is not closed by a --- line"
    ]
    assert sorted(KBDocument.objects.values_list("external_id", "intent", "content")) == [
        ("closed.md", "track_order", "Open Track order."),
        ("empty_front_matter.md", "", "We answer within a day."),
    ]


def test_a_csv_field_holding_a_unicode_line_separator_stays_whole(db: None, tmp_path: Path) -> None:
    # csv quotes a field holding \r or \n, not one holding U+2028, \x85, \x0c or \x1c.
    answer = "Refunds take 5 days\u2028after approval.\x85Then\x0cthey\x1cshow."
    path = _bitext(
        tmp_path / "responses.csv",
        [
            ["I want my money back", "get_refund", "REFUND", answer],
            ["cancel it", "cancel_order", "ORDER", ""],
        ],
    )

    report = ingest("bitext", path)

    assert [(p.line, p.reason) for p in report.problems] == [(3, "empty response")]
    assert KBDocument.objects.get(intent="get_refund").content == answer


def test_jsonl_lines_end_at_newlines_only(db: None, tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    record = {"title": "Refunds", "content": "Refunds take 5 days\u2028after approval.\x85"}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n" + "oops\n")

    report = ingest("jsonl", path)

    assert [p.line for p in report.problems] == [2]
    assert KBDocument.objects.get().content == record["content"].strip()


def test_jsonl_nested_past_the_recursion_limit_is_that_lines_problem(
    db: None, tmp_path: Path, admin_client: Client
) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(
        "\n".join(
            [
                "[" * 100_000,
                json.dumps({"title": "Hours", "content": "9 to 5."}),
                '{"title": "Deep", "content": "c", "metadata": {"x": ' + "[" * 100_000 + "}",
                # json.loads takes 950 levels; encoding them again while writing did not.
                '{"title": "Deep", "content": "c", "metadata": {"x": '
                + "[" * 950
                + "]" * 950
                + "}}",
                '{"title": "Nested", "content": "c", "metadata": {"x": '
                + "[" * 99
                + "]" * 99
                + "}}",
            ]
        )
        + "\n"
    )

    report = ingest("jsonl", path)

    assert report.created == 2
    assert [str(p) for p in report.problems] == [
        "kb.jsonl:1: JSON nested too deeply",
        "kb.jsonl:3: JSON nested too deeply",
        "kb.jsonl:4: metadata nested deeper than 100 levels",
    ]
    (tmp_path / "guidelines.json").write_text("[" * 100_000)
    with pytest.raises(SourceError, match="nested too deeply"):
        ingest("abcd", tmp_path / "guidelines.json")
    with path.open("rb") as upload:
        response = admin_client.post(
            "/admin/knowledge/kbdocument/import/", {"source": "jsonl", "file": upload}
        )
    assert response.status_code == 302  # was a 500


def test_over_long_jsonl_title_or_external_id_is_reported_not_cut(db: None, tmp_path: Path) -> None:
    path = tmp_path / "kb.jsonl"
    lines = [
        {"title": "T" * 301, "content": "A title over the column's length."},
        {"title": "Hours", "content": "9 to 5.", "external_id": "x" * 201},
        {"title": "T" * 300, "content": "Exactly the column's length.", "external_id": "y" * 200},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")

    report = ingest("jsonl", path)

    assert [str(p) for p in report.problems] == [
        "kb.jsonl:1: title is longer than 300 characters",
        "kb.jsonl:2: external_id is longer than 200 characters",
    ]
    assert list(KBDocument.objects.values_list("external_id", flat=True)) == ["y" * 200]


def test_duplicates_and_unstorable_rows_are_reported_at_the_files_line(
    db: None, tmp_path: Path
) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text(
        "\n".join(
            [
                "",  # blank lines count as lines of the file
                json.dumps({"title": "Gift cards", "content": "Never expire.", "external_id": "g"}),
                "oops",
                json.dumps({"title": "Gift cards", "content": "Expire.", "external_id": "g"}),
                json.dumps({"title": "Hours", "content": "9 to 5.", "intent": "x" * 65}),
            ]
        )
        + "\n"
    )
    folder = tmp_path / "md"
    folder.mkdir()
    (folder / "a.md").write_text("Fine.")
    (folder / "b.md").write_text(f"---\ncategory: {'C' * 65}\n---\nToo long a category.")

    jsonl_report = ingest("jsonl", path)
    markdown_report = ingest("markdown", folder)

    assert [str(p) for p in jsonl_report.problems] == [
        "kb.jsonl:3: Expecting value: line 1 column 1 (char 0)",
        "kb.jsonl:4: duplicate external_id 'g'",
        "kb.jsonl:5: intent is longer than 64 characters",
    ]
    assert [str(p) for p in markdown_report.problems] == [
        "b.md:0: category is longer than 64 characters"
    ]
    assert KBDocument.objects.get(external_id="g").content == "Never expire."


def test_specs_given_directly_are_named_by_their_external_id_not_a_position(db: None) -> None:
    base: dict[str, Any] = {"source": DocumentSource.JSONL, "title": "Hours", "content": "9-5"}
    report = upsert_documents(
        [
            DocumentSpec(external_id="hours", **base),
            DocumentSpec(external_id="hours", **base),
            DocumentSpec(external_id="fees", intent="x" * 65, **base),
        ]
    )
    assert [str(p) for p in report.problems] == [
        "jsonl 'hours':0: duplicate external_id",
        "jsonl 'fees':0: intent is longer than 64 characters",
    ]


def test_bitext_rows_the_database_cannot_store_are_reported_at_their_line(
    db: None, tmp_path: Path
) -> None:
    path = _bitext(
        tmp_path / "responses.csv",
        [
            ["where is it", "track_order", "ORDER", "Open Track order."],
            ["cancel it", "c" * 65, "ORDER", "Go to Orders."],
        ],
    )
    report = ingest("bitext", path)
    assert [str(p) for p in report.problems] == [
        "responses.csv:3: intent is longer than 64 characters"
    ]
    assert report.created == 1


def test_the_command_reports_a_deeply_nested_line_and_goes_on(
    db: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "kb.jsonl"
    path.write_text("[" * 100_000 + "\n" + json.dumps({"title": "Hours", "content": "9-5"}))
    call_command("ingest_kb", "jsonl", str(path))
    out, err = capsys.readouterr()
    assert "skipped kb.jsonl:1: JSON nested too deeply" in err
    assert out.strip().splitlines()[-1].startswith("created 1,")
